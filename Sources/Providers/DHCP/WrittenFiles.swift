import Basics
import Engine
import Foundation

/// One file a DHCP converge writes, as it writes it; its ``effect`` is what `--show-commands` shows.
enum FileWrite {
    /// The file replaced whole (atomically, keeping its mode).
    case replace(FileChange)
    /// Only the lines the change adds at the end are appended (dhcpd.conf is not rewritten
    /// for its include line).
    case append(FileChange)
    /// What the change replaces, copied beside it first (`<file>.reconcile-backup-<time>`).
    case backup(FileChange)
    /// The file removed (it held `previous`).
    case remove(path: String, previous: String?)

    var effect: Effect {
        switch self {
        case .replace(let change): Effect("write \(change.path)", input: change.content, replacing: change.previous)
        case .append(let change): Effect("append to \(change.path)", input: Self.added(change))
        case .backup(let change): Effect("back up \(change.path) to \(change.path).reconcile-backup-<time>", input: change.previous ?? "")
        case .remove(let path, _): Effect("remove \(path)")
        }
    }

    private static func added(_ change: FileChange) -> String { String(change.content.dropFirst((change.previous ?? "").count)) }

    /// Writes it, remembering in `written` what it replaces.
    func perform(recording written: inout WrittenFiles) throws {
        written.recorder?.record(effect)
        switch self {
        case .replace(let change):
            let mode = try Syscall.mode(change.path) ?? 0o644
            try AtomicFile.write(Data(change.content.utf8), to: change.path, mode: mode)
            written.note(change.path, held: change.previous, mode: mode)
        case .append(let change):
            let mode = try Syscall.mode(change.path) ?? 0o644
            guard let handle = FileHandle(forWritingAtPath: change.path) else { throw RunError("cannot open \(change.path) for appending") }
            defer { try? handle.close() }
            written.note(change.path, held: change.previous, mode: mode)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(Self.added(change).utf8))
            try handle.synchronize()
        case .backup(let change):
            try AtomicFile.write(Data((change.previous ?? "").utf8), to: "\(change.path).reconcile-backup-\(Int(Date().timeIntervalSince1970))", mode: 0o600)
        case .remove(let path, let previous):
            written.note(path, held: previous, mode: try Syscall.mode(path) ?? 0o644)
            try Syscall.unlinkIfPresent(path)
        }
    }
}

/// The files a DHCP converge has written so far, with what each held: when a later write
/// fails, every earlier one is put back, so a failed run leaves no DHCP file changed.
struct WrittenFiles {
    private var previous: [(path: String, text: String?, mode: mode_t)] = []
    /// Sees each write (tests).
    let recorder: EffectRecorder?

    init(recorder: EffectRecorder?) {
        self.recorder = recorder
    }

    /// Performs `writes` in order; when one fails, puts back every file written before it and
    /// throws, saying whether that worked.
    mutating func perform(_ writes: [FileWrite]) throws {
        do {
            for write in writes { try write.perform(recording: &self) }
        } catch {
            let unrestored = restore()
            throw RunError("\(error); " + (unrestored.isEmpty ? "every file written before it was put back" : "could not put back \(unrestored.joined(separator: "; "))"))
        }
    }

    fileprivate mutating func note(_ path: String, held text: String?, mode: mode_t) { previous.append((path, text, mode)) }

    /// Puts every written file back as it was, newest first; returns what could not be.
    private func restore() -> [String] {
        previous.reversed().compactMap { file in
            do {
                if let text = file.text {
                    try AtomicFile.write(Data(text.utf8), to: file.path, mode: file.mode)
                } else {
                    try Syscall.unlinkIfPresent(file.path)
                }
                return nil
            } catch {
                return "\(file.path): \(error)"
            }
        }
    }
}
