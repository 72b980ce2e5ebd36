/// One declared property whose live value differs: `memory: 2 GiB → 4 GiB (live)`.
public struct PropertyChange: Hashable, Sendable, Codable, CustomStringConvertible {
    public var property: String
    /// The live value; nil when the property does not exist yet.
    public var from: String?
    /// The desired value; nil when the property goes away.
    public var to: String?
    /// How the change will be made, e.g. `live`, `restart pending`.
    public var note: String?

    public init(_ property: String, from: String?, to: String?, note: String? = nil) {
        self.property = property
        self.from = from
        self.to = to
        self.note = note
    }

    /// A line added to a list (a rule to a chain), printed `+ filter/RC-VM-a: -j DROP`.
    public static func added(_ line: String, to list: String) -> PropertyChange {
        PropertyChange("+ \(list)", from: nil, to: line)
    }

    /// A line removed from a list, printed `- filter/RC-VM-a: -j ACCEPT`.
    public static func removed(_ line: String, from list: String) -> PropertyChange {
        PropertyChange("- \(list)", from: line, to: nil)
    }

    public var description: String {
        if property.hasPrefix("+ ") || property.hasPrefix("- ") { return "\(property): \(to ?? from ?? "")" }
        let values =
            switch (from, to) {
            case (let from?, let to?): "\(from) → \(to)"
            case (nil, let to?): to
            case (let from?, nil): "\(from) → (none)"
            case (nil, nil): "(none)"
            }
        return "\(property): \(values)" + (note.map { " (\($0))" } ?? "")
    }
}
