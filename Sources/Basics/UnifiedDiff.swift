import Foundation

/// A unified diff of two texts, made by diffutils' `diff -u` (one process per text pair).
public enum UnifiedDiff {
    /// The diff lines after the `---`/`+++` header; empty when the texts are equal.
    public static func of(_ old: String, _ new: String) throws -> String {
        let directory = try PrivateDirectory.make(prefix: "reconcile-diff")
        defer { try? FileManager.default.removeItem(at: directory) }
        let before = directory.appendingPathComponent("before"), after = directory.appendingPathComponent("after")
        try Data(old.utf8).write(to: before)
        try Data(new.utf8).write(to: after)
        let arguments = ["diff", "-u", before.path, after.path]
        let result = try CommandRunner().output(arguments)
        // diff exits 0 for equal texts, 1 for different ones, 2 for trouble.
        guard result.status == 0 || result.status == 1, result.timedOutAfter == nil else { throw CommandRunner.Failure(arguments, result) }
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n")
    }
}
