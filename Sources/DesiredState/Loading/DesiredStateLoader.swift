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
    }

    let directory: String
    /// The name messages use for `directory`.
    var displayedAs: String?

    func load() throws -> DesiredState {
        let files = try yamlFiles()
        let results = Self.decodeConcurrently(files, displayed: files.map(displayName))
        let objects = results.flatMap(\.objects)
        var diagnostics = results.flatMap(\.diagnostics)
        var validator = CrossDocumentValidator(objects: objects)
        var state = validator.validate(fileCount: files.count)
        state.revision = Self.revision(files: files, digests: results.map(\.digest), under: directory)
        diagnostics += validator.diagnostics
        guard diagnostics.isEmpty else {
            throw InvalidDesiredState(diagnostics: diagnostics.sorted { $0.location < $1.location })
        }
        return state
    }

    /// Paths of every `*.yaml`/`*.yml` below `directory`, sorted, skipping hidden entries
    /// (`.git` above all).
    func yamlFiles() throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Error.notADirectory(directory)
        }
        var files: [String] = []
        try collectYAMLFiles(in: directory.hasSuffix("/") ? String(directory.dropLast()) : directory, into: &files)
        return files.sorted()
    }

    /// Walks one directory with readdir(3), whose entry types spare a stat per file.
    private func collectYAMLFiles(in path: String, into files: inout [String]) throws {
        guard let handle = opendir(path) else {
            throw Error.unreadable(path, String(cString: strerror(errno)))
        }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard !name.hasPrefix(".") else { continue }
            let child = path + "/" + name
            var type = Int32(entry.pointee.d_type)
            if type == DT_UNKNOWN || type == DT_LNK {
                var info = stat()
                guard stat(child, &info) == 0 else { continue }  // a dangling link declares nothing
                type = info.st_mode & S_IFMT == S_IFDIR ? Int32(DT_DIR) : info.st_mode & S_IFMT == S_IFREG ? Int32(DT_REG) : type
            }
            if type == DT_DIR {
                try collectYAMLFiles(in: child, into: &files)
            } else if type == DT_REG, name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                files.append(child)
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

    /// Lower-case hex; String(format:) costs microseconds per byte on Linux.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes { text += [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]] }
        return String(decoding: text, as: UTF8.self)
    }

    static func decodeFile(_ path: String, displayed: String) -> FileResult {
        let context = FileContext(path: displayed)
        guard let data = FileManager.default.contents(atPath: path) else {
            context.report(Mark(line: 1, column: 1), "cannot read this file")
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
        return FileResult(objects: objects, diagnostics: context.diagnostics, digest: digest)
    }
}

extension DesiredStateLoader {
    /// The Host documents, read before (and much faster than) the whole directory: only the
    /// files that mention `Host` are decoded. Providers use it to start reading live state
    /// while the rest loads; nil when those files do not decode cleanly.
    func declaredHosts() -> [Node]? {
        guard let files = try? yamlFiles() else { return nil }
        let candidates = files.concurrentMap { file -> Bool in
            guard let data = FileManager.default.contents(atPath: file) else { return false }
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
