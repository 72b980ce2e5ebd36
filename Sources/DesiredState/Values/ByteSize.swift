/// A size in bytes, written with a binary unit: `512MiB`, `2 GiB`, `1TiB`.
public struct ByteSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: UInt64

    public static let units: [(suffix: String, shift: UInt64)] = [("MiB", 20), ("GiB", 30), ("TiB", 40)]

    public init(bytes: UInt64) {
        self.bytes = bytes
    }

    /// Parses `<positive integer>[ ]<MiB|GiB|TiB>`; nil if malformed, zero or too large.
    public init?(_ text: String) {
        guard let unit = Self.units.first(where: { text.hasSuffix($0.suffix) }) else { return nil }
        var number = text.dropLast(unit.suffix.count)
        if number.last == " " { number = number.dropLast() }
        guard !number.isEmpty, number.first != "0", number.allSatisfy(\.isASCIIDigit),
              let value = UInt64(number), value <= UInt64.max >> unit.shift
        else { return nil }
        bytes = value << unit.shift
    }

    /// The largest unit that divides the size exactly: `4 GiB`, `1536 MiB`.
    public var description: String {
        for unit in Self.units.reversed() where bytes % (1 << unit.shift) == 0 && bytes > 0 {
            return "\(bytes >> unit.shift) \(unit.suffix)"
        }
        return "\(bytes) B"
    }

    public static func < (a: ByteSize, b: ByteSize) -> Bool { a.bytes < b.bytes }
}
