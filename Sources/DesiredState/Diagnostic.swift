import Basics

/// Where something was written: a desired-state file and a 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// One problem in the desired state, printed as `file:line:column: message`.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    /// Control characters in `message` (it may quote a hostile value), newlines included, are
    /// escaped: one diagnostic is one line.
    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message.escapingEveryControlCharacter
    }

    public var description: String { "\(location): \(message)" }
}

/// The desired state could not be loaded; every problem found is listed, in file order.
public struct InvalidDesiredState: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
