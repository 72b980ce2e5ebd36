import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that readers see the old content or the new, never a mix: a temporary
/// file beside the target, fsync, rename, fsync of the directory.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(directory.isEmpty ? "." : directory)/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let descriptor = try Syscall.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: mode)
        do {
            defer { close(descriptor) }
            try data.withUnsafeBytes { buffer in
                guard let base = buffer.baseAddress else { return }  // empty: nothing to write
                var offset = 0
                while offset < buffer.count {
                    offset += try Syscall.check("write \(temporary)") { Glibc.write(descriptor, base + offset, buffer.count - offset) }
                }
            }
            try Syscall.check("fsync \(temporary)") { fsync(descriptor) }
            try Syscall.check("rename \(temporary) to \(path)") { rename(temporary, path) }
        } catch {
            try? Syscall.unlinkIfPresent(temporary)  // the failure is the error to report
            throw error
        }
        // The rename made durable; a directory that cannot be synced still holds the new file.
        if let directoryDescriptor = try? Syscall.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}
