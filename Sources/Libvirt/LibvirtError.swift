import CLibvirt

/// A libvirt call failed: what was attempted and libvirt's own message.
public struct LibvirtError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var message: String
    /// The object named does not exist (`VIR_ERR_NO_DOMAIN`, `VIR_ERR_NO_STORAGE_POOL`, …).
    public var isNotFound: Bool

    public var description: String { "\(operation): \(message)" }

    /// Reads libvirt's last error. libvirt keeps it per OS thread, so this must run in the
    /// same synchronous call as the function that failed, never after an `await`.
    static func last(_ operation: String) -> LibvirtError {
        guard let error = virGetLastError() else {
            return LibvirtError(operation: operation, message: "unknown error", isNotFound: false)
        }
        let code = Int(error.pointee.code)
        let notFound = [VIR_ERR_NO_DOMAIN, VIR_ERR_NO_STORAGE_POOL, VIR_ERR_NO_STORAGE_VOL, VIR_ERR_NO_NETWORK]
            .contains { Int($0.rawValue) == code }
        let message = error.pointee.message.map { String(cString: $0) } ?? "error \(code)"
        return LibvirtError(operation: operation, message: message, isNotFound: notFound)
    }

    /// Throws libvirt's last error when `code` is negative.
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(LibvirtError) {
        if code < 0 { throw last(operation()) }
    }
}
