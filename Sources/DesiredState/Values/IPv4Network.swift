/// An IPv4 network in CIDR form, `10.0.0.0/24`; a bare address means `/32`.
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible {
    public var address: IPv4Address
    public var prefixLength: Int

    /// Why a CIDR was refused.
    public enum ParseError: Error, Equatable {
        case malformed
        /// The address has bits set beyond the prefix; `suggestion` is the network it is in.
        case hostBitsSet(suggestion: IPv4Network)
    }

    public init(address: IPv4Address, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public init(parsing text: some StringProtocol) throws(ParseError) {
        let slash = text.utf8.firstIndex(of: UInt8(ascii: "/"))
        guard let address = IPv4Address(text[..<(slash ?? text.endIndex)]) else { throw .malformed }
        var prefix = 32
        if let slash {
            let digits = text.utf8[text.utf8.index(after: slash)...]
            guard !digits.isEmpty, digits.count <= 2, digits.allSatisfy(\.isASCIIDigit),
                  digits.count == 1 || digits.first != UInt8(ascii: "0")
            else { throw .malformed }
            prefix = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard prefix <= 32 else { throw .malformed }
        }
        let network = IPv4Network(address: address, prefixLength: prefix)
        guard network.networkAddress == address else {
            throw .hostBitsSet(suggestion: IPv4Network(address: network.networkAddress, prefixLength: prefix))
        }
        self = network
    }

    public var mask: UInt32 { prefixLength == 0 ? 0 : UInt32.max << (32 - prefixLength) }
    public var networkAddress: IPv4Address { IPv4Address(rawValue: address.rawValue & mask) }
    public var broadcastAddress: IPv4Address { IPv4Address(rawValue: address.rawValue | ~mask) }

    public func contains(_ ip: IPv4Address) -> Bool { ip.rawValue & mask == address.rawValue & mask }

    /// Whether both networks share any address.
    public func overlaps(_ other: IPv4Network) -> Bool {
        let shorter = prefixLength < other.prefixLength ? self : other
        let longer = prefixLength < other.prefixLength ? other : self
        return shorter.contains(longer.address)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension Character {
    /// 0-9, read from the ASCII value (`isNumber` asks Unicode's tables).
    var isASCIIDigit: Bool { asciiValue?.isASCIIDigit ?? false }
}

extension UInt8 {
    var isASCIIDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
    var isASCIIHexDigit: Bool {
        isASCIIDigit || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self | 0x20)
    }
}
