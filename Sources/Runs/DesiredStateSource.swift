import Basics
import DesiredState
import Engine
import Foundation
import Git

/// Where a run reads its desired state: a plain directory, or a commit of a git repository
/// mirrored in the state directory (never a working copy).
public enum DesiredStateSource: Sendable {
    case directory(String)
    case repository(GitSource)

    /// A branch, tag or commit of a repository, and the subdirectory to read.
    public struct GitSource: Sendable {
        /// A path, `file://`, `https://` or `ssh://user@host/path`.
        public var url: String
        public var ref: String
        public var path: String
        /// Read the last fetch; fetch nothing.
        public var offline: Bool
        /// The private key for `ssh://` URLs.
        public var sshKey: String?
        /// The hosts whose keys an `ssh://` server may present; nil: `~/.ssh/known_hosts`.
        public var knownHosts: String?
        /// A file holding the password for an `https://user@host/…` URL (never in the URL:
        /// that is stored and shown).
        public var passwordFile: String?
        /// Only commits signed by an allowed key load (`--verify-signatures`).
        public var signatures: SignaturePolicy?

        public init(url: String, ref: String = "main", path: String = "", offline: Bool = false, sshKey: String? = nil,
                    knownHosts: String? = nil, passwordFile: String? = nil, signatures: SignaturePolicy? = nil) {
            (self.url, self.ref, self.path, self.offline, self.sshKey, self.knownHosts) = (url, ref, path, offline, sshKey, knownHosts)
            (self.passwordFile, self.signatures) = (passwordFile, signatures)
        }

        /// Fetches, then records which URL the mirror now holds (`--offline` reads only that).
        func fetch(_ repository: Repository, stateDirectory: String) throws {
            let password = try passwordFile.map { file in
                String(decoding: try BoundedFile.read(file, limit: 4096), as: UTF8.self).trimmingCharacters(in: .newlines)
            }
            try repository.fetch(sshKey: sshKey, knownHosts: knownHosts.map { try KnownHosts(path: $0) }, password: password)
            try AtomicFile.write(Data((url + "\n").utf8), to: Self.fetchedFile(stateDirectory), mode: 0o600)
        }

        static func fetchedFile(_ stateDirectory: String) -> String { stateDirectory + "/mirror.fetched" }

        /// Refuses to plan offline from a mirror whose last fetch was of another URL (the URL
        /// given may have been mistyped, or the mirror may hold a different repository).
        func checkOffline(stateDirectory: String) throws {
            let path = Self.fetchedFile(stateDirectory)
            let fetched: String
            do {
                fetched = String(decoding: try BoundedFile.read(path, limit: 64 << 10), as: UTF8.self).trimmingCharacters(in: .newlines)
            } catch let error as SystemError where error.code == ENOENT {
                throw RunError("nothing has been fetched into \(stateDirectory) yet; run once without --offline")
            }
            guard fetched == url else {
                throw RunError("the mirror in \(stateDirectory) was last fetched from \(fetched), not \(url); run once without --offline")
            }
        }

        func mirror(_ stateDirectory: String) throws -> Repository {
            try Repository.mirror(stateDirectory + "/mirror.git", url: url)
        }
    }

    /// What a run read: the validated state and the revision it came from.
    public struct Loaded: Sendable {
        public var state: DesiredState
        public var revision: String
        public var note: String?
        /// Who signed the commit, when signatures are verified.
        public var signer: String?
    }

    /// A revision that could be named but not loaded (for the run record).
    public struct Failure: Error, CustomStringConvertible {
        public var revision: String
        public var note: String?
        /// Present when the desired state itself is invalid (exit 65); otherwise a fetch or read failed.
        public var invalid: InvalidDesiredState?
        /// The commit is not signed by an allowed key: nothing was loaded (exit 77).
        public var rejected = false
        public var description: String
    }

    /// Loads it; the state directory's lock must be held (the mirror lives there).
    /// `beforeValidating` gets the directory of YAML files about to be loaded; `lastApplied`
    /// the commit the last applied run came from (where history-mode verification starts).
    public func load(stateDirectory: String, lastApplied: () throws -> String? = { nil }, beforeValidating: (String) -> Void = { _ in }) throws -> Loaded {
        switch self {
        case .directory(let directory):
            beforeValidating(directory)
            let state = try Self.validate(directory: directory, displayedAs: nil, revision: "", note: nil)
            return Loaded(state: state, revision: state.revision, note: nil)
        case .repository(let git):
            let export = try PrivateDirectory.make(prefix: "reconcile-export").path
            defer { try? FileManager.default.removeItem(atPath: export) }
            let commit: Repository.Commit
            var signer: String?
            do {
                // Offline reads the last fetch of this very repository, never another's.
                if git.offline { try git.checkOffline(stateDirectory: stateDirectory) }
                let repository = try git.mirror(stateDirectory)
                if !git.offline { try git.fetch(repository, stateDirectory: stateDirectory) }
                commit = try repository.resolve(git.ref)
                do {
                    // Before a byte of the commit is read as desired state.
                    if let policy = git.signatures {
                        signer = try policy.verify(commit.id, lastApplied: policy.mode == .history ? lastApplied() : nil, in: repository)
                    }
                } catch let rejection as SignaturePolicy.Rejection {
                    var failure = Failure(revision: commit.id, note: "\(commit.author): \(commit.subject)", invalid: nil, description: rejection.description)
                    failure.rejected = true
                    throw failure
                }
                try repository.exportDesiredState(commit: commit, path: git.path, to: export)
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure(revision: git.ref, note: nil, invalid: nil,
                              description: "\(error)" + (git.offline ? " (offline: nothing is fetched)" : ""))
            }
            let note = "\(commit.author): \(commit.subject)"
            beforeValidating(export)
            let state = try Self.validate(directory: export, displayedAs: git.path, revision: commit.id, note: note)
            return Loaded(state: state, revision: commit.id, note: note, signer: signer)
        }
    }

    private static func validate(directory: String, displayedAs: String?, revision: String, note: String?) throws -> DesiredState {
        do {
            return try DesiredState.load(directory: directory, displayedAs: displayedAs)
        } catch let invalid as InvalidDesiredState {
            throw Failure(revision: revision.isEmpty ? "invalid" : revision, note: note, invalid: invalid, description: invalid.description)
        } catch {
            // The directory itself is missing or unreadable: the source failed, not the YAML.
            throw Failure(revision: revision.isEmpty ? "unreadable" : revision, note: note, invalid: nil,
                          description: "cannot read the desired state: \(error)")
        }
    }
}

extension DesiredStateSource {
    /// For a repository: the commit id the ref names in the mirror as last fetched, without
    /// reading its tree (the daemon's cheap "did anything change"). nil for a directory.
    public func lastFetchedRevision(stateDirectory: String) throws -> String? {
        guard case .repository(let git) = self else { return nil }
        return try git.mirror(stateDirectory).resolve(git.ref).id
    }

    /// Fetches a repository source's mirror (nothing for a directory).
    public func fetch(stateDirectory: String) throws {
        guard case .repository(let git) = self else { return }
        try git.fetch(git.mirror(stateDirectory), stateDirectory: stateDirectory)
    }

    /// The same source, read from the last fetch.
    public var offline: DesiredStateSource {
        guard case .repository(var git) = self else { return self }
        git.offline = true
        return .repository(git)
    }
}
