/// A unicast Ethernet address, stored and printed in lower case: `52:54:00:11:22:33`.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible {
    public var description: String

    /// Why a MAC address was refused.
    public enum ParseError: Error, Equatable {
        case malformed
        /// The group bit is set: such an address cannot be a NIC's.
        case multicast
    }

    public init(parsing text: String) throws(ParseError) {
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count == 6, groups.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }) else {
            throw .malformed
        }
        guard let first = UInt8(groups[0], radix: 16), first & 1 == 0 else { throw .multicast }
        description = text.lowercased()
    }
}
