import CYAML

/// Parses YAML text into documents with libyaml's event API.
///
/// The event API keeps every node's start mark, which gives errors their line and column,
/// and it avoids building a second, untyped representation before our typed decoding.
/// Building is linear in the input, and nesting is bounded (``maximumDepth``): a node tree
/// nested 70,000 deep would overflow the stack when it is freed.
public enum YAMLParser {
    /// The deepest nesting of mappings and lists a document may have, aliases expanded.
    /// The desired-state kinds need four.
    public static let maximumDepth = 64

    /// Parses every document of `text`. Aliases are expanded; anchors must precede them.
    public static func parse(_ text: [UInt8]) throws(YAMLSyntaxError) -> [YAMLDocument] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else {
            throw YAMLSyntaxError(mark: Mark(line: 1, column: 1), message: "libyaml could not allocate a parser")
        }
        defer { yaml_parser_delete(&parser) }

        return try text.withUnsafeBufferPointer { buffer throws(YAMLSyntaxError) in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder()
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) != 0 else { throw syntaxError(parser, text: text) }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.handle(event)
            }
            return builder.documents
        }
    }

    private static func syntaxError(_ parser: yaml_parser_t, text: [UInt8]) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) }
        var message = context.map { "\($0): \(problem)" } ?? problem
        // libyaml's reader (bad UTF-8, NUL and other control bytes) sets only a byte offset.
        guard parser.error == YAML_READER_ERROR else {
            return YAMLSyntaxError(mark: Mark(parser.problem_mark), message: message)
        }
        if parser.problem_value >= 0 { message += " (byte 0x\(String(parser.problem_value, radix: 16, uppercase: true)))" }
        return YAMLSyntaxError(mark: Mark(offset: parser.problem_offset, in: text), message: message)
    }
}

extension Mark {
    init(_ mark: yaml_mark_t) {
        self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    /// The line and column (in characters, as editors count them) of byte `offset`.
    init(offset: Int, in text: [UInt8]) {
        var line = 1, column = 1
        for byte in text.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // not a UTF-8 continuation byte
                column += 1
            }
        }
        self.init(line: line, column: column)
    }
}

/// Assembles nodes from the event stream, one open collection per stack frame.
///
/// Frames are mutated in place (`stack[top]`), never popped and pushed back: a copy of a
/// frame's array per added item made a 40,000-item list quadratic.
private struct TreeBuilder {
    private struct Frame {
        var isMapping: Bool
        var mark: Mark
        var anchor: String?
        var items: [YAMLNode] = []
        var entries: [YAMLMapping.Entry] = []
        var pendingKey: YAMLNode?
        /// The height of the tallest child so far (a scalar is 0).
        var childHeight = 0
    }

    private(set) var documents: [YAMLDocument] = []
    private var stack: [Frame] = []
    /// Anchored nodes, with their heights (an alias adds its node's whole height where it is used).
    private var anchors: [String: (node: YAMLNode, height: Int)] = [:]

    mutating func handle(_ event: yaml_event_t) throws(YAMLSyntaxError) {
        let mark = Mark(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents.append(YAMLDocument(root: nil, mark: mark))
            anchors = [:]
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            let isPlain = data.plain_implicit != 0 && data.tag == nil
            let node = YAMLNode.scalar(YAMLScalar(value: value, isPlain: isPlain, mark: mark))
            if let anchor = data.anchor { anchors[String(cString: anchor)] = (node, 0) }
            try add(node, height: 0, at: mark)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            guard let anchored = anchors[name] else {
                throw YAMLSyntaxError(mark: mark, message: "alias *\(name) refers to no anchor defined before it")
            }
            try add(anchored.node, height: anchored.height, at: mark)
        case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
            guard stack.count < YAMLParser.maximumDepth else { throw Self.tooDeep(mark) }
            stack.append(Frame(isMapping: isMapping, mark: mark, anchor: anchor.map { String(cString: $0) }))
        case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
            guard let frame = stack.popLast() else { return }
            let node: YAMLNode = frame.isMapping
                ? .mapping(YAMLMapping(entries: frame.entries, mark: frame.mark))
                : .sequence(YAMLSequence(items: frame.items, mark: frame.mark))
            let height = frame.childHeight + 1
            if let anchor = frame.anchor { anchors[anchor] = (node, height) }
            try add(node, height: height, at: frame.mark)
        default:
            break  // stream start/end, document end: nothing to build
        }
    }

    private static func tooDeep(_ mark: Mark) -> YAMLSyntaxError {
        YAMLSyntaxError(mark: mark, message: "nested deeper than \(YAMLParser.maximumDepth) levels of mappings and lists (aliases count where they are used)")
    }

    private mutating func add(_ node: YAMLNode, height: Int, at mark: Mark) throws(YAMLSyntaxError) {
        guard !stack.isEmpty else {
            guard height <= YAMLParser.maximumDepth else { throw Self.tooDeep(mark) }
            if !documents.isEmpty { documents[documents.count - 1].root = node }
            return
        }
        let top = stack.count - 1
        // The node's height plus the frames above it: how deep the finished tree is here.
        guard height + stack.count <= YAMLParser.maximumDepth else { throw Self.tooDeep(mark) }
        stack[top].childHeight = max(stack[top].childHeight, height)
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].entries.append(YAMLMapping.Entry(key: key, value: node))
            stack[top].pendingKey = nil
        } else {
            stack[top].pendingKey = node
        }
    }
}
