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
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw SystemError.lastError("open \(temporary)") }
        var failure: SystemError?
        data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }  // empty: nothing to write
            var offset = 0
            while offset < buffer.count, failure == nil {
                let written = Glibc.write(descriptor, base + offset, buffer.count - offset)
                if written < 0 { failure = .lastError("write \(temporary)") } else { offset += written }
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = .lastError("fsync \(temporary)") }
        close(descriptor)
        if failure == nil, rename(temporary, path) != 0 { failure = .lastError("rename \(temporary) to \(path)") }
        if let failure {
            unlink(temporary)
            throw failure
        }
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}
