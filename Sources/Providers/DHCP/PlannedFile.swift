import Engine

/// A planned file change (``FileChange``): `content` is the whole new text, `previous` the
/// text the plan read (nil: the file did not exist).
enum PlannedFile {
    /// The step, when its file is still as the plan read it; nil when it is done already (an
    /// earlier batch of the same run carried it out). A file changed since the plan is never
    /// written over.
    static func pending(_ change: FileChange) throws -> FileChange? {
        let current = try DHCPConfigScanner.read(change.path)
        if current == change.content { return nil }
        guard current == change.previous else {
            throw RunError("\(change.path) changed since the plan was made; nothing was written (run again to plan from what is there now)")
        }
        return change
    }
}
