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

    public var description: String {
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
