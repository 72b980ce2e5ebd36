import Testing
import YAML

@Suite struct YAMLParserTests {
    @Test func nodesCarryTheirLineAndColumn() throws {
        let documents = try YAMLParser.parse(Array("a: 1\nlist:\n  - {x: y}\n---\nb: c\n".utf8))
        #expect(documents.count == 2)
        guard case .mapping(let first)? = documents[0].root else { Issue.record("not a mapping"); return }
        #expect(first.entries.map(\.key.mark) == [Mark(line: 1, column: 1), Mark(line: 2, column: 1)])
        guard case .sequence(let list) = first.entries[1].value,
              case .mapping(let item) = list.items[0] else { Issue.record("not a list of mappings"); return }
        #expect(item.mark == Mark(line: 3, column: 5))
        #expect(item.entries[0].value.mark == Mark(line: 3, column: 9))
        #expect(documents[1].root?.mark == Mark(line: 5, column: 1))
    }

    @Test func emptyTextHasNoDocumentsAndAnEmptyDocumentIsANullScalar() throws {
        #expect(try YAMLParser.parse([]).isEmpty)
        let documents = try YAMLParser.parse(Array("---\n---\na: 1\n".utf8))
        #expect(documents.count == 2)
        guard case .scalar(let empty)? = documents[0].root else { Issue.record("not a scalar"); return }
        #expect(empty.resolved == .null)
    }

    @Test func aliasesExpandToTheAnchoredNode() throws {
        let documents = try YAMLParser.parse(Array("a: &ports [80, 443]\nb: *ports\n".utf8))
        guard case .mapping(let mapping)? = documents.first?.root,
              case .sequence(let b) = mapping.entries[1].value else { Issue.record("no alias"); return }
        #expect(b.items.count == 2)
    }

    @Test func anUnknownAliasIsAnError() {
        #expect(throws: YAMLSyntaxError.self) { try YAMLParser.parse(Array("a: *nothing\n".utf8)) }
    }

    @Test func syntaxErrorsHaveAPosition() {
        do {
            _ = try YAMLParser.parse(Array("a: b\n c: d\n".utf8))
            Issue.record("parsed invalid YAML")
        } catch {
            #expect(error.mark == Mark(line: 2, column: 3))
            #expect(error.message == "mapping values are not allowed in this context")
        }
    }

    @Test(arguments: [
        ("52:54:00:11:22:33", YAMLScalar.Resolution.string), ("no", .string), ("off", .string), ("yes", .string),
        ("true", .bool(true)), ("False", .bool(false)), ("~", .null), ("", .null), ("null", .null),
        ("42", .int(42)), ("-7", .int(-7)), ("0o17", .int(15)), ("0x1f", .int(31)), ("0007", .int(7)),
        ("1.5", .float), (".5", .float), ("1e3", .float), (".inf", .float), ("1.2.3", .string), ("8000-8100", .string),
        ("2GiB", .string), ("10.0.0.7", .string), ("+", .string), (".", .string),
    ])
    func plainScalarsResolveByTheYAML12CoreSchema(_ text: String, _ expected: YAMLScalar.Resolution) {
        #expect(YAMLScalar(value: text, isPlain: true, mark: Mark(line: 1, column: 1)).resolved == expected)
    }

    @Test func quotedScalarsAreAlwaysStrings() throws {
        let documents = try YAMLParser.parse(Array("a: \"42\"\nb: !!str true\nc: 'no'\n".utf8))
        guard case .mapping(let mapping)? = documents.first?.root else { Issue.record("not a mapping"); return }
        for entry in mapping.entries {
            guard case .scalar(let scalar) = entry.value else { Issue.record("not a scalar"); continue }
            #expect(scalar.resolved == .string)
        }
    }
}
