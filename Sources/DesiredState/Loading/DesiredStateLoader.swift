import Basics
import Crypto
import Foundation
import YAML

/// Reads a desired-state directory: finds the YAML files, decodes them on every core, then
/// runs the checks that span documents.
struct DesiredStateLoader {
    /// The directory itself could not be read.
    enum Error: Swift.Error, CustomStringConvertible {
        case notADirectory(String)
        case unreadable(String, String)

        var description: String {
            switch self {
            case .notADirectory(let path): "\(path): no such directory"
            case .unreadable(let path, let why): "\(path): cannot read: \(why)"
            }
        }
    }

    /// The YAML files of one directory, and the objects and problems each holds.
    struct FileResult: Sendable {
        var objects: [DecodedObject] = []
        var diagnostics: [Diagnostic] = []
        var digest = ""
        var size = 0
    }

    let directory: String
    /// The name messages use for `directory`.
    var displayedAs: String?

    /// Bounds on what one desired state may hold; past them loading stops with an error.
    enum Limits {
        /// One file: the 7,000-VM benchmark is 6.5 MB in all.
        static let fileBytes = 32 << 20
        static let totalBytes = 512 << 20
        static let files = 100_000
        /// Directories below the desired-state directory.
        static let directoryDepth = 32
    }

    func load() throws -> DesiredState {
        let walk = try walkFiles()
        let files = walk.files
        let results = Self.decodeConcurrently(files, displayed: files.map(displayName))
        var objects = results.flatMap(\.objects)
        var userData = UserDataFiles(loader: self)
        userData.resolve(&objects)
        var diagnostics = walk.diagnostics + results.flatMap(\.diagnostics) + userData.diagnostics
        let total = results.reduce(0) { $0 + $1.size }
        if total > Limits.totalBytes, let first = files.first {
            diagnostics.append(Diagnostic(SourceLocation(file: displayName(first), line: 1, column: 1),
                                          "the desired state holds \(total) bytes of YAML; the limit is \(Limits.totalBytes)"))
        }
        guard diagnostics.isEmpty else {
            throw InvalidDesiredState(diagnostics: diagnostics.sorted { $0.location < $1.location })
        }
        var validator = CrossDocumentValidator(objects: objects)
        var state = validator.validate(fileCount: files.count)
        state.revision = Self.revision(files: files + userData.files, digests: results.map(\.digest) + userData.digests, under: directory)
        guard validator.diagnostics.isEmpty else {
            throw InvalidDesiredState(diagnostics: validator.diagnostics.sorted { $0.location < $1.location })
        }
        return state
    }

    /// Paths of every `*.yaml`/`*.yml` below `directory`, sorted, skipping hidden entries
    /// (`.git` above all).
    func yamlFiles() throws -> [String] {
        let walk = try walkFiles()
        if !walk.diagnostics.isEmpty { throw InvalidDesiredState(diagnostics: walk.diagnostics) }
        return walk.files
    }

    /// The files found, and what stopped the walk from reading a directory.
    struct Walk {
        var files: [String] = []
        var diagnostics: [Diagnostic] = []
        /// Directories read, by device and inode: a symbolic link to one already read (`ln -s .
        /// loop`) is reported, never followed again.
        var visited: [DirectoryID: String] = [:]
    }

    struct DirectoryID: Hashable {
        var device: UInt64
        var inode: UInt64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    func walkFiles() throws -> Walk {
        guard let info = try? Syscall.status(directory), info.st_mode & S_IFMT == S_IFDIR else {
            throw Error.notADirectory(directory)  // missing, unreadable or not a directory: nothing loads
        }
        var walk = Walk()
        let root = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        walk.visited[DirectoryID(info)] = root
        try collectYAMLFiles(in: root, depth: 0, into: &walk)
        walk.files.sort()
        return walk
    }

    /// Walks one directory with readdir(3), whose entry types spare a stat per file.
    private func collectYAMLFiles(in path: String, depth: Int, into walk: inout Walk) throws {
        guard let handle = opendir(path) else {
            throw Error.unreadable(path, String(cString: strerror(errno)))
        }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard !name.hasPrefix(".") else { continue }
            let child = path + "/" + name
            var type = Int32(entry.pointee.d_type)
            var info = stat()
            if type == DT_UNKNOWN || type == DT_LNK || type == DT_DIR {
                guard let found = try Syscall.status(child) else { continue }  // a dangling link declares nothing
                info = found
                type = info.st_mode & S_IFMT == S_IFDIR ? Int32(DT_DIR) : info.st_mode & S_IFMT == S_IFREG ? Int32(DT_REG) : type
            }
            if type == DT_DIR {
                let here = SourceLocation(file: displayName(child), line: 1, column: 1)
                if let earlier = walk.visited[DirectoryID(info)] {
                    walk.diagnostics.append(Diagnostic(here, "a symbolic link to the directory \(displayName(earlier)), which is already read; a directory is read once"))
                } else if depth + 1 > Limits.directoryDepth {
                    walk.diagnostics.append(Diagnostic(here, "directories nested deeper than \(Limits.directoryDepth) levels"))
                } else {
                    walk.visited[DirectoryID(info)] = child
                    try collectYAMLFiles(in: child, depth: depth + 1, into: &walk)
                }
            } else if type == DT_REG, name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                guard walk.files.count < Limits.files else {
                    walk.diagnostics.append(Diagnostic(SourceLocation(file: displayName(child), line: 1, column: 1),
                                                       "more than \(Limits.files) YAML files"))
                    return
                }
                walk.files.append(child)
            } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                // A FIFO would wait for a writer for ever: refused, never opened.
                walk.diagnostics.append(Diagnostic(SourceLocation(file: displayName(child), line: 1, column: 1),
                                                   "this is not a regular file (a FIFO, a device or a socket); it was not opened for reading"))
            }
        }
    }

    /// Decodes files in parallel; results keep the order of `files`.
    /// How messages name a file: below `displayedAs` when given.
    func displayName(_ file: String) -> String {
        guard let displayedAs else { return file }
        let relative = file.dropFirst(directory.hasSuffix("/") ? directory.count : directory.count + 1)
        return displayedAs.isEmpty || displayedAs == "." ? String(relative) : "\(displayedAs)/\(relative)"
    }

    static func decodeConcurrently(_ files: [String], displayed: [String]) -> [FileResult] {
        Array(zip(files, displayed)).concurrentMap { decodeFile($0.0, displayed: $0.1) }
    }

    /// Combines per-file digests with paths relative to `directory`.
    static func revision(files: [String], digests: [String], under directory: String) -> String {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        var hasher = SHA256()
        for (file, digest) in zip(files, digests) {
            hasher.update(data: Data("\(file.dropFirst(prefix.count))\0\(digest)\n".utf8))
        }
        return "sha256:" + hex(hasher.finalize()).prefix(16)
    }


    static func decodeFile(_ path: String, displayed: String) -> FileResult {
        let context = FileContext(path: displayed)
        let data: Data
        do {
            data = try BoundedFile.read(path, limit: Limits.fileBytes)
        } catch let tooLarge as BoundedFile.TooLarge {
            context.report(Mark(line: 1, column: 1), "this file is \(tooLarge.size) bytes; the limit is \(tooLarge.limit)")
            return FileResult(diagnostics: context.diagnostics)
        } catch is BoundedFile.NotRegular {
            context.report(Mark(line: 1, column: 1), "this is not a regular file (a FIFO, a device or a socket); it was not opened for reading")
            return FileResult(diagnostics: context.diagnostics)
        } catch {
            let why = (error as? SystemError).map { String(cString: strerror($0.code)) } ?? "\(error)"
            context.report(Mark(line: 1, column: 1), "cannot read this file: \(why)")
            return FileResult(diagnostics: context.diagnostics)
        }
        let text = [UInt8](data)
        let digest = hex(SHA256.hash(data: data))
        var objects: [DecodedObject] = []
        do {
            for document in try YAMLParser.parse(text) {
                if let object = DocumentDecoder.decode(document, context: context) { objects.append(object) }
            }
        } catch {
            if let tab = TabIndentation.find(in: text, near: error.mark) {
                context.report(tab, TabIndentation.message)
            } else {
                context.report(error.mark, error.message)
            }
        }
        return FileResult(objects: objects, diagnostics: context.diagnostics, digest: digest, size: data.count)
    }
}

extension DesiredStateLoader {
    /// The Host documents, read before (and much faster than) the whole directory: only the
    /// files that mention `Host` are decoded. Providers use it to start reading live state
    /// while the rest loads; nil when those files do not decode cleanly.
    func declaredHosts() -> [Node]? {
        guard let files = try? yamlFiles() else { return nil }
        let candidates = files.concurrentMap { file -> Bool in
            // Only a head start: a file that cannot be read here is reported by the full load.
            guard let data = try? BoundedFile.read(file, limit: Limits.fileBytes) else { return false }
            // A plain byte loop: Data's generic search costs as much as decoding the file.
            return data.withUnsafeBytes { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                guard bytes.count >= 4 else { return false }
                for index in 0...(bytes.count - 4) where bytes[index] == UInt8(ascii: "H") {
                    if bytes[index + 1] == UInt8(ascii: "o"), bytes[index + 2] == UInt8(ascii: "s"), bytes[index + 3] == UInt8(ascii: "t") {
                        return true
                    }
                }
                return false
            }
        }
        let hostFiles = zip(files, candidates).filter(\.1).map(\.0)
        let results = Self.decodeConcurrently(hostFiles, displayed: hostFiles)
        guard results.allSatisfy({ $0.diagnostics.isEmpty }) else { return nil }
        return results.flatMap(\.objects).compactMap { object in
            if case .host(let node) = object.value { return node }
            return nil
        }
    }
}
