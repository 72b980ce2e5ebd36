import Basics
import Crypto
import Foundation

/// An OpenSSH `known_hosts` file: which host keys an ssh:// remote may present. Plain
/// (`host`, `[host]:port`, comma-separated) and hashed (`|1|salt|hash`) names are read;
/// `@revoked` keys are refused, `@cert-authority` lines ignored.
public struct KnownHosts: Sendable {
    struct Entry: Sendable {
        var names: [String]
        var key: Data
        var revoked: Bool
    }

    let entries: [Entry]
    public let path: String

    /// Reads `path`. A file that does not exist lists no host (every server is refused); one
    /// that cannot be read is an error, never an empty list.
    public init(path: String) throws(GitError) {
        self.path = path
        var text = ""
        do {
            text = String(decoding: try BoundedFile.read(path, limit: 16 << 20), as: UTF8.self)
        } catch let error as SystemError where error.code == ENOENT {
            text = ""
        } catch {
            throw GitError(operation: "read known hosts \(path)", message: "\(error)", isNotFound: false)
        }
        entries = text.split(separator: "\n").compactMap { line -> Entry? in
            var fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#") else { return nil }
            var revoked = false
            if first.hasPrefix("@") {
                guard first == "@revoked" else { return nil }
                revoked = true
                fields.removeFirst()
            }
            guard fields.count >= 3, let key = Data(base64Encoded: fields[2]) else { return nil }
            return Entry(names: fields[0].split(separator: ",").map(String.init), key: key, revoked: revoked)
        }
    }

    /// Whether `key` (the raw host key) is known for `host` on `port`.
    public func accepts(host: String, port: Int?, key: Data) -> Bool {
        let name = port == nil || port == 22 ? host : "[\(host)]:\(port ?? 22)"
        let matching = entries.filter { $0.key == key && $0.names.contains { Self.matches($0, name) } }
        return !matching.isEmpty && !matching.contains(where: \.revoked)
    }

    private static func matches(_ pattern: String, _ name: String) -> Bool {
        guard pattern.hasPrefix("|1|") else { return pattern == name }
        let parts = pattern.dropFirst(3).split(separator: "|")
        guard parts.count == 2, let salt = Data(base64Encoded: String(parts[0])), let hash = Data(base64Encoded: String(parts[1])) else {
            return false
        }
        return Data(HMAC<Insecure.SHA1>.authenticationCode(for: Data(name.utf8), using: SymmetricKey(data: salt))) == hash
    }
}
