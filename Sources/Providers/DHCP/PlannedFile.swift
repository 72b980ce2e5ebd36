import Engine

/// A planned step that replaces a file: `input` is the whole new text, `previous` the text
/// the plan read (nil: the file did not exist).
enum PlannedFile {
    /// The step, when its file is still as the plan read it; nil when it is done already (an
    /// earlier batch of the same run carried it out). A file changed since the plan is never
    /// written over.
    static func pending(_ step: Step) throws -> Step? {
        let current = try DHCPConfigScanner.read(step.target)
        if current == step.input { return nil }
        guard current == step.previous else {
            throw RunError("\(step.target) changed since the plan was made; nothing was written (run again to plan from what is there now)")
        }
        return step
    }
}
