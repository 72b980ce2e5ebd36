import Basics
import Crypto
import Foundation

/// Reads the files VMs name as `cloudInit.userDataFile` into their user data, each file once,
/// and checks them as inline user data is checked, with their own paths and lines in messages.
struct UserDataFiles {
    let loader: DesiredStateLoader
    private(set) var diagnostics: [Diagnostic] = []
    /// The files read (full paths) and their SHA-256, for the revision.
    private(set) var files: [String] = []
    private(set) var digests: [String] = []
    private var read: [String: String?] = [:]

    init(loader: DesiredStateLoader) {
        self.loader = loader
    }

    mutating func resolve(_ objects: inout [DecodedObject]) {
        for index in objects.indices {
            guard case .virtualMachine(var vm) = objects[index].value, var cloudInit = vm.cloudInit,
                  let file = cloudInit.userDataFile, let location = cloudInit.userDataFileLocation else { continue }
            if read[file] == nil { read[file] = .some(load(file, namedAt: location)) }
            guard let text = read[file] ?? nil else { continue }
            cloudInit.userData = text
            vm.cloudInit = cloudInit
            objects[index].value = .virtualMachine(vm)
        }
    }

    private mutating func load(_ file: String, namedAt location: SourceLocation) -> String? {
        let root = loader.directory.hasSuffix("/") ? String(loader.directory.dropLast()) : loader.directory
        let path = root + "/" + file
        let shown = loader.displayName(path)
        func fail(_ message: String) -> String? {
            diagnostics.append(Diagnostic(location, "cloudInit.userDataFile \"\(file)\": \(message)"))
            return nil
        }
        // A symbolic link may not lead out of the desired state (to /etc/shadow, say).
        func resolved(_ path: String) -> String? {
            guard let pointer = realpath(path, nil) else { return nil }
            defer { free(pointer) }
            return String(cString: pointer)
        }
        guard let real = resolved(path), let realRoot = resolved(root) else {
            return fail("no such file in the desired state")
        }
        guard real.hasPrefix(realRoot + "/") else { return fail("leads outside the desired-state directory (to \(real))") }
        let data: Data
        do {
            data = try BoundedFile.read(path, limit: CloudInit.Limits.userDataBytes)
        } catch let tooLarge as BoundedFile.TooLarge {
            return fail("the file is \(tooLarge.size) bytes; the limit is \(tooLarge.limit)")
        } catch is BoundedFile.NotRegular {
            return fail("not a regular file (a FIFO, a device or a socket)")
        } catch {
            return fail("cannot read it: \((error as? SystemError).map { String(cString: strerror($0.code)) } ?? "\(error)")")
        }
        guard let text = String(data: data, encoding: .utf8),
              !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" && $0 != "\r" })
        else {
            return fail("user data must be UTF-8 text without control characters")
        }
        if let (line, message) = CloudInit.problem(inUserData: text) {
            diagnostics.append(Diagnostic(SourceLocation(file: shown, line: line, column: 1), message))
            return nil
        }
        files.append(path)
        digests.append(hex(SHA256.hash(data: data)))
        return text
    }
}
