import Basics
import CNetfilter
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A netlink or namespace call failed: what, and errno's text.
public struct NetfilterFailure: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: Int32

    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// Runs `body` in network namespace `netns` (empty: this process's). setns(2) moves only the
/// calling thread, so callers run this on a thread of their own that ends with the work.
func inNamespace<T>(_ netns: String, _ body: () throws(NetfilterFailure) -> T) throws(NetfilterFailure) -> T {
    guard !netns.isEmpty else { return try body() }
    let path = "/run/netns/\(netns)"
    let descriptor: Int32
    do {
        descriptor = try Syscall.open(path, O_RDONLY | O_CLOEXEC)
    } catch {
        throw NetfilterFailure(operation: error.operation, code: error.code)
    }
    defer { close(descriptor) }
    guard reconcile_enter_network_namespace(descriptor) == 0 else {
        throw NetfilterFailure(operation: "enter network namespace \(netns)", code: errno)
    }
    return try body()
}
