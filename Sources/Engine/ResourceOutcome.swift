/// What happened to one resource in a run.
public struct ResourceOutcome: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case unchanged, updated, wouldUpdate = "would-update", failed, skipped
    }

    public var resource: ResourceID
    public var outcome: Kind
    public var action: Resource.Action?
    /// For `updated` and `would-update`: the property diffs.
    public var changes: [PropertyChange]
    /// For `failed`: the error; for `skipped`: why.
    public var error: String?

    public init(
        _ resource: ResourceID, _ outcome: Kind, action: Resource.Action? = nil, changes: [PropertyChange] = [],
        error: String? = nil
    ) {
        self.resource = resource
        self.outcome = outcome
        self.action = action
        self.changes = changes
        self.error = error
    }
}
