/// A DNS UPDATE message to one zone (RFC 2136, as `nsupdate` sends it): a zone's changes are
/// split into messages of bounded size, each a transaction of whole record sets.
public enum DNSStep: Sendable, Codable, Hashable, StepDescription {
    case update(DNSUpdate)

    public var title: String {
        switch self {
        case .update(let update): "nsupdate.zone \(update.name)"
        }
    }

    public var body: String? {
        switch self {
        case .update(let update): update.script
        }
    }
}

public struct DNSUpdate: Sendable, Codable, Hashable {
    public var zone: String
    /// This message's number among the zone's `parts` (from 1).
    public var part: Int
    public var parts: Int
    public var sets: [RecordSet]

    /// One record set's `nsupdate` lines (prerequisites, deletions, additions).
    public struct RecordSet: Sendable, Codable, Hashable {
        public var name: String
        public var lines: [String]

        public init(name: String, lines: [String]) {
            self.name = name
            self.lines = lines
        }
    }

    public init(zone: String, part: Int, parts: Int, sets: [RecordSet]) {
        self.zone = zone
        self.part = part
        self.parts = parts
        self.sets = sets
    }

    /// `example.org`, or `example.org (2/3)` when the zone's changes take several messages.
    public var name: String { parts == 1 ? zone : "\(zone) (\(part)/\(parts))" }

    /// The message as `nsupdate` reads it: each set's lines after a comment naming it (nsupdate
    /// skips `;` lines).
    public var script: String {
        (["zone \(zone)"] + sets.flatMap { ["; " + $0.name] + $0.lines } + ["send"]).joined(separator: "\n") + "\n"
    }
}
