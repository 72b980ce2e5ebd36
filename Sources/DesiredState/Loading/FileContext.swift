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

    func report(_ mark: Mark, _ message: String) {
        diagnostics.append(Diagnostic(location(mark), message))
    }
}
