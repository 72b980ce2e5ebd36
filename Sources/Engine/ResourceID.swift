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
        guard text.hasSuffix("]"), let open = text.firstIndex(of: "[") else { return nil }
        type = String(text[..<open])
        name = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
    }

    public var description: String { "\(type)[\(name)]" }

    public static func < (a: ResourceID, b: ResourceID) -> Bool { (a.type, a.name) < (b.type, b.name) }
}
