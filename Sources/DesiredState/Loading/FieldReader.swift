import YAML

/// A field being decoded: its display path (`interfaces[0].mac`) and where to report problems.
struct Field {
    let path: String
    let context: FileContext

    /// Reports `message` at `node` and returns nil, for `return field.fail(...)`.
    func fail<T>(_ node: YAMLNode, _ message: String) -> T? {
        context.report(node.mark, message)
        return nil
    }

    func child(_ key: String) -> Field { Field(path: path.isEmpty ? key : "\(path).\(key)", context: context) }
    func item(_ index: Int) -> Field { Field(path: "\(path)[\(index)]", context: context) }
}

/// Reads the keys of one YAML mapping as typed fields.
///
/// Creating it reports a non-mapping node, duplicate keys and keys outside `keys`; each
/// `required`/`optional` read reports its own problems, so one pass finds every error.
struct FieldReader {
    let field: Field
    let mapping: YAMLMapping
    let what: String
    /// The accepted keys and their values, in document order. Mappings have a dozen keys at
    /// most, so a linear search beats hashing (this is the hot path of loading).
    private var values: [(key: String, value: YAMLNode)] = []
    /// Accepted keys an unknown key was reported as a near-miss of (`memroy` → `memory`):
    /// their absence is that one mistake, not a second error.
    private var suggested: Set<String> = []

    /// - Parameter what: how to name the mapping in messages, e.g. `VirtualMachine`, `disks[0]`.
    init?(_ node: YAMLNode, what: String, field: Field, keys: [String]) {
        guard case .mapping(let mapping) = node else {
            field.context.report(node.mark, "\(what) must be a mapping, not \(node.typeDescription)")
            return nil
        }
        self.field = field
        self.mapping = mapping
        self.what = what
        values.reserveCapacity(mapping.entries.count)
        // Duplicates: a search of the keys before in the small mappings documents are made of,
        // a set in a large one (a mapping of 20,000 keys must stay linear).
        let isSmall = mapping.entries.count <= Self.smallMapping
        var seen: Set<String> = []
        for (index, entry) in mapping.entries.enumerated() {
            guard case .scalar(let key) = entry.key, key.resolved == .string else {
                field.context.report(entry.key.mark, "keys must be strings, not \(entry.key.typeDescription)")
                continue
            }
            let isDuplicate = isSmall ? mapping.entries[..<index].contains { $0.key.scalarValue == key.value } : !seen.insert(key.value).inserted
            if isDuplicate, let first = mapping.entries[..<index].first(where: { $0.key.scalarValue == key.value }) {
                field.context.report(key.mark, "duplicate key \"\(key.value)\" (first at line \(first.key.mark.line))")
                continue
            }
            guard keys.contains(key.value) else {
                let suggestion = Suggestion.closest(to: key.value, in: keys)
                if let suggestion { suggested.insert(suggestion) }
                let hint = suggestion.map { "; did you mean \"\($0)\"?" } ?? ""
                field.context.report(key.mark, "unknown key \"\(key.value)\" in \(what)\(hint)")
                continue
            }
            values.append((key.value, entry.value))
        }
    }

    /// Up to this many keys, duplicates are found without hashing.
    static let smallMapping = 16

    private func value(_ key: String) -> YAMLNode? {
        values.first { $0.key == key }?.value
    }

    /// The document's `name`, when it is a valid one (whatever else is wrong with it).
    var declaredName: String? {
        guard let scalar = value("name")?.scalarValue, Decode.isName(scalar) else { return nil }
        return scalar
    }

    /// Where `key`'s value starts, or the mapping's start when the key is absent.
    func mark(of key: String) -> Mark { value(key)?.mark ?? mapping.mark }

    /// Reports a problem with `key`'s value as a whole (e.g. a rule spanning two keys).
    func report(_ key: String, _ message: String) {
        field.context.report(mark(of: key), message)
    }

    /// The location of the mapping itself, for the decoded object.
    var location: SourceLocation { field.context.location(mapping.mark) }

    /// The decoded value of `key`, or nil (reported) when it is missing or invalid.
    func required<T>(_ key: String, _ decode: (YAMLNode, Field) -> T?) -> T? {
        guard let node = value(key) else {
            if !suggested.contains(key) { field.context.report(mapping.mark, "\(what) is missing required key \"\(key)\"") }
            return nil
        }
        return decode(node, field.child(key))
    }

    /// `.some(nil)` when `key` is absent, `nil` (reported) when present but invalid.
    func optional<T>(_ key: String, _ decode: (YAMLNode, Field) -> T?) -> T?? {
        guard let node = value(key) else { return .some(nil) }
        guard let value = decode(node, field.child(key)) else { return nil }
        return .some(value)
    }
}

extension YAMLNode {
    /// The text of a scalar node, nil for collections.
    var scalarValue: String? {
        if case .scalar(let scalar) = self { scalar.value } else { nil }
    }

    var isNull: Bool {
        if case .scalar(let scalar) = self { scalar.resolved == .null } else { false }
    }

    /// How a value's type reads in an error: "a mapping", "a list", "a number", ….
    var typeDescription: String {
        switch self {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let scalar):
            switch scalar.resolved {
            case .null: "null"
            case .bool: "a boolean"
            case .int, .float: "a number"
            case .string: "a string"
            }
        }
    }
}
