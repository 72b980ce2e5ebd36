import Basics
import Foundation

/// One libvirt connection for async code, with an executor of its own: every call runs on the
/// session's serial queue, so a slow libvirtd, a multi-GB volume upload or QEMU slow to die
/// never holds a thread of the cooperative pool (which the daemon's HTTP side shares).
///
/// The connection is opened by the first call and closed with the session: the test driver
/// keeps its state only while a connection is open, and a daemon connection is costly to open.
/// It never leaves the queue, so libvirt's per-thread last error is read where the call failed.
public final class LibvirtSession: Sendable {
    public let uri: String
    private let queue: DispatchQueue
    private let connection = Locked<Connection?>(nil)
    /// Given to the connection (tests: see ``Connection/recorder``).
    private let recorder: EffectRecorder?

    public init(uri: String, recorder: EffectRecorder? = nil) {
        self.uri = uri
        self.recorder = recorder
        queue = DispatchQueue(label: "reconcile.libvirt")
    }

    /// Runs `body` with the connection on the session's queue; the caller suspends meanwhile.
    public func call<Value: Sendable>(_ body: @escaping @Sendable (Connection) throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Result { try body(open()) })
            }
        }
    }

    private func open() throws -> Connection {
        try connection.withLock { connection in
            if let connection { return connection }
            let opened = try Connection(uri: uri)
            opened.recorder = recorder
            connection = opened
            return opened
        }
    }
}

extension Effect {
    /// A libvirt call that changes something: `libvirt define`, `libvirt start cpro0007`.
    public static func libvirt(_ call: String, input: String = "", replacing: String? = nil) -> Effect {
        Effect("libvirt \(call)", input: input, replacing: replacing)
    }
}
