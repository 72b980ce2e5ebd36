import YAML

/// The diagnostics of one desired-state file, collected while it is decoded.
///
/// One per file, used by one thread; decoding reports every problem instead of stopping.
final class FileContext {
    let path: String
    private(set) var diagnostics: [Diagnostic] = []

    init(path: String) {
        self.path = path
    }

    func location(_ mark: Mark) -> SourceLocation {
        SourceLocation(file: path, line: mark.line, column: mark.column)
    }

    /// More problems than this in one file are counted, not listed: 20,000 unknown keys are
    /// one mistake, not 20,000 lines to read.
    static let listedPerFile = 200
    private var unlisted = 0

    func report(_ mark: Mark, _ message: String) {
        guard diagnostics.count < Self.listedPerFile else {
            unlisted += 1
            let summary = Diagnostic(location(mark), "… and \(unlisted) more problems in this file")
            if unlisted == 1 { diagnostics.append(summary) } else { diagnostics[diagnostics.count - 1] = summary }
            return
        }
        diagnostics.append(Diagnostic(location(mark), message))
    }
}
