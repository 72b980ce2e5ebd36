import ArgumentParser
import DesiredState
import Foundation

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a desired-state directory without touching the machine.",
        discussion: """
            Reads every *.yaml and *.yml file below DIRECTORY, checks each document against \
            its kind and every reference between them, and prints how many of each kind it \
            declares. Each problem is printed as path:line:column: message.

            Examples:
              reconcile validate                      the ./desired-state directory
              reconcile validate ops/cloud --output json

            Exits 0 when valid, 65 when not, 64 when DIRECTORY cannot be read.
            """
    )

    @Argument(help: "The desired-state directory.")
    var directory = "desired-state"

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() throws {
        let state: DesiredState
        do {
            state = try DesiredState.load(directory: directory)
        } catch let invalid as InvalidDesiredState {
            printInvalid(invalid)
            throw ExitStatus.invalidDesiredState
        } catch {
            FileHandle.standardError.write(Data("reconcile: \(error)\n".utf8))
            throw ExitStatus.usage
        }
        printSummary(state)
    }

    private func printSummary(_ state: DesiredState) {
        switch output {
        case .text:
            print("\(directory): valid, \(state.documentCount) documents in \(state.fileCount) files")
            let width = state.counts.map(\.kind.rawValue.count).max() ?? 0
            for (kind, count) in state.counts {
                print("  \(kind.rawValue.padding(toLength: width, withPad: " ", startingAt: 0))  \(count)")
            }
            if !state.hostsDeclared { print("  (no Host documents: one implicit local host has every role)") }
        case .json:
            let counts = Dictionary(uniqueKeysWithValues: state.counts.map { ($0.kind.rawValue, $0.count) })
            printJSON(ValidationReport(valid: true, directory: directory, files: state.fileCount, documents: state.documentCount, counts: counts, errors: []))
        }
    }

    private func printInvalid(_ invalid: InvalidDesiredState) {
        switch output {
        case .text:
            let lines = invalid.diagnostics.map(\.description) + [
                "\(directory): \(invalid.diagnostics.count) error\(invalid.diagnostics.count == 1 ? "" : "s"); nothing was applied",
            ]
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        case .json:
            let errors = invalid.diagnostics.map {
                ValidationReport.Error(file: $0.location.file, line: $0.location.line, column: $0.location.column, message: $0.message)
            }
            printJSON(ValidationReport(valid: false, directory: directory, files: nil, documents: nil, counts: nil, errors: errors))
        }
    }
}

/// `reconcile validate --output json`.
struct ValidationReport: Encodable {
    struct Error: Encodable {
        var file: String
        var line: Int
        var column: Int
        var message: String
    }

    var valid: Bool
    var directory: String
    var files: Int?
    var documents: Int?
    var counts: [String: Int]?
    var errors: [Error]
}

func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    // Encoding plain structs of strings and numbers cannot fail.
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    print(String(decoding: data, as: UTF8.self))
}
