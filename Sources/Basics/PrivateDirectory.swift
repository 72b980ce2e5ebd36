import Foundation

/// A new directory under the system's temporary directory that only its owner can read
/// (0700): what reconcile stages there (candidate hosts files, exported desired state) may
/// hold every reservation, and a killed run leaves it behind.
public enum PrivateDirectory {
    public static func make(prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        return url
    }
}
