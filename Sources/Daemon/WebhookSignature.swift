import Basics
import Crypto
import Foundation

/// GitHub/Gitea-style webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
public struct WebhookSignature: Sendable {
    let secret: Data

    public init(secret: Data) {
        self.secret = secret
    }

    private var key: SymmetricKey { SymmetricKey(data: secret) }

    /// Whether `header` is a valid signature of `body` (compared in constant time).
    public func isValid(_ header: String?, body: Data) -> Bool {
        guard let header, header.hasPrefix("sha256="), let mac = Self.bytes(hex: header.dropFirst(7)) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key)
    }

    /// The header value for `body`, as a sender computes it.
    public func header(for body: Data) -> String {
        "sha256=" + hex(HMAC<SHA256>.authenticationCode(for: body, using: key))
    }

    private static func bytes(hex: Substring) -> Data? {
        guard hex.count == 64 else { return nil }
        var data = Data(capacity: 32)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            data.append(byte)
            index = next
        }
        return data
    }
}
