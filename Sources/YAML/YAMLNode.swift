/// A position in a YAML text, 1-based, as editors count it.
public struct Mark: Sendable, Hashable, Comparable {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: Mark, b: Mark) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }
}

/// One node of a YAML document, with the mark where it starts.
public enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case mapping(YAMLMapping)
    case sequence(YAMLSequence)

    public var mark: Mark {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .mapping(let mapping): mapping.mark
        case .sequence(let sequence): sequence.mark
        }
    }
}

/// A scalar as written: its text, whether it was plain (unquoted, untagged) and its mark.
///
/// Plain scalars are typed by YAML 1.2's core schema (see ``resolved``): `52:54:00:11:22:33`,
/// `no` and `off` are strings there, so YAML 1.1's traps do not apply.
public struct YAMLScalar: Sendable {
    public var value: String
    public var isPlain: Bool
    public var mark: Mark

    public init(value: String, isPlain: Bool, mark: Mark) {
        self.value = value
        self.isPlain = isPlain
        self.mark = mark
    }
}

public struct YAMLMapping: Sendable {
    public struct Entry: Sendable {
        public var key: YAMLNode
        public var value: YAMLNode
    }

    public var entries: [Entry]
    public var mark: Mark
}

public struct YAMLSequence: Sendable {
    public var items: [YAMLNode]
    public var mark: Mark
}

/// One document of a YAML stream; `root` is nil for an empty document.
public struct YAMLDocument: Sendable {
    public var root: YAMLNode?
    public var mark: Mark
}

/// A YAML text that libyaml could not parse.
public struct YAMLSyntaxError: Error, Sendable, CustomStringConvertible {
    public var mark: Mark
    public var message: String

    public init(mark: Mark, message: String) {
        self.mark = mark
        self.message = message
    }

    public var description: String { "\(mark.line):\(mark.column): \(message)" }
}
