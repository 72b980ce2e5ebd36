/// Names one managed thing the way plans print it: `libvirt_domain[cpro0007]`.
public struct ResourceID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var type: String
    public var name: String

    public init(_ type: String, _ name: String) {
        self.type = type
        self.name = name
    }

    /// Parses `type[name]`, as stored in the run log and the inventory.
    public init?(parsing text: String) {
        // By bytes (the brackets are ASCII): a run reads 49,000 of them from the inventory.
        let utf8 = text.utf8
        guard utf8.last == UInt8(ascii: "]"), let open = utf8.firstIndex(of: UInt8(ascii: "[")) else { return nil }
        type = String(text[..<open])
        name = String(text[utf8.index(after: open)..<utf8.index(before: utf8.endIndex)])
    }

    public var description: String { "\(type)[\(name)]" }

    public static func < (a: ResourceID, b: ResourceID) -> Bool { (a.type, a.name) < (b.type, b.name) }
}
