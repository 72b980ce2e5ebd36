import Basics
import Engine
import Foundation

/// The files a DHCP converge has written so far, with what each held: when a later write
/// fails, every earlier one is put back, so a failed run leaves no DHCP file changed.
struct WrittenFiles {
    private var previous: [(path: String, text: String?, mode: mode_t)] = []
    /// Sees each write (tests).
    let recorder: EffectRecorder?

    init(recorder: EffectRecorder?) {
        self.recorder = recorder
    }

    static func effect(replacing path: String, with text: String, previous: String?) -> Effect {
        Effect("write \(path)", input: text, replacing: previous)
    }

    static func effect(appending text: String, to path: String) -> Effect { Effect("append to \(path)", input: text) }

    /// Replaces `path` with `text` atomically, keeping its mode.
    mutating func replace(_ path: String, with text: String, previous old: String?) throws {
        recorder?.record(Self.effect(replacing: path, with: text, previous: old))
        let mode = try Syscall.mode(path) ?? 0o644
        try AtomicFile.write(Data(text.utf8), to: path, mode: mode)
        previous.append((path, old, mode))
    }

    /// Appends `text` to `path` (dhcpd.conf is not rewritten for its include line).
    mutating func append(_ text: String, to path: String, previous old: String?) throws {
        recorder?.record(Self.effect(appending: text, to: path))
        let mode = try Syscall.mode(path) ?? 0o644
        guard let handle = FileHandle(forWritingAtPath: path) else { throw RunError("cannot open \(path) for appending") }
        defer { try? handle.close() }
        previous.append((path, old, mode))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
    }

    /// Puts every written file back as it was, newest first; returns what could not be.
    func restore() -> [String] {
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
