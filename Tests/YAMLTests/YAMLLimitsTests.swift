import Testing
import YAML

/// Hostile input ends in an error with a line and column, never a crash or a stall.
@Suite struct YAMLLimitsTests {
    func error(_ text: [UInt8]) -> YAMLSyntaxError? {
        do {
            _ = try YAMLParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func aBlockListNested70000DeepIsRefusedAtTheLevelPastTheLimit() throws {
        // `x:` then `- - - - … x`: the shape that overflowed the stack when the tree was freed.
        let text = Array(("x:\n" + String(repeating: "- ", count: 70_000) + "x\n").utf8)
        let failure = try #require(error(text))
        #expect(failure.mark == Mark(line: 2, column: 2 * YAMLParser.maximumDepth - 1))
        #expect(failure.message.contains("nested deeper than 64 levels"))
    }

    @Test func aFlowListNested70000DeepIsRefused() throws {
        let failure = try #require(error(Array((String(repeating: "[", count: 70_000) + String(repeating: "]", count: 70_000)).utf8)))
        #expect(failure.mark == Mark(line: 1, column: YAMLParser.maximumDepth + 1))
    }

    @Test func nestingAtTheLimitIsFine() throws {
        let depth = YAMLParser.maximumDepth
        let documents = try YAMLParser.parse(Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8))
        #expect(documents.count == 1)
    }

    @Test func aliasesCountTheDepthOfWhatTheyExpandTo() throws {
        // Each anchor holds the previous one 40 levels down: fine alone, too deep expanded.
        let nest = String(repeating: "[", count: 40)
        let close = String(repeating: "]", count: 40)
        let text = "a: &a \(nest)1\(close)\nb: &b \(nest)*a\(close)\n"
        let failure = try #require(error(Array(text.utf8)))
        #expect(failure.mark.line == 2)
        #expect(failure.message.contains("aliases count"))
    }

    @Test func invalidUTF8AndNULBytesAreNamedWhereTheyAre() throws {
        let bad = try #require(error(Array("a: 1\nbb: cé\n".utf8) + [0xFF] + Array(" x\n".utf8)))
        #expect(bad.mark == Mark(line: 3, column: 1))
        let nul = try #require(error(Array("a: 1\nname: ab".utf8) + [0] + Array("c\n".utf8)))
        #expect(nul.mark == Mark(line: 2, column: 9))
        #expect(nul.message.contains("0x0"))
    }

    @Test func aFlowListOf40000ItemsAndAMappingOf20000KeysParse() throws {
        // Quadratic building took 23 s and 14 s for these; scripts/bench loading times them.
        let list = "x: [" + (0..<40_000).map { "\($0)" }.joined(separator: ", ") + "]\n"
        guard case .mapping(let mapping)? = try YAMLParser.parse(Array(list.utf8)).first?.root,
              case .sequence(let items) = mapping.entries[0].value else { Issue.record("no list"); return }
        #expect(items.items.count == 40_000)
        let keys = (0..<20_000).map { "k\($0): \($0)" }.joined(separator: "\n") + "\n"
        guard case .mapping(let big)? = try YAMLParser.parse(Array(keys.utf8)).first?.root else { Issue.record("no mapping"); return }
        #expect(big.entries.count == 20_000)
    }
}
