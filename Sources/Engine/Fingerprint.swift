import Basics
import Crypto

/// A digest of the live state a resource's plan was computed from: a saved plan is applied
/// only while every resource's fingerprint is the same (Terraform's stale-plan rule).
public enum Fingerprint {
    /// SHA-256 of the parts, each length-prefixed (so `["ab", "c"]` and `["a", "bc"]` differ),
    /// as 16 hex digits: a plan of 50,000 resources stays small, and 64 bits tell apart
    /// whatever a person or a tool changes between plan and apply.
    public static func of(_ parts: [String]) -> String {
        var hasher = SHA256()
        for part in parts {
            let bytes = Array(part.utf8)
            withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        return hex(hasher.finalize().prefix(8))
    }
}
