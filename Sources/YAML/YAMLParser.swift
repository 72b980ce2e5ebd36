import CYAML

/// Parses YAML text into documents with libyaml's event API.
///
/// The event API keeps every node's start mark, which gives errors their line and column,
/// and it avoids building a second, untyped representation before our typed decoding.
public enum YAMLParser {
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
                guard yaml_parser_parse(&parser, &event) != 0 else { throw syntaxError(parser) }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.handle(event)
            }
            return builder.documents
        }
    }

    private static func syntaxError(_ parser: yaml_parser_t) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) }
        let message = context.map { "\($0): \(problem)" } ?? problem
        return YAMLSyntaxError(mark: Mark(parser.problem_mark), message: message)
    }
}

extension Mark {
    init(_ mark: yaml_mark_t) {
        self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}

/// Assembles nodes from the event stream, one open collection per stack frame.
private struct TreeBuilder {
    private enum Frame {
        case mapping(YAMLMapping, pendingKey: YAMLNode?, anchor: String?)
        case sequence(YAMLSequence, anchor: String?)
    }

    private(set) var documents: [YAMLDocument] = []
    private var stack: [Frame] = []
    private var anchors: [String: YAMLNode] = [:]
    private var documentMark = Mark(line: 1, column: 1)

    mutating func handle(_ event: yaml_event_t) throws(YAMLSyntaxError) {
        let mark = Mark(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documentMark = mark
            documents.append(YAMLDocument(root: nil, mark: mark))
            anchors = [:]
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            let isPlain = data.plain_implicit != 0 && data.tag == nil
            let node = YAMLNode.scalar(YAMLScalar(value: value, isPlain: isPlain, mark: mark))
            if let anchor = data.anchor { anchors[String(cString: anchor)] = node }
            add(node)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            guard let node = anchors[name] else {
                throw YAMLSyntaxError(mark: mark, message: "alias *\(name) refers to no anchor defined before it")
            }
            add(node)
        case YAML_MAPPING_START_EVENT:
            let anchor = event.data.mapping_start.anchor.map { String(cString: $0) }
            stack.append(.mapping(YAMLMapping(entries: [], mark: mark), pendingKey: nil, anchor: anchor))
        case YAML_SEQUENCE_START_EVENT:
            let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
            stack.append(.sequence(YAMLSequence(items: [], mark: mark), anchor: anchor))
        case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
            guard let frame = stack.popLast() else { return }
            switch frame {
            case .mapping(let mapping, _, let anchor):
                close(.mapping(mapping), anchor: anchor)
            case .sequence(let sequence, let anchor):
                close(.sequence(sequence), anchor: anchor)
            }
        default:
            break  // stream start/end, document end: nothing to build
        }
    }

    private mutating func close(_ node: YAMLNode, anchor: String?) {
        if let anchor { anchors[anchor] = node }
        add(node)
    }

    private mutating func add(_ node: YAMLNode) {
        guard let top = stack.popLast() else {
            if !documents.isEmpty { documents[documents.count - 1].root = node }
            return
        }
        switch top {
        case .sequence(var sequence, let anchor):
            sequence.items.append(node)
            stack.append(.sequence(sequence, anchor: anchor))
        case .mapping(var mapping, let pendingKey, let anchor):
            if let key = pendingKey {
                mapping.entries.append(YAMLMapping.Entry(key: key, value: node))
                stack.append(.mapping(mapping, pendingKey: nil, anchor: anchor))
            } else {
                stack.append(.mapping(mapping, pendingKey: node, anchor: anchor))
            }
        }
    }
}
