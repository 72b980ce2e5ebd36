import Basics
import Foundation
import Testing

/// Runs the built `reconcile` binary as an operator would.
enum ReconcileBinary {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `swift test` puts the test bundle beside the executables it built.
    static var path: String {
        let buildDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let beside = buildDirectory.appendingPathComponent("reconcile").path
        return FileManager.default.isExecutableFile(atPath: beside)
            ? beside : repository.appendingPathComponent(".build/debug/reconcile").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs another program (git) and returns its stdout; throws when it fails.
    static func shell(_ arguments: [String]) throws -> String {
        try CommandRunner().run(arguments)
    }

    /// Through `CommandRunner` (posix_spawn and waitpid): Foundation's `Process` can wait
    /// forever once a command has left a daemon running (a dhcpd restarted by a run).
    /// `arguments` with a generous `--lock-timeout` unless they set one: parallel tests share
    /// the machine's libvirt, whose writers take turns.
    static func waitForLocks(_ arguments: [String]) -> [String] {
        arguments.contains("--lock-timeout") ? arguments : arguments + ["--lock-timeout", "300"]
    }

    static func run(_ arguments: [String], in directory: URL = repository) throws -> Result {
        let result = try CommandRunner(directory: directory.path).output([path] + arguments)
        return Result(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }
}

@Suite struct ValidateCommandTests {
    /// A FIFO where a file is read would wait for a writer for ever: refused unopened.
    @Test func specialFilesAreRefusedBeforeTheyAreOpened() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-fifo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(mkfifo(directory.appendingPathComponent("x.yaml").path, 0o600) == 0)
        #expect(mkfifo(directory.appendingPathComponent("user-data.cfg").path, 0o600) == 0)
        try """
            kind: Network
            name: private
            cidr: 10.0.0.0/24
            bridge: br0
            ---
            kind: VirtualMachine
            name: web
            memory: 1GiB
            vcpus: 1
            disks: [{name: root, pool: default, size: 1GiB}]
            interfaces: [{network: private, mac: "52:54:00:00:00:07", ip: 10.0.0.7}]
            cloudInit: {userDataFile: user-data.cfg}

            """.write(to: directory.appendingPathComponent("cloud.yaml"), atomically: true, encoding: .utf8)
        let result = try CommandRunner(timeout: 60).output([ReconcileBinary.path, "validate", directory.path])
        #expect(result.timedOutAfter == nil && result.status == 65, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("x.yaml:1:1: this is not a regular file (a FIFO, a device or a socket); it was not opened for reading"), "\(result.stderr)")
        #expect(result.stderr.contains("cloudInit.userDataFile \"user-data.cfg\": not a regular file"), "\(result.stderr)")
    }

    @Test func escapeSequencesInTheYAMLNeverReachTheTerminalRaw() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-escape-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Double-quoted YAML may spell ESC; an unknown key may hold it too.
        try "kind: Host\nname: hv1\nroles: [firewall]\nnetns: \"\\e]0;pwned\\a\\e[2J\"\n\"\\e[31mred\": 1\n"
            .write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        let result = try ReconcileBinary.run(["validate", directory.path])
        #expect(result.status == 65)
        #expect(!result.stdout.contains("\u{1B}") && !result.stderr.contains("\u{1B}") && !result.stderr.contains("\u{07}"))
        #expect(result.stderr.contains("a.yaml:4:8: netns must not contain control characters (\"\\x1b]0;pwned\\x07\\x1b[2J\")"), "\(result.stderr)")
        #expect(result.stderr.contains("unknown key \"\\x1b[31mred\""), "\(result.stderr)")
    }

    /// A value's newline would start what reads as another diagnostic: one problem, one line.
    @Test func aNewlineInAValueStaysInItsDiagnostic() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-newline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "kind: Network\nname: \"net\\na.yaml:1:1: all good\"\ncidr: 10.0.0.0/24\nbridge: br0\n"
            .write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        let result = try ReconcileBinary.run(["validate", directory.path])
        #expect(result.status == 65)
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("a.yaml:") }
        #expect(lines.count == 1 && lines[0].contains("net\\x0aa.yaml:1:1: all good"), "\(result.stderr)")
    }

    @Test func validatesTheBundledExampleByDefault() throws {
        let result = try ReconcileBinary.run(["validate"])
        #expect(result.status == 0)
        #expect(result.stdout == """
            desired-state: valid, 15 documents in 7 files
              Host            1
              Network         1
              Image           0
              VirtualMachine  3
              IPPair          2
              FirewallRule    6
              DHCPHost        1
              DNSRecord       1

            """)
    }

    @Test func printsEveryErrorWithItsPositionAndExits65() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("kind: Network\nname: Bad\ncidr: 10.0.0.0/24\nbridge: br0\nmtu: 1\n".utf8)
            .write(to: directory.appendingPathComponent("net.yaml"))
        let before = try FileManager.default.contentsOfDirectory(atPath: directory.path)

        let result = try ReconcileBinary.run(["validate", "."], in: directory)
        #expect(result.status == 65)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == """
            ./net.yaml:2:7: name "Bad" must match ^[a-z0-9][a-z0-9-]{0,62}$: lower-case letters, digits and '-', at most 63 characters
            ./net.yaml:5:1: unknown key "mtu" in Network
            .: 2 errors; nothing was applied

            """)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == before)

        let json = try ReconcileBinary.run(["validate", ".", "--output", "json"], in: directory)
        #expect(json.status == 65)
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let errors = report?["errors"] as? [[String: Any]]
        #expect(report?["valid"] as? Bool == false)
        #expect(errors?.count == 2)
        #expect(errors?.first?["line"] as? Int == 2 && errors?.first?["column"] as? Int == 7)
    }

    @Test func jsonSummaryCountsEachKind() throws {
        let result = try ReconcileBinary.run(["validate", "--output", "json", "desired-state"])
        #expect(result.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(report?["valid"] as? Bool == true)
        #expect((report?["counts"] as? [String: Int])?["FirewallRule"] == 6)
    }

    @Test func aMissingDirectoryIsAUsageError() throws {
        let result = try ReconcileBinary.run(["validate", "/nonexistent/desired"])
        #expect(result.status == 64)
        #expect(result.stderr == "reconcile: /nonexistent/desired: no such directory\n")
    }

    @Test func unknownOptionsAreUsageErrors() throws {
        #expect(try ReconcileBinary.run(["validate", "--bogus"]).status == 64)
        #expect(try ReconcileBinary.run(["validate", "--output", "yaml"]).status == 64)
    }

    @Test(arguments: [["--help"], ["validate", "--help"]])
    func helpExplainsWithAnExample(_ arguments: [String]) throws {
        let result = try ReconcileBinary.run(arguments)
        #expect(result.status == 0)
        #expect(result.stdout.contains("Examples:"))
        #expect(result.stdout.contains("reconcile validate"))
    }
}
