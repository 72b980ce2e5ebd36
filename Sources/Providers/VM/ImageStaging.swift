import Basics
import Crypto
import DesiredState
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An Image fetched and checked before any of it reaches a pool, into a directory of its own
/// named by content (`<sha256>.<format>`), so that a run can stage it before it takes the
/// node's locks (a slow download must not hold libvirt) and the upload finds it there.
///
/// What is refused, with nothing left behind: a local file outside the Host's
/// `imageDirectories` once symbolic links are resolved, or not a regular file (a FIFO, a
/// device); more bytes than the Image's `maxSize` or than the staging file system can spare;
/// a download that stalls (below 1 byte/s for `stallTimeout`); bytes whose SHA-256 is not the
/// declared one (the message never shows the digest of what was read: it could be a host
/// secret's); an image that names a backing file or an external data file (QEMU would open
/// that file for the guest, and libvirt would hand it to QEMU's user).
public struct ImageStaging: Sendable {
    /// A directory only root reads (0700); staged files are removed once uploaded.
    public var directory: String
    /// Seconds a download may go without progress (connecting included) before it is stopped.
    public var stallTimeout: Int
    public var progress: @Sendable (String) -> Void

    /// Kept free on the staging file system whatever an Image's `maxSize` allows.
    static let reserve: UInt64 = 1 << 30

    public init(directory: String, stallTimeout: Int = 60, progress: @escaping @Sendable (String) -> Void) {
        self.directory = directory
        self.stallTimeout = stallTimeout
        self.progress = progress
    }

    /// What an upload step names: the image's source, checksum, format and size limit, and
    /// the volume of its `backingImage`, if it declares one.
    public typealias Request = ImageUpload

    public func path(of request: Request) -> String { "\(directory)/\(request.sha256).\(request.format.rawValue)" }

    /// The staged file of `request`, fetched and checked first unless it is already there.
    /// Cancelling the task stops a download and removes what it wrote.
    /// - Parameter allowed: the Host's `imageDirectories`.
    public func stage(_ request: Request, allowed: [String]) async throws -> String {
        let staged = path(of: request)
        if FileManager.default.fileExists(atPath: staged) {
            // Checked again: staged for an Image that declared a backingImage, it may be used
            // for one that no longer does.
            do {
                try Self.checkSelfContained(staged, request: request)
            } catch {
                try? Syscall.unlinkIfPresent(staged)  // the refusal is the error to report
                throw error
            }
            return staged
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let stop = Locked(false)
        let partial = staged + ".partial"
        try await withTaskCancellationHandler {
            try await EarlyRead { try fetch(request, to: partial, allowed: allowed, stop: stop) }.value()
        } onCancel: {
            stop.withLock { $0 = true }
        }
        try Syscall.check("rename \(partial)") { rename(partial, staged) }
        return staged
    }

    /// Removes what earlier runs left (a killed run's partial download); the caller holds the
    /// state directory's lock, so no other run writes here.
    public func removeLeftovers() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasSuffix(".partial") { try? Syscall.unlinkIfPresent("\(directory)/\(name)") }
    }

    private func fetch(_ request: Request, to partial: String, allowed: [String], stop: Locked<Bool>) throws {
        try Syscall.unlinkIfPresent(partial)
        let output = try Syscall.open(partial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o600, operation: "create \(partial)")
        var sink = Sink(descriptor: output, limit: try limit(request), source: request.source)
        do {
            defer { close(output) }
            if request.isURL {
                try download(request, into: &sink, stop: stop)
            } else {
                try copy(request.source, allowed: allowed, into: &sink, stop: stop)
            }
            guard hex(sink.hasher.finalize()) == request.sha256 else {
                throw RunError("the image from \(request.source) does not have the declared sha256 \(request.sha256); nothing was put into a pool")
            }
            try Syscall.check("fsync \(partial)") { fsync(output) }
            try Self.checkSelfContained(partial, request: request)
        } catch {
            try? Syscall.unlinkIfPresent(partial)  // the failure is the error to report
            throw error
        }
    }

    /// The Image's `maxSize`, or what the staging file system can give beyond its reserve.
    private func limit(_ request: Request) throws -> UInt64 {
        var info = statvfs()
        try Syscall.check("statvfs \(directory)") { statvfs(directory, &info) }
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        return min(request.maxSize, free > Self.reserve ? free - Self.reserve : 0)
    }

    /// Over http(s) with curl, which dies with the thread that started it (a killed run leaves
    /// no download behind), follows redirects only to http(s), and stops when it stalls.
    private func download(_ request: Request, into sink: inout Sink, stop: Locked<Bool>) throws {
        progress("image \(request.sha256.prefix(12)): downloading \(request.source)")
        let command = ["setpriv", "--pdeathsig", "KILL", "--", "curl", "--fail", "--silent", "--show-error", "--location",
                       "--proto", "=http,https", "--proto-redir", "=http,https", "--max-redirs", "5",
                       "--connect-timeout", "\(stallTimeout)", "--speed-limit", "1", "--speed-time", "\(stallTimeout)",
                       "--max-filesize", "\(sink.limit)", "--output", "-", request.source]
        // The whole exchange is bounded too: 32 GiB at 10 MB/s is under an hour.
        let result = try CommandRunner(timeout: 6 * 3600).stream(command, stop: stop) { try sink.write($0) }
        guard result.status == 0, result.timedOutAfter == nil else {
            // curl's 63: the server announced more than --max-filesize.
            if result.status == 63 { throw sink.tooLarge() }
            throw CommandRunner.Failure(command, result)
        }
    }

    /// A local file: opened first, then confined by what it really is (the descriptor's path),
    /// so no symbolic link or rename between the check and the read leads elsewhere.
    private func copy(_ path: String, allowed: [String], into sink: inout Sink, stop: Locked<Bool>) throws {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        let input = try Syscall.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, operation: "open the image \(path)")
        defer { close(input) }
        var info = stat()
        try Syscall.check("stat the image \(path)") { fstat(input, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw RunError("the image \(path) is not a regular file") }
        let real = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(input)")
        guard try Self.isConfined(real, to: allowed) else {
            throw RunError("the image \(path) is \(real), outside the directories its Host allows images from (\(allowed.joined(separator: ", ")))")
        }
        _ = fcntl(input, F_SETFL, fcntl(input, F_GETFL) & ~O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            if stop.withLock({ $0 }) { throw CancellationError() }
            let count = try Syscall.check("read the image \(path)") { read(input, &buffer, buffer.count) }
            guard count > 0 else { return }
            try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }

    /// Whether an allowed directory (symbolic links resolved) holds `real`; a directory every
    /// user may write into confines nothing and is refused.
    static func isConfined(_ real: String, to allowed: [String]) throws -> Bool {
        for directory in allowed {
            let root = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
            guard real.hasPrefix(root == "/" ? "/" : root + "/") else { continue }
            guard let info = try Syscall.status(root) else { throw SystemError(operation: "stat \(root)", code: ENOENT) }
            guard info.st_mode & S_IWOTH == 0 else { throw RunError("the image directory \(root) is writable by every user: it cannot hold Images") }
            return true
        }
        return false
    }

    /// Points a staged overlay's backing file at its backing Image's volume (`path`, read from
    /// libvirt): the header's own name is never used. Only the header changes (`rebase -u`).
    static func pointBacking(of file: String, to path: String, format: Image.Format) throws {
        try CommandRunner(timeout: 60).run(["qemu-img", "rebase", "-u", "-f", "qcow2", "-b", path, "-F", format.rawValue, file])
    }

    /// Refuses an image that names another file: QEMU opens a qcow2's backing file or data
    /// file by the name in its header, and libvirt gives it to QEMU's user. Read by
    /// `qemu-img info`, which opens neither (a raw image names nothing). A backing file is
    /// allowed only where the Image declares its `backingImage` (the upload then points it at
    /// that Image's volume, whatever the header said).
    static func checkSelfContained(_ path: String, request: Request) throws {
        guard request.format == .qcow2 else { return }
        let command = ["qemu-img", "info", "--output=json", "-f", "qcow2", path]
        let result = try CommandRunner(timeout: 60).output(command)
        guard result.status == 0, result.timedOutAfter == nil else {
            throw RunError("the image from \(request.source) is not a qcow2 image qemu-img can read: \(CommandRunner.Failure(command, result).stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        // Output that cannot be read says nothing about a backing file: refused, never taken as "none".
        guard let info = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] else {
            throw RunError("qemu-img info gave no JSON object for the image from \(request.source); nothing was put into a pool")
        }
        let data = ((info["format-specific"] as? [String: Any])?["data"] as? [String: Any]) ?? [:]
        switch (info["backing-filename"] as? String, request.backing) {
        case (let named?, nil):
            throw RunError("the image from \(request.source) names a backing file (\(named)) and declares no backingImage: an Image is self-contained "
                           + "(qemu-img convert makes one) or an overlay of a declared Image; nothing was put into a pool")
        case (nil, let declared?):
            throw RunError("the image from \(request.source) declares backingImage (\(declared.volume)) but names no backing file; nothing was put into a pool")
        default:
            break
        }
        if let external = data["data-file"] as? String {
            throw RunError("the image from \(request.source) names an external data file (\(external)): an Image must be self-contained; nothing was put into a pool")
        }
    }
}

/// Where staged bytes go: counted against the limit, hashed, written.
private struct Sink {
    let descriptor: Int32
    let limit: UInt64
    let source: String
    var hasher = SHA256()
    var written: UInt64 = 0

    init(descriptor: Int32, limit: UInt64, source: String) {
        (self.descriptor, self.limit, self.source) = (descriptor, limit, source)
    }

    func tooLarge() -> RunError {
        RunError("the image from \(source) is larger than \(ByteSize(bytes: limit)), the most its maxSize and the free space allow; it was stopped and nothing was put into a pool")
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        written += UInt64(bytes.count)
        guard written <= limit else { throw tooLarge() }
        hasher.update(bufferPointer: bytes)
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(descriptor, base + offset, bytes.count - offset)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw SystemError.lastError("write the staged image") }
            offset += count
        }
    }
}

extension ImageUpload {
    /// `image`'s request; `backing` is the Image its `backingImage` names.
    public init(_ image: Image, backing: Image?) {
        self.init(source: image.source, sha256: image.sha256, format: image.format, maxSize: image.maxSize.bytes,
                  backing: backing.map { Backing(volume: $0.volumeName, format: $0.format) })
    }

    var isURL: Bool { source.hasPrefix("http://") || source.hasPrefix("https://") }
}
