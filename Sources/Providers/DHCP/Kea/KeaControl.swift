import Basics
import Engine
import Foundation

/// Kea's control channel: one JSON command per connection over its unix socket, answered with
/// one JSON object (`result`, `text`, `arguments`); Kea closes the connection after it.
///
/// The socket is a path, so it is reached from any network namespace. Every call runs on a
/// thread of its own (``EarlyRead``): the cooperative pool never waits on Kea.
struct KeaControl: Sendable {
    let socket: String
    /// A whole `config-get` of 7,000 reservations is ~3 MiB; this bounds a runaway peer.
    static let responseLimit = 64 << 20
    /// Seconds one whole exchange may take, connecting to the last byte: a peer sending a
    /// byte every 20 s never trips a per-read timeout, but it trips this.
    let deadline: Double
    /// Sees each command sent (tests).
    let recorder: EffectRecorder?

    init(socket: String, deadline: Double = 60, recorder: EffectRecorder? = nil) {
        self.socket = socket
        self.deadline = deadline
        self.recorder = recorder
    }

    /// Sending `request` (a command's JSON), as an effect.
    func effect(_ request: Data) -> Effect { Effect("kea control \(socket)", input: String(decoding: request, as: UTF8.self)) }

    /// The JSON of a command without arguments, as ``send(_:arguments:)`` sends it.
    static func request(_ command: String) -> Data { Data("{\"command\":\"\(command)\"}".utf8) }

    struct Response: Sendable {
        /// 0 success, 1 error, 2 unsupported, 3 empty (Kea's codes).
        var result: Int
        var text: String
        /// The whole answer as Kea sent it.
        var json: Data

        /// The answer's `arguments` object, parsed from ``json`` when asked for.
        var arguments: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: json) as? [String: Any])?["arguments"] as? [String: Any]
        }
    }

    func send(_ command: String, arguments: [String: Any]? = nil) async throws -> Response {
        let request = try arguments.map { try JSONSerialization.data(withJSONObject: ["command": command, "arguments": $0]) } ?? Self.request(command)
        recorder?.record(effect(request))
        let socket = self.socket
        let deadline = self.deadline
        let data = try await EarlyRead { try Self.exchange(request, over: socket, deadline: deadline) }.value()
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let result = object["result"] as? Int else {
            throw RunError("Kea's control socket \(socket) answered \(command) with something that is not Kea's JSON: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        return Response(result: result, text: object["text"] as? String ?? "", json: data)
    }

    /// Sends `command` and fails with Kea's own text unless it succeeds.
    func run(_ command: String, arguments: [String: Any]? = nil) async throws -> Response {
        let response = try await send(command, arguments: arguments)
        guard response.result == 0 else { throw RunError("Kea refused \(command): \(response.text)") }
        return response
    }

    private static func exchange(_ request: Data, over path: String, deadline seconds: Double) throws -> Data {
        let end = Date().addingTimeInterval(seconds)
        let late = RunError("Kea's control socket \(path) did not complete the exchange within \(Int(seconds)) s")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw RunError("Kea's control socket path \(path) is longer than \(capacity - 1) bytes") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        let descriptor = try Syscall.check("socket") { Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        defer { close(descriptor) }
        // Before each call, the socket's timeouts are what is left of the deadline.
        func leftOrLate() throws {
            let left = end.timeIntervalSinceNow
            guard left > 0 else { throw late }
            var timeout = timeval(tv_sec: Int(left), tv_usec: Int((left - left.rounded(.down)) * 1e6))
            for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
                try Syscall.check("set the timeouts of \(path)") { setsockopt(descriptor, SOL_SOCKET, option, &timeout, socklen_t(MemoryLayout<timeval>.size)) }
            }
        }
        try leftOrLate()
        do {
            try Syscall.check("connect to \(path)", retryingInterrupted: false) {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
        } catch {
            throw RunError("cannot reach Kea's control socket \(path): \(String(cString: strerror(error.code))) (is kea-dhcp4 running with this control-socket?)")
        }
        /// A call that ran out of the socket's timeout is the deadline passing.
        func transfer(_ operation: String, _ call: () -> Int) throws -> Int {
            do {
                return try Syscall.check(operation, call)
            } catch {
                if error.code == EAGAIN || error.code == EWOULDBLOCK { throw late }
                throw error
            }
        }
        try request.withUnsafeBytes { bytes in
            var sent = 0
            guard let base = bytes.baseAddress else { return }
            while sent < bytes.count {
                try leftOrLate()
                sent += try transfer("send to \(path)") { Glibc.send(descriptor, base + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            }
        }
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            try leftOrLate()
            let count = try transfer("read from \(path)") { recv(descriptor, &buffer, buffer.count, 0) }
            if count == 0 { break }
            response.append(contentsOf: buffer[..<count])
            guard response.count <= responseLimit else { throw RunError("Kea's answer on \(path) is larger than \(responseLimit >> 20) MiB") }
        }
        return response
    }
}
