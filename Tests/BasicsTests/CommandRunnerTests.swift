import Basics
import Foundation
import Testing

@Suite struct CommandRunnerTests {
    @Test func aCommandPastItsTimeoutIsKilledWithEverythingItStarted() throws {
        let directory = try PrivateDirectory.make(prefix: "reconcile-runner")
        defer { try? FileManager.default.removeItem(at: directory) }
        let pids = directory.appendingPathComponent("pids").path
        // A shell that starts a child in the background and then waits: both must go.
        let script = "sleep 600 & echo $$ $! > \(pids); wait"
        let output = try CommandRunner(timeout: 0.5).output(["sh", "-c", script])
        #expect(output.timedOutAfter == 0.5 && output.status == 128 + SIGKILL)
        let started = try String(contentsOfFile: pids, encoding: .utf8).split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(started.count == 2)
        for pid in started {
            // Reaped by now, or about to be: poll until it is gone (kill -0 fails).
            var alive = true
            for _ in 0..<600 where alive {
                alive = kill(pid, 0) == 0 && !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ")
                if alive { usleep(50_000) }
            }
            #expect(!alive, "process \(pid) outlived its command's timeout")
        }
        let failure = CommandRunner.Failure(["sh", "-c", script], output)
        #expect(failure.description.hasPrefix("sh -c \(script) timed out after 0.5 s (killed)"))
        #expect(throws: CommandRunner.Failure.self) { try CommandRunner(timeout: 0.5).run(["sleep", "600"]) }
    }

    @Test func aCommandWithinItsTimeoutRunsToTheEnd() throws {
        let output = try CommandRunner(timeout: 60).output(["sh", "-c", "echo done"])
        #expect(output.status == 0 && output.stdout == "done\n" && output.timedOutAfter == nil)
    }

    @Test func privateDirectoriesAreTheOwnersOnly() throws {
        let directory = try PrivateDirectory.make(prefix: "reconcile-private")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int == 0o700)
    }

    @Test func controlCharactersAreEscapedForTheTerminal() {
        #expect("ok\u{1B}[2J\u{1B}]0;pwned\u{07}\tend\n".escapingControlCharacters == "ok\\x1b[2J\\x1b]0;pwned\\x07\tend\n")
        #expect("caf\u{E9} \u{9B}".escapingControlCharacters == "caf\u{E9} \\x9b")
        #expect("plain".escapingControlCharacters == "plain")
    }
}
