import Basics
import Engine
import Foundation

/// What both DHCP servers' providers share about the file reconcile writes their reservations
/// to (dhcpd's hosts file, Kea's reservations list): whose it is, and putting back what it held
/// when the server refuses a change.
struct ReservationsFile {
    let path: String
    /// The type of the file's own resource (`dhcp_hosts_file`, `kea_reservations_file`).
    let type: String

    /// The file as a resource of its own when reconcile may not simply write it: it exists
    /// without reconcile's header (`foreign`: someone else's file). Taken over only with
    /// `adopt`; `entries` names what it holds and becomes reconcile's (`host blocks`), `owner`
    /// whose it was, as the plan shows it.
    func ownership(foreign: Bool, adopt: Bool, entries: String, owner: String = "not reconcile", notifies: [Notify] = []) -> Resource? {
        guard foreign else { return nil }
        let id = ResourceID(type, path)
        guard adopt else {
            return Resource(id, action: .update, conflict: "\(path) exists and was not written by reconcile (it does not start with reconcile's header); "
                                + "choose another hostsFile, or run with --adopt to take it over (its \(entries) become reconcile's)",
                            isInventoried: false)
        }
        return Resource(id, action: .update, changes: [PropertyChange("owner", from: owner, to: "reconcile (adopted)")], notifies: notifies,
                        isInventoried: false)
    }

    /// What the file holds once the plan's changes are made: `live`, with each reservation
    /// resource of `type` that changes (and is not in conflict) set to what is wanted, or gone;
    /// `renamed` (new name → old) drops the old entry of a reservation that changed its name.
    static func entries(live: [String: DHCPReservation], wanted: [DHCPReservation], resources: [Resource], type: String,
                        renamed: [String: String] = [:]) -> [DHCPReservation] {
        let byName = Dictionary(wanted.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var entries = live
        for resource in resources where resource.id.type == type && resource.action != nil && resource.conflict == nil {
            if let old = renamed[resource.id.name] { entries[old] = nil }
            entries[resource.id.name] = resource.action == .delete ? nil : byName[resource.id.name]
        }
        return Array(entries.values)
    }

    /// How a server checks a configuration: its tool (`dhcpd -t -cf`, `kea-dhcp4 -t`), how its
    /// configuration names an included file, and what its refusal says.
    struct Check {
        /// The tool's arguments for a configuration file.
        var command: (String) -> [String]
        var runner: CommandRunner
        /// The reference to an included file in the configuration (`"PATH"`, `<?include "PATH"?>`).
        var reference: (String) -> String
        /// The error for the tool's output (the candidate named as the file it stands for).
        var rejected: (String) -> String
    }

    /// Runs the server's own check on `config` (the configuration's text) with `candidate` in
    /// place of the file and each of `others` (path → text, a file an adoption rewrites) as it
    /// will be, all written into a private temporary directory that is removed after.
    func check(_ candidate: String, config: String, others: [(path: String, text: String)] = [], with check: Check) async throws {
        let directory = try PrivateDirectory.make(prefix: "reconcile-check")
        defer { try? FileManager.default.removeItem(at: directory) }
        let candidatePath = directory.appendingPathComponent("candidate").path
        let configPath = directory.appendingPathComponent(Self.checkedConfig).path
        try Data(candidate.utf8).write(to: URL(fileURLWithPath: candidatePath))
        var text = config.replacingOccurrences(of: check.reference(path), with: check.reference(candidatePath))
        for (index, other) in others.enumerated() {
            let otherPath = directory.appendingPathComponent("other-\(index)").path
            try Data(other.text.utf8).write(to: URL(fileURLWithPath: otherPath))
            text = text.replacingOccurrences(of: check.reference(other.path), with: check.reference(otherPath))
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: configPath))
        // Run beside its files, the command names the configuration as the plan shows it.
        var runner = check.runner
        runner.directory = directory.path
        let command = check.command(Self.checkedConfig)
        let result = try await runner.output(command)
        if result.timedOutAfter != nil { throw CommandRunner.Failure(command, result) }
        guard result.status == 0 else {
            let output = (result.stderr + result.stdout).replacingOccurrences(of: candidatePath, with: "candidate " + path)
                .replacingOccurrences(of: configPath, with: "the configuration").replacingOccurrences(of: Self.checkedConfig, with: "the configuration")
            throw RunError(check.rejected(output))
        }
    }

    /// The configuration ``check(_:config:others:with:)`` writes, in the private directory it runs the tool in.
    static let checkedConfig = "candidate-configuration.conf"

    /// Running the check, as an effect.
    func effect(of check: Check) -> Effect { Effect(command: check.command(Self.checkedConfig)) }

    /// Puts back what the file held before this run; removes it when there was none (only
    /// "already gone" counts as put back).
    func restore(_ previous: String?) throws {
        if let previous {
            try AtomicFile.write(Data(previous.utf8), to: path)
        } else {
            try Syscall.unlinkIfPresent(path)
        }
    }
}
