import Basics
import DesiredState
import Foundation
import Testing

/// The JSON Schemas in `schemas/` and the Swift validator must accept and reject the same documents.
@Suite struct SchemaAgreementTests {
    static let repository = DesiredStateLoadingTests.repository
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("SchemaCorpus")

    static var corpusFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    /// Runs `scripts/schema-check` (Python jsonschema, YAML 1.2) and returns its exit status and output.
    static func schemaCheck(_ files: [String]) throws -> (status: Int32, output: String) {
        let result = try CommandRunner().output([repository.appendingPathComponent("scripts/schema-check").path] + files)
        return (result.status, result.stdout + result.stderr)
    }

    @Test func theExampleSatisfiesTheSchemas() throws {
        let directory = Self.repository.appendingPathComponent("desired-state").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 5)
        let result = try Self.schemaCheck(files.map { directory + "/" + $0 })
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func theCorpusIsNotEmpty() {
        #expect(Self.corpusFiles.count >= 25)
    }

    @Test(arguments: corpusFiles)
    func bothRejectTheSameInvalidDocument(_ name: String) throws {
        let path = Self.corpus.appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let expected = text.split(separator: "\n")
            .filter { $0.hasPrefix("# expect: ") }
            .map { "\(name):" + $0.dropFirst("# expect: ".count) }
        #expect(!expected.isEmpty, "\(name) has no '# expect:' line")

        let schema = try Self.schemaCheck([path])
        #expect(schema.status == 1, "the schemas accept \(name): \(schema.output)")

        let directory = try TemporaryDesiredState([name: text])
        #expect(directory.diagnostics() == expected)
    }
}
