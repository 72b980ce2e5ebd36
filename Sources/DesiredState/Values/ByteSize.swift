/// A size in bytes, written with a binary unit: `512MiB`, `2 GiB`, `1TiB`.
public struct ByteSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: UInt64

    public static let units: [(suffix: String, shift: UInt64)] = [("MiB", 20), ("GiB", 30), ("TiB", 40)]

    public init(bytes: UInt64) {
        self.bytes = bytes
    }

    /// Parses `<positive integer>[ ]<MiB|GiB|TiB>`; nil if malformed, zero or too large.
    public init?(_ text: String) {
        // Read as bytes: the units and digits are ASCII, and 7,000 VMs' sizes are read per load.
        let utf8 = text.utf8
        guard let unit = Self.units.first(where: { utf8.count >= $0.suffix.utf8.count && utf8.suffix($0.suffix.utf8.count).elementsEqual($0.suffix.utf8) })
        else { return nil }
        var number = utf8.dropLast(unit.suffix.utf8.count)
        if number.last == UInt8(ascii: " ") { number = number.dropLast() }
        guard !number.isEmpty, number.first != UInt8(ascii: "0"), number.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let value = UInt64(String(decoding: number, as: UTF8.self)), value <= UInt64.max >> unit.shift
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
