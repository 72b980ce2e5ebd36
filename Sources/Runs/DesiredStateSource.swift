import DesiredState
import Foundation
import Git

/// Where a run reads its desired state: a plain directory, or a commit of a git repository
/// mirrored in the state directory (never a working copy).
public enum DesiredStateSource: Sendable {
    case directory(String)
    case repository(url: String, ref: String, path: String, offline: Bool)

    /// What a run read: the validated state and the revision it came from.
    public struct Loaded: Sendable {
        public var state: DesiredState
        public var revision: String
        public var note: String?
    }

    /// A revision that could be named but not loaded (for the run record).
    public struct Failure: Error, CustomStringConvertible {
        public var revision: String
        public var note: String?
        /// Present when the desired state itself is invalid (exit 65); otherwise a fetch or read failed.
        public var invalid: InvalidDesiredState?
        public var description: String
    }

    /// Loads it; the state directory's lock must be held (the mirror lives there).
    public func load(stateDirectory: String) throws -> Loaded {
        switch self {
        case .directory(let directory):
            let state = try Self.validate(directory: directory, displayedAs: nil, revision: "", note: nil)
            return Loaded(state: state, revision: state.revision, note: nil)
        case .repository(let url, let ref, let path, let offline):
            let export = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-export-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: export) }
            let commit: Repository.Commit
            do {
                let repository = try Repository.mirror(stateDirectory + "/mirror.git", url: url)
                if !offline { try repository.fetch() }
                commit = try repository.resolve(ref)
                try repository.exportYAML(commit: commit, path: path, to: export)
            } catch {
                throw Failure(revision: ref, note: nil, invalid: nil, description: "\(error)" + (offline ? " (offline: nothing is fetched)" : ""))
            }
            let note = "\(commit.author): \(commit.subject)"
            let state = try Self.validate(directory: export, displayedAs: path, revision: commit.id, note: note)
            return Loaded(state: state, revision: commit.id, note: note)
        }
    }

    private static func validate(directory: String, displayedAs: String?, revision: String, note: String?) throws -> DesiredState {
        do {
            return try DesiredState.load(directory: directory, displayedAs: displayedAs)
        } catch let invalid as InvalidDesiredState {
            throw Failure(revision: revision.isEmpty ? "invalid" : revision, note: note, invalid: invalid, description: invalid.description)
        }
    }
}

extension DesiredStateSource {
    /// For a repository: the commit id the ref names in the mirror as last fetched, without
    /// reading its tree (the daemon's cheap "did anything change"). nil for a directory.
    public func lastFetchedRevision(stateDirectory: String) throws -> String? {
        guard case .repository(let url, let ref, _, _) = self else { return nil }
        return try Repository.mirror(stateDirectory + "/mirror.git", url: url).resolve(ref).id
    }

    /// Fetches a repository source's mirror (nothing for a directory).
    public func fetch(stateDirectory: String) throws {
        guard case .repository(let url, _, _, _) = self else { return }
        try Repository.mirror(stateDirectory + "/mirror.git", url: url).fetch()
    }

    /// The same source, read from the last fetch.
    public var offline: DesiredStateSource {
        guard case .repository(let url, let ref, let path, _) = self else { return self }
        return .repository(url: url, ref: ref, path: path, offline: true)
    }
}
