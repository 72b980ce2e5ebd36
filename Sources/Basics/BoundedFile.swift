import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading a whole file that must not be larger than a limit: the size is checked before a
/// byte is read, so a 10 GB file (or `/dev/zero` behind a link) fails at once.
public enum BoundedFile {
    public struct TooLarge: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var size: Int
        public var limit: Int

        public var description: String { "\(path) is \(size) bytes; the limit is \(limit) bytes" }
    }

    /// A FIFO, a device, a socket or a directory where a file was expected.
    public struct NotRegular: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var description: String { "\(path) is not a regular file" }
    }

    /// The file's bytes. Throws ``SystemError`` (ENOENT included), ``NotRegular`` or ``TooLarge``.
    public static func read(_ path: String, limit: Int) throws -> Data {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        let descriptor = try Syscall.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        defer { close(descriptor) }
        var info = stat()
        try Syscall.check("stat \(path)") { fstat(descriptor, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw NotRegular(path: path) }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        guard Int(info.st_size) <= limit else { throw TooLarge(path: path, size: Int(info.st_size), limit: limit) }
        // The kernel's files (/proc, /sys) say they are empty and are not: read to their end.
        if info.st_size == 0 { return try readToEnd(descriptor, path: path, limit: limit) }
        var data = Data(count: Int(info.st_size))
        var offset = 0
        let failure: Int32? = data.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return nil }
            while offset < buffer.count {
                let count = Glibc.read(descriptor, base + offset, buffer.count - offset)
                if count < 0, errno == EINTR { continue }
                if count < 0 { return errno }
                if count == 0 { break }  // the file shrank while read
                offset += count
            }
            return nil
        }
        if let failure { throw SystemError(operation: "read \(path)", code: failure) }
        return data.prefix(offset)
    }

    /// Reads in pages until the end, failing once more than `limit` bytes came.
    private static func readToEnd(_ descriptor: Int32, path: String, limit: Int) throws -> Data {
        var data = Data()
        var page = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = Glibc.read(descriptor, &page, page.count)
            if count < 0, errno == EINTR { continue }
            if count < 0 { throw SystemError.lastError("read \(path)") }
            if count == 0 { return data }
            data.append(contentsOf: page[..<count])
            if data.count > limit { throw TooLarge(path: path, size: data.count, limit: limit) }
        }
    }
}
