extension Plan {
    /// One planned resource as `--output json` prints it.
    public struct Entry: Codable, Sendable {
        public var resource: String
        public var action: Resource.Action?
        public var changes: [PropertyChange]
        /// Stored changes not yet in effect (e.g. waiting for a restart).
        public var pendingChanges: [PropertyChange]
        public var summary: String?
        public var conflict: String?
        public var source: String?
    }

    /// Every resource, unchanged ones too, in plan order.
    public var entries: [Entry] {
        resources.map {
            Entry(resource: $0.id.description, action: $0.action, changes: $0.changes, pendingChanges: $0.pendingChanges, summary: $0.summary,
                  conflict: $0.conflict, source: $0.source?.description)
        }
    }
}
