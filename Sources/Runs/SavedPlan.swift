import Basics
import Engine
import Foundation
import Providers

/// A plan as `reconcile plan --out FILE` writes it and `reconcile apply FILE` applies it:
/// versioned JSON holding where the desired state came from and its revision, the options
/// that shaped the plan, and every change with the fingerprint of the live state it was
/// computed from. It is applied only on the machine and state directory it was made for.
public struct SavedPlan: Codable, Sendable {
    /// `/2`: typed steps (``Step``). A `/1` plan's steps were text; it is refused.
    public static let currentFormat = "reconcile-plan/2"
    /// Larger files are refused unread (a plan of 50,000 resources is about 50 MB).
    public static let sizeLimit = 1 << 30

    public var format: String
    public var createdAt: Date
    /// `/etc/machine-id` of the machine it was made on.
    public var machine: String
    /// The state directory it was made with (absolute): its inventory shaped the plan.
    public var stateDirectory: String
    public var node: String
    /// The desired state's revision: a commit id, or a directory's digest.
    public var revision: String
    public var source: Source
    public var options: Options
    public var plan: Plan.Stored

    public struct Source: Codable, Sendable {
        public var directory: String?
        public var repository: String?
        public var ref: String?
        public var path: String?
        public var sshKey: String?
        public var knownHosts: String?
        public var passwordFile: String?
        /// Apply verifies the commit as the plan did (the same keys, absolute paths).
        public var signatures: SignaturePolicy?
    }

    public struct Options: Codable, Sendable {
        public var allowPrune: Bool
        public var maxPruneShare: Double
        public var allowRestart: Bool
        public var shutdownTimeoutSeconds: Double
        public var adopt: Bool
        public var allowEmpty: Bool
    }

    /// The plan a dry-run of `pipeline` made, and what it was made from.
    public init(_ plan: Plan, report: RunReport, pipeline: RunPipeline) throws {
        format = Self.currentFormat
        createdAt = report.startedAt
        machine = try Self.machineID()
        stateDirectory = Self.absolute(pipeline.stateDirectory)
        node = report.node
        revision = report.revision
        switch pipeline.source {
        case .directory(let directory):
            source = Source(directory: Self.absolute(directory))
        case .repository(let git):
            // A local repository path is kept absolute, so that apply may run from anywhere.
            let local = !git.url.contains(":")
            source = Source(repository: local ? Self.absolute(git.url) : git.url, ref: git.ref, path: git.path, sshKey: git.sshKey.map(Self.absolute),
                            knownHosts: git.knownHosts.map(Self.absolute), passwordFile: git.passwordFile.map(Self.absolute),
                            signatures: git.signatures)
        }
        let timeout = pipeline.vmOptions.shutdownTimeout.components
        options = Options(allowPrune: pipeline.pruneGuard.allowPrune, maxPruneShare: pipeline.pruneGuard.maxShare,
                          allowRestart: pipeline.vmOptions.allowRestart,
                          shutdownTimeoutSeconds: Double(timeout.seconds) + Double(timeout.attoseconds) / 1e18,
                          adopt: pipeline.adopt, allowEmpty: pipeline.allowEmpty)
        self.plan = plan.stored
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try AtomicFile.write(try encoder.encode(self), to: path, mode: 0o600)
    }

    /// Reads a plan file. - Throws: ``RunError`` saying what is wrong with it.
    public static func read(_ path: String) throws -> SavedPlan {
        // A plan someone else may edit could carry any change: refused as ssh refuses such keys.
        try TrustedFile.check(path, what: "the plan")
        let data = try BoundedFile.read(path, limit: sizeLimit)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        struct Header: Decodable { var format: String? }
        guard let format = (try? decoder.decode(Header.self, from: data))?.format else {
            throw RunError("\(path) is not a reconcile plan (JSON with a \"format\" field)")
        }
        guard format == currentFormat else {
            let again = format == "reconcile-plan/1" ? " made by an earlier reconcile: run `reconcile plan --out` again" : ""
            throw RunError("\(path) is a plan of format \(format)\(again); this reconcile reads \(currentFormat)")
        }
        do {
            return try decoder.decode(SavedPlan.self, from: data)
        } catch {
            throw RunError("\(path) is not a valid plan: \(error)")
        }
    }

    /// Why this plan may not be applied with `stateDirectory` on this machine, or nil.
    public func misplaced(stateDirectory: String) throws -> String? {
        let here = try Self.machineID()
        if here != machine { return "the plan was made on another machine (machine id \(machine), this one is \(here))" }
        let directory = Self.absolute(stateDirectory)
        if directory != self.stateDirectory { return "the plan was made with the state directory \(self.stateDirectory), not \(directory)" }
        return nil
    }

    /// A plan recorded with a weaker signature check than `apply` is given.
    public struct WeakerPolicy: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The run that applies it: the same source, node and options as the dry-run that made it.
    /// - Parameter signatures: the policy `apply` was given, which verifies the commit it
    ///   fetches; nil: the one the plan records. A plan recorded with a weaker one (a plan file
    ///   edited to drop it, or made without it) is refused (``WeakerPolicy``).
    public func pipeline(trigger: String = "apply", signatures: SignaturePolicy? = nil) throws -> RunPipeline {
        if SignaturePolicy.isWeaker(source.signatures, than: signatures) {
            throw WeakerPolicy(description: "the plan was made " + (source.signatures.map { _ in "verifying only the commit to apply" } ?? "without verifying signatures")
                               + (source.repository == nil ? " (from a directory, which has no signatures)" : "")
                               + "; apply was asked to verify more: make the plan again with the same signature options")
        }
        let desiredSource: DesiredStateSource
        if let url = source.repository {
            desiredSource = .repository(.init(url: url, ref: source.ref ?? "main", path: source.path ?? "", sshKey: source.sshKey,
                                               knownHosts: source.knownHosts, passwordFile: source.passwordFile, signatures: signatures ?? source.signatures))
        } else if let directory = source.directory {
            desiredSource = .directory(directory)
        } else {
            throw RunError("the plan names no desired-state source")
        }
        var pipeline = RunPipeline(
            source: desiredSource, stateDirectory: stateDirectory, node: node, trigger: trigger, dryRun: false,
            pruneGuard: PruneGuard(allowPrune: options.allowPrune, maxShare: options.maxPruneShare),
            vmOptions: .init(allowRestart: options.allowRestart, shutdownTimeout: .milliseconds(Int64(options.shutdownTimeoutSeconds * 1000))))
        pipeline.adopt = options.adopt
        pipeline.allowEmpty = options.allowEmpty
        pipeline.saved = self
        return pipeline
    }

    /// This machine's systemd/dbus machine id; a machine without one cannot tell plans apart.
    static func machineID() throws -> String {
        let text = String(decoding: try BoundedFile.read("/etc/machine-id", limit: 4096), as: UTF8.self)
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !id.isEmpty else { throw RunError("/etc/machine-id is empty: cannot tell which machine a plan is for") }
        return id
    }

    private static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
