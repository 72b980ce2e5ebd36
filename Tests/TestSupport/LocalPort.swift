import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ports for servers a test starts on the loopback.
///
/// A random port can be taken: by another server, or by a client's connection, whose local port
/// the kernel picks from `ip_local_port_range` (32768–60999 here). So a port comes from below
/// that range and is one a bind succeeds on now, with the next `following` ports too (a daemon's
/// webhook listener takes the port after its own).
public enum LocalPort {
    public static func unused(following: Int = 0) -> Int {
        while true {
            let port = Int.random(in: 20_000...(32_000 - following))
            if (port...(port + following)).allSatisfy(canBind) { return port }
        }
    }

    /// Whether a TCP socket binds to `port` on every address (so on the loopback too).
    static func canBind(_ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = INADDR_ANY
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
