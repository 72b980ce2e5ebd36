import Basics
import Foundation
import Git
import Testing

/// A git repository made by a test with the git command line, removed afterwards.
final class TemporaryGitRepository {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-git-\(UUID().uuidString)")
    var work: String { root.appendingPathComponent("work").path }
    var mirror: String { root.appendingPathComponent("mirror").path }

    init() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
        try git("config", "user.name", "Ops Person")
        try git("config", "user.email", "ops@example.org")
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    @discardableResult
    func git(_ arguments: String...) throws -> String {
        try CommandRunner().run(["git", "-C", work] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func write(_ path: String, _ text: String) throws {
        let url = URL(fileURLWithPath: work).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func commit(_ message: String) throws -> String {
        try git("add", "-A")
        try git("commit", "-q", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    /// Fetches into the mirror and exports `ref`'s tree below `path`; returns the commit and
    /// the files whose names end in `suffix`.
    func export(_ ref: String, path: String = "", url: String? = nil, suffix: String = ".yaml") throws -> (Repository.Commit, [String: String]) {
        let repository = try Repository(mirror: mirror, url: url ?? work)
        try repository.fetch()
        let commit = try repository.resolve(ref)
        let target = root.appendingPathComponent("export-\(UUID().uuidString)").path
        try repository.exportDesiredState(commit: commit, path: path, to: target)
        var files: [String: String] = [:]
        for name in FileManager.default.enumerator(atPath: target)?.compactMap({ $0 as? String }) ?? []
        where name.hasSuffix(suffix) && (try? FileManager.default.attributesOfItem(atPath: target + "/" + name)[.type] as? FileAttributeType) == .typeRegular {
            files[name] = try String(contentsOfFile: target + "/" + name, encoding: .utf8)
        }
        return (commit, files)
    }
}

@Suite struct RepositoryTests {
    @Test func exportsTheCommittedTreeNotTheWorkingCopy() throws {
        let repo = try TemporaryGitRepository()
        try repo.write("vms/a.yaml", "kind: Network\n")
        try repo.write("README.md", "not yaml")
        let id = try repo.commit("Add network a")
        try repo.write("vms/a.yaml", "uncommitted edit\n")
        try repo.write("vms/b.yaml", "untracked\n")

        let (commit, files) = try repo.export("main")
        #expect(commit == Repository.Commit(id: id, author: "Ops Person", subject: "Add network a"))
        #expect(files == ["vms/a.yaml": "kind: Network\n"])
    }

    @Test func smallFilesBesideTheYAMLAreExportedButNotLargeOnesOrLinks() throws {
        let repo = try TemporaryGitRepository()
        try repo.write("vms/a.yaml", "kind: Network\n")
        try repo.write("cloud-init/web.cfg", "#cloud-config\n")
        try repo.write("images/big.bin", String(repeating: "x", count: Repository.exportedFileLimit + 1))
        try FileManager.default.createSymbolicLink(atPath: repo.work + "/cloud-init/passwd", withDestinationPath: "/etc/passwd")
        _ = try repo.commit("user data")
        let files = try repo.export("main", suffix: "").1
        #expect(files == ["vms/a.yaml": "kind: Network\n", "cloud-init/web.cfg": "#cloud-config\n"])
    }

    @Test func refsPickBranchesTagsAndOlderCommits() throws {
        let repo = try TemporaryGitRepository()
        try repo.write("a.yaml", "one\n")
        let first = try repo.commit("first")
        try repo.git("tag", "v1")
        try repo.write("a.yaml", "two\n")
        _ = try repo.commit("second")
        #expect(try repo.export("main").1 == ["a.yaml": "two\n"])
        #expect(try repo.export("v1").1 == ["a.yaml": "one\n"])
        #expect(try repo.export(first).1 == ["a.yaml": "one\n"])
        #expect(try repo.export(String(first.prefix(8))).0.id == first)
    }

    /// A mirror has no HEAD of its own: `HEAD` is the remote's default branch, whatever its name.
    @Test func headIsTheRemotesDefaultBranch() throws {
        let repo = try TemporaryGitRepository()
        try repo.write("a.yaml", "main\n")
        _ = try repo.commit("on main")
        try repo.git("checkout", "-q", "-b", "production")
        try repo.write("a.yaml", "prod\n")
        let production = try repo.commit("on production")
        let (commit, files) = try repo.export("HEAD")
        #expect(commit.id == production && files == ["a.yaml": "prod\n"])
    }

    @Test func aPathSelectsASubdirectory() throws {
        let repo = try TemporaryGitRepository()
        try repo.write("clusters/pool1/net.yaml", "pool1\n")
        try repo.write("clusters/pool2/net.yaml", "pool2\n")
        _ = try repo.commit("pools")
        #expect(try repo.export("main", path: "clusters/pool2").1 == ["net.yaml": "pool2\n"])
        #expect(throws: GitError.self) { try repo.export("main", path: "clusters/pool9") }
    }

    @Test func aForcePushedBranchIsFollowed() throws {
        let repo = try TemporaryGitRepository()
        try repo.write("a.yaml", "one\n")
        _ = try repo.commit("first")
        try repo.write("a.yaml", "two\n")
        _ = try repo.commit("second")
        #expect(try repo.export("main").0.subject == "second")
        try repo.git("reset", "-q", "--hard", "HEAD~1")
        try repo.write("a.yaml", "rewritten\n")
        let rewritten = try repo.commit("rewritten")
        let (commit, files) = try repo.export("main")
        #expect(commit.id == rewritten && files == ["a.yaml": "rewritten\n"])
    }

    @Test func anUnreachableRemoteOrUnknownRefIsAClearError() throws {
        let repo = try TemporaryGitRepository()
        try repo.write("a.yaml", "one\n")
        _ = try repo.commit("first")
        do {
            _ = try repo.export("main", url: "/nonexistent/repository.git")
            Issue.record("fetched from nowhere")
        } catch let error as GitError {
            #expect(error.description.hasPrefix("fetch /nonexistent/repository.git: "))
        }
        do {
            _ = try repo.export("no-such-branch")
            Issue.record("resolved a missing ref")
        } catch let error as GitError {
            #expect(error.isNotFound && error.description.hasPrefix("resolve no-such-branch: "))
        }
    }
}

@Suite struct RepositoryFailClosedTests {
    @Test func aMirrorThatCannotBeOpenedIsAnErrorNotANewMirror() throws {
        let repository = try TemporaryGitRepository()
        try repository.write("a.yaml", "kind: Network\n")
        _ = try repository.commit("first")
        _ = try Repository(mirror: repository.mirror, url: repository.work)
        // A corrupt config: opening fails with something other than "not found".
        try "[core\n\tbare = maybe [[[\n".write(toFile: repository.mirror + "/config", atomically: true, encoding: .utf8)
        do {
            _ = try Repository(mirror: repository.mirror, url: repository.work)
            Issue.record("opened a corrupt mirror")
        } catch {
            #expect(!error.isNotFound && !error.operation.hasPrefix("create") && !error.operation.hasPrefix("add origin"))
        }
    }

    @Test func anUnreadableKnownHostsFileIsAnErrorAndAMissingOneListsNoHost() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-kh-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: GitError.self) { try KnownHosts(path: directory) }  // a directory cannot be read as a file
        let missing = try KnownHosts(path: directory + "/absent")
        #expect(!missing.accepts(host: "git.example.org", port: nil, key: Data([1, 2, 3])))
    }
}

@Suite struct CommitTextTests {
    @Test func escapeSequencesInAuthorsAndSubjectsAreEscaped() throws {
        let repository = try TemporaryGitRepository()
        try repository.write("a.yaml", "kind: Network\n")
        try repository.git("add", "-A")
        try repository.git("-c", "user.name=Mallory\u{1B}[8m", "commit", "-q", "-m", "harmless\u{1B}]0;pwned\u{07}\u{1B}[2J")
        let mirror = try Repository(mirror: repository.mirror, url: repository.work)
        try mirror.fetch()
        let commit = try mirror.resolve("main")
        #expect(commit.author == "Mallory\\x1b[8m")
        #expect(commit.subject == "harmless\\x1b]0;pwned\\x07\\x1b[2J")
    }
}
