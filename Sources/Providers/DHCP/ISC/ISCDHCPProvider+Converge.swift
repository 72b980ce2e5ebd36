import Basics
import DesiredState
import Engine
import Foundation

extension ISCDHCPProvider {
    /// Runs the batch's planned steps: every check first — each file still as the plan read
    /// it, no reservation lost by a move, `dhcpd -t` on dhcpd.conf as the steps leave it with
    /// the candidate hosts file — then the writes (hosts file, adopted blocks' files, the
    /// include line), each put back if a later one fails. A step already carried out by an
    /// earlier batch is not redone. Retiring, the include line and the hosts file go.
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        do {
            let steps = Self.steps(of: resources)
            var written = WrittenFiles(recorder: runner.recorder)
            guard !retiring else {
                try written.perform(try Self.retirement(steps, pending: PlannedFile.pending, removable: hostsFileUnchanged))
                return [:]
            }
            let writes = try Writes(steps, config: settings.config, pending: PlannedFile.pending)
            guard !writes.isEmpty else { return [:] }
            let candidate = try writes.hostsFile?.content ?? DHCPConfigScanner.read(settings.hostsFile) ?? ""
            try DHCPAdoption.checkNothingLost(writes.moves, candidate: candidate, hostsFile: settings.hostsFile)
            try await check(candidate, config: writes.checkedConfig, moves: writes.moves.filter { $0.path != settings.config })
            try written.perform(writes.sequence)
            return [:]
        } catch {
            return resources.failing(with: "\(error)")
        }
    }

    /// The check, then the writes, as ``converge(_:)`` makes them (a batch it would refuse has none).
    public func effects(_ batch: [Resource]) -> [Effect] {
        let steps = Self.steps(of: batch)
        do {
            if retiring { return try Self.retirement(steps, pending: { $0 }, removable: { _ in true }).map(\.effect) }
            let writes = try Writes(steps, config: settings.config, pending: { $0 })
            return writes.isEmpty ? [] : [hostsFile.effect(of: dhcpdCheck)] + writes.sequence.map(\.effect)
        } catch {
            return []
        }
    }

    /// What a batch writes: each file change still `pending`, and adopted blocks leaving
    /// dhcpd.conf itself merged with its include line into one rewrite of it.
    struct Writes {
        var hostsFile: FileChange?
        var moves: [FileChange]
        /// The include line's step, unless merged into a move.
        var config: DHCPDStep?
        /// dhcpd.conf as `dhcpd -t` checks it (nil: as it is).
        var checkedConfig: FileChange?

        init(_ steps: [DHCPDStep], config path: String, pending: (FileChange) throws -> FileChange?) throws {
            hostsFile = try steps.lazy.compactMap(\.hostsFileWrite).first.flatMap(pending)
            if let step = steps.first(where: { $0.configChange != nil }), let change = step.configChange, try pending(change) != nil {
                config = step
            }
            moves = try steps.compactMap(\.adoption).compactMap(pending)
            checkedConfig = config?.configChange
            if let index = moves.firstIndex(where: { $0.path == path }) {
                moves[index] = try DHCPAdoption.mergingInclude(into: moves[index], include: config)
                (checkedConfig, config) = (moves[index], nil)
            }
        }

        var isEmpty: Bool { hostsFile == nil && config == nil && moves.isEmpty }

        /// In order: the hosts file, each adopted block's file (after its backup), the include line.
        var sequence: [FileWrite] {
            var writes = hostsFile.map { [FileWrite.replace($0)] } ?? []
            writes += moves.flatMap { [FileWrite.backup($0), .replace($0)] }
            switch config {
            case .appendInclude(let change)?: writes.append(.append(change))
            case .rewriteConfig(let change)?: writes.append(.replace(change))
            default: break
            }
            return writes
        }
    }

    /// Retiring: the include line goes first (dhcpd.conf never names a missing file), then the
    /// hosts file, each only when it is still what the plan read.
    private static func retirement(_ steps: [DHCPDStep], pending: (FileChange) throws -> FileChange?,
                                   removable: (DHCPDStep) throws -> Bool) throws -> [FileWrite] {
        var writes: [FileWrite] = []
        for case .removeInclude(let change) in steps { if let include = try pending(change) { writes.append(.replace(include)) } }
        for step in steps {
            guard case .removeHostsFile(let path, let previous) = step, try removable(step) else { continue }
            writes.append(.remove(path: path, previous: previous))
        }
        return writes
    }

    /// Whether the hosts file to remove is still what the plan read (false: already gone).
    private func hostsFileUnchanged(_ step: DHCPDStep) throws -> Bool {
        guard case .removeHostsFile(let path, let previous) = step else { return false }
        let current = try DHCPConfigScanner.read(path)
        guard current == nil || current == previous else {
            throw RunError("\(path) changed since the plan was made; it was not removed (run again to plan from what is there now)")
        }
        return current != nil
    }

    /// Runs `dhcpd -t` on dhcpd.conf as `config` leaves it, including `candidate` instead of the
    /// hosts file, and each included file `moves` rewrites as it will be.
    private func check(_ candidate: String, config: FileChange?, moves: [FileChange] = []) async throws {
        guard let planned = try config?.content ?? DHCPConfigScanner.read(settings.config) else { throw RunError("\(settings.config) does not exist") }
        try await hostsFile.check(candidate, config: planned, others: moves.map { ($0.path, $0.content) }, with: dhcpdCheck)
    }

    private var dhcpdCheck: ReservationsFile.Check {
        ReservationsFile.Check(command: { ["dhcpd", "-t", "-cf", $0] }, runner: CommandRunner(recorder: runner.recorder), reference: { "\"\($0)\"" },
                               rejected: { "dhcpd -t rejected the candidate hosts file: \(DHCPDOutput.errors(in: $0))" })
    }

    /// dhcpd.conf without the include lines of the hosts file (and the comment above each),
    /// but the first when `keepFirst`.
    func removingIncludes(from text: String, keepFirst: Bool) -> String {
        let include = "include \"\(settings.hostsFile)\";"
        var lines = text.components(separatedBy: "\n")
        var seen = !keepFirst
        var index = 0
        while index < lines.count {
            guard lines[index].trimmingCharacters(in: .whitespaces) == include else { index += 1; continue }
            if !seen { seen = true; index += 1; continue }
            lines.remove(at: index)
            if index > 0, lines[index - 1] == Self.includeComment {
                lines.remove(at: index - 1)
                index -= 1
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The dhcpd steps of a batch, each once.
    static func steps(of resources: [Resource]) -> [DHCPDStep] {
        resources.uniqueSteps.compactMap { step in if case .dhcpd(let dhcpd) = step { dhcpd } else { nil } }
    }

    public static let includeComment = "# Added by reconcile: the host reservations it manages."

    // MARK: - Restart

    /// Restarts dhcpd. When it will not start, the hosts file this run replaced (the step's
    /// `previous`, carried by the resources that notified) is put back and dhcpd started again.
    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        let timeout = Double(settings.restartTimeout)
        let first = try await runner.output(settings.restart, timeout: timeout)
        if first.timedOutAfter != nil {
            // Not retried now (a stuck restart would hold the run twice as long): the handler
            // stays pending, so the next run restarts again.
            throw RunError("\(CommandRunner.Failure(settings.restart, first)); the restart stays pending for the next run (set dhcp.restartTimeout on the Host to allow longer)")
        }
        guard first.status != 0 else { return }
        let failure = "dhcpd did not start (\(settings.restart.joined(separator: " ")) exited \(first.status)): \(DHCPDOutput.errors(in: first.stderr + first.stdout))"
        guard let written = Self.steps(of: notifiedBy).lazy.compactMap(\.hostsFileWrite).first else { throw RunError(failure) }
        // Put back the file dhcpd last ran with, and start it again with that.
        try hostsFile.restore(written.previous)
        let second = try await runner.output(settings.restart, timeout: timeout)
        let restored = second.status == 0 && second.timedOutAfter == nil ? "restored the previous hosts file and restarted dhcpd"
            : "restored the previous hosts file, but dhcpd still did not start: \(DHCPDOutput.errors(in: second.stderr))"
        throw RunError("\(failure); \(restored)")
    }
}

extension DHCPDStep {
    var hostsFileWrite: FileChange? { if case .writeHostsFile(let change) = self { change } else { nil } }
    /// The include line added to dhcpd.conf, or its doubles removed.
    var configChange: FileChange? {
        switch self {
        case .appendInclude(let change), .rewriteConfig(let change): change
        default: nil
        }
    }
    var adoption: FileChange? { if case .adoptBlocks(let change) = self { change } else { nil } }
}
