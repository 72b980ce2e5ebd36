import Foundation

/// Runs external programs from argument arrays, never through a shell.
///
/// Inject it where a provider runs commands, so the network namespace (`ip netns exec`) is
/// one decision in one place.
public struct CommandRunner: Sendable {
    /// A command that exited non-zero: its arguments, status and stderr.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var arguments: [String]
        public var status: Int32
        public var stderr: String

        public var description: String {
            let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(arguments.joined(separator: " ")) exited \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        }
    }

    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs every command inside this network namespace when not empty.
    public var netns: String

    public init(netns: String = "") {
        self.netns = netns
    }

    /// Runs `arguments` (the first is looked up on PATH) and returns its output whatever the status.
    public func output(_ arguments: [String], input: Data? = nil) throws -> Output {
        let full = netns.isEmpty ? arguments : ["ip", "netns", "exec", netns] + arguments
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = full
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            try stdin.fileHandleForWriting.write(contentsOf: input)
            try stdin.fileHandleForWriting.close()
        }
        // Read stderr on another thread so neither pipe fills up and blocks the child.
        let errorData = ErrorCollector(stderr.fileHandleForReading)
        let outData = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errorData.wait(), as: UTF8.self)
        )
    }

    /// Runs `arguments` and returns its stdout; throws ``Failure`` when it exits non-zero.
    @discardableResult
    public func run(_ arguments: [String], input: Data? = nil) throws -> String {
        let result = try output(arguments, input: input)
        guard result.status == 0 else {
            throw Failure(arguments: arguments, status: result.status, stderr: result.stderr)
        }
        return result.stdout
    }
}

/// Drains a pipe on a background thread.
private final class ErrorCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
