import Basics
import DesiredState
import Engine
import Foundation

/// Host reservations for ISC dhcpd on a host with the dhcp role.
///
/// reconcile owns one hosts file (`Host.dhcp.hostsFile`) whole and the `include` line that
/// brings it into dhcpd.conf; nothing else in dhcpd.conf is ever written. A candidate file is
/// checked with `dhcpd -t` before it replaces the live one, and dhcpd is restarted once per
/// run, only when something changed. Shaped so that a Kea backend could sit beside it.
public struct DHCPProvider: Provider {
    public static let hostType = "dhcp_host"
    public static let includeType = "dhcpd_include"
    /// The hosts file itself, planned only when it is not (yet) reconcile's: a file without
    /// reconcile's header is someone else's, and adopting it must be asked for.
    public static let hostsFileType = "dhcp_hosts_file"
    public static let service = ResourceID("service", "dhcpd")

    public let name = "dhcpd"
    public let resourceTypes: Set<String> = [hostType, includeType, hostsFileType, service.type]

    let settings: Node.DHCPSettings
    let runner: CommandRunner
    /// Take over an existing hosts file that reconcile did not write (`--adopt`).
    let adopt: Bool
    /// The hosts file as it was before this run wrote it, for restoring when dhcpd will not start.
    /// `.some(nil)` when there was no file; nil until this run writes it.
    private let previous = Locked<String??>(nil)

    public init(host: Node, runner: CommandRunner? = nil, adopt: Bool = false) {
        settings = host.dhcp
        self.runner = runner ?? CommandRunner(netns: host.netns)
        self.adopt = adopt
    }

    // MARK: - Plan

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let liveText = try DHCPConfigScanner.read(settings.hostsFile)
        let foreign = try DHCPConfigScanner.scanTree(settings.config, excluding: settings.hostsFile)
        let ownership = hostsFileResource(liveText)
        let dependsOn = ownership.map { [$0.id] } ?? []
        // Someone else's file holds no reservations of ours: none of its blocks is planned away.
        let ours = ownership?.conflict == nil
        let live = ours ? liveText.map { DHCPHostsFile.parse($0, file: settings.hostsFile) } ?? [:] : [:]
        let notify = [Notify(Self.service)]
        var resources: [Resource] = ownership.map { [$0] } ?? []
        let wanted = DHCPReservation.all(in: desired)
        for reservation in wanted {
            let id = ResourceID(Self.hostType, reservation.name)
            let conflict = collision(of: reservation, with: foreign)
            guard let current = live[reservation.name] else {
                resources.append(Resource(
                    id, action: .create, summary: "\(reservation.mac) → \(reservation.ip) (\(reservation.hostname))",
                    dependsOn: dependsOn, notifies: notify, conflict: conflict, source: reservation.source
                ))
                continue
            }
            let changes = zip(current.properties, reservation.properties).compactMap { live, want in
                live.1 == want.1 ? nil : PropertyChange(want.0, from: live.1, to: want.1)
            }
            resources.append(Resource(id, action: changes.isEmpty ? nil : .update, changes: changes, dependsOn: dependsOn,
                                      notifies: notify, conflict: changes.isEmpty ? nil : conflict, source: reservation.source))
        }
        let wantedNames = Set(wanted.map(\.name))
        for name in live.keys.sorted() where !wantedNames.contains(name) {
            let gone = live[name].map { "\($0.mac) → \($0.ip) (\($0.hostname))" }
            resources.append(Resource(ResourceID(Self.hostType, name), action: .delete, summary: gone, dependsOn: dependsOn, notifies: notify))
        }
        if let include = try includeResource(dependsOn: dependsOn, needed: !wanted.isEmpty) { resources.append(include) }
        return resources
    }

    /// The hosts file as a resource of its own when reconcile may not simply write it: it is
    /// dhcpd.conf under another name, or it exists without reconcile's header (someone else's
    /// file — `hostsFile: /etc/passwd`). The reservations depend on it, so they are skipped
    /// while it is in conflict.
    private func hostsFileResource(_ liveText: String?) -> Resource? {
        let id = ResourceID(Self.hostsFileType, settings.hostsFile)
        let hostsPath = URL(fileURLWithPath: settings.hostsFile).resolvingSymlinksInPath().path
        if hostsPath == URL(fileURLWithPath: settings.config).resolvingSymlinksInPath().path {
            return Resource(id, action: .update, conflict: "\(settings.hostsFile) is the dhcpd config \(settings.config); the hosts file must be a file of its own",
                            isInventoried: false)
        }
        guard let liveText, !liveText.hasPrefix(DHCPHostsFile.header) else { return nil }
        guard adopt else {
            return Resource(id, action: .update, conflict: "\(settings.hostsFile) exists and was not written by reconcile (it does not start with reconcile's header); "
                                + "choose another hostsFile, or run with --adopt to take it over (its host blocks become reconcile's)",
                            isInventoried: false)
        }
        let blocks = DHCPHostsFile.parse(liveText, file: settings.hostsFile).count
        return Resource(id, action: .update, changes: [PropertyChange("owner", from: "not reconcile (\(blocks) host blocks)", to: "reconcile (adopted)")],
                        notifies: [Notify(Self.service)], isInventoried: false)
    }

    /// The `include "<hostsFile>";` line dhcpd.conf needs, exactly once; none is added for a
    /// node without reservations (`needed` false), and one already there stays.
    private func includeResource(dependsOn: [ResourceID], needed: Bool) throws -> Resource? {
        let id = ResourceID(Self.includeType, settings.config)
        let text: String?
        do {
            text = try DHCPConfigScanner.read(settings.config)
        } catch {
            return Resource(id, action: .create, conflict: "cannot read \(settings.config): \(error)", isInventoried: false)
        }
        guard let text else {
            return needed ? Resource(id, action: .create, conflict: "\(settings.config) does not exist", isInventoried: false) : nil
        }
        let count = DHCPConfigScanner.scan(text, file: settings.config).includes.filter { $0 == settings.hostsFile }.count
        switch count {
        case 0 where !needed:
            return nil
        case 0:
            return Resource(id, action: .create, changes: [PropertyChange("include", from: nil, to: "\"\(settings.hostsFile)\"")],
                            dependsOn: dependsOn, notifies: [Notify(Self.service)], isInventoried: false)
        case 1:
            return Resource(id, action: nil, isInventoried: false)
        default:
            // Two writers, or a hand edit: dhcpd -t rejects the hosts declared twice.
            return Resource(id, action: .update, changes: [PropertyChange("include lines", from: "\(count)", to: "1")],
                            dependsOn: dependsOn, notifies: [Notify(Self.service)], isInventoried: false)
        }
    }

    /// A host declaration outside our file that would clash with `reservation`.
    private func collision(of reservation: DHCPReservation, with foreign: [DHCPConfigScanner.HostDeclaration]) -> String? {
        for host in foreign {
            let clash: String? =
                if host.name == reservation.name { "name \(host.name)" }
                else if host.mac == reservation.mac { "MAC \(reservation.mac)" }
                else if host.ips.contains(reservation.ip) { "IP \(reservation.ip)" }
                else { nil }
            if let clash {
                let ours = reservation.source.map { " declared at \($0)" } ?? ""
                return "host \(reservation.name)\(ours) collides with host \(host.name) at \(host.location) (same \(clash))"
            }
        }
        return nil
    }

    // MARK: - Converge

    public func converge(_ resources: [Resource], desired: DesiredState) async -> [ResourceID: String] {
        do {
            let oldText = try DHCPConfigScanner.read(settings.hostsFile)
            // Never write a file that is not ours, whatever else this batch holds.
            if let refusal = hostsFileResource(oldText)?.conflict { return resources.failing(with: refusal) }
            var entries = oldText.map { DHCPHostsFile.parse($0, file: settings.hostsFile) } ?? [:]
            let wanted = Dictionary(DHCPReservation.all(in: desired).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for resource in resources where resource.id.type == Self.hostType {
                entries[resource.id.name] = resource.action == .delete ? nil : wanted[resource.id.name]
            }
            let candidate = DHCPHostsFile.render(Array(entries.values))
            let include = resources.first { $0.id.type == Self.includeType }
            let addInclude = include?.action == .create
            try check(candidate, addingInclude: addInclude, deduplicating: include?.action == .update)
            if candidate != oldText {
                previous.withLock { if $0 == nil { $0 = .some(oldText) } }
                try AtomicFile.write(Data(candidate.utf8), to: settings.hostsFile)
            }
            if addInclude { try appendInclude() }
            if include?.action == .update { try removeDuplicateIncludes() }
            return [:]
        } catch {
            return resources.failing(with: "\(error)")
        }
    }

    /// Runs `dhcpd -t` on a copy of dhcpd.conf that includes `candidate` instead of the live file.
    private func check(_ candidate: String, addingInclude: Bool, deduplicating: Bool) throws {
        let directory = try PrivateDirectory.make(prefix: "reconcile-dhcpd")
        defer { try? FileManager.default.removeItem(at: directory) }
        let candidatePath = directory.appendingPathComponent("hosts.conf").path
        let configPath = directory.appendingPathComponent("dhcpd.conf").path
        try Data(candidate.utf8).write(to: URL(fileURLWithPath: candidatePath))
        guard let live = try DHCPConfigScanner.read(settings.config) else { throw RunError("\(settings.config) does not exist") }
        var config = (deduplicating ? withoutDuplicateIncludes(live) : live)
            .replacingOccurrences(of: "\"\(settings.hostsFile)\"", with: "\"\(candidatePath)\"")
        if addingInclude { config += "\ninclude \"\(candidatePath)\";\n" }
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        let result = try CommandRunner().output(["dhcpd", "-t", "-cf", configPath])
        if result.timedOutAfter != nil { throw CommandRunner.Failure(["dhcpd", "-t", "-cf", configPath], result) }
        guard result.status == 0 else {
            let text = (result.stderr + result.stdout).replacingOccurrences(of: candidatePath, with: "candidate " + settings.hostsFile)
            throw RunError("dhcpd -t rejected the candidate hosts file: \(DHCPDOutput.errors(in: text))")
        }
    }

    /// Appends the include line; dhcpd.conf is never rewritten.
    private func appendInclude() throws {
        guard let handle = FileHandle(forWritingAtPath: settings.config) else {
            throw RunError("cannot open \(settings.config) for appending")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n\(Self.includeComment)\ninclude \"\(settings.hostsFile)\";\n".utf8))
        try handle.synchronize()
    }

    /// Removes the include lines of our hosts file after the first (and the comment reconcile
    /// wrote above each); every other line of dhcpd.conf stays as it is.
    private func removeDuplicateIncludes() throws {
        guard let text = try DHCPConfigScanner.read(settings.config) else { throw RunError("\(settings.config) does not exist") }
        var info = stat()
        let mode = stat(settings.config, &info) == 0 ? info.st_mode & 0o7777 : 0o644
        try AtomicFile.write(Data(withoutDuplicateIncludes(text).utf8), to: settings.config, mode: mode)
    }

    func withoutDuplicateIncludes(_ text: String) -> String {
        let include = "include \"\(settings.hostsFile)\";"
        var lines = text.components(separatedBy: "\n")
        var seen = false
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

    public static let includeComment = "# Added by reconcile: the host reservations it manages."

    // MARK: - Restart

    public func trigger(_ handler: ResourceID) async throws {
        let timeout = Double(settings.restartTimeout)
        let first = try runner.output(settings.restart, timeout: timeout)
        if first.timedOutAfter != nil {
            // Not retried now (a stuck restart would hold the run twice as long): the handler
            // stays pending, so the next run restarts again.
            throw RunError("\(CommandRunner.Failure(settings.restart, first)); the restart stays pending for the next run (set dhcp.restartTimeout on the Host to allow longer)")
        }
        guard first.status != 0 else { return }
        let failure = "dhcpd did not start (\(settings.restart.joined(separator: " ")) exited \(first.status)): \(DHCPDOutput.errors(in: first.stderr + first.stdout))"
        guard let old = previous.withLock({ stored in defer { stored = nil }; return stored }) else { throw RunError(failure) }
        // Put back the file dhcpd last ran with, and start it again with that.
        if let old { try AtomicFile.write(Data(old.utf8), to: settings.hostsFile) } else { try? FileManager.default.removeItem(atPath: settings.hostsFile) }
        let second = try runner.output(settings.restart, timeout: timeout)
        let restored = second.status == 0 && second.timedOutAfter == nil ? "restored the previous hosts file and restarted dhcpd"
            : "restored the previous hosts file, but dhcpd still did not start: \(DHCPDOutput.errors(in: second.stderr))"
        throw RunError("\(failure); \(restored)")
    }
}

/// dhcpd's own words: its `file line N: problem` lines, without banner and advice.
enum DHCPDOutput {
    static func errors(in text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let located = lines.filter { $0.range(of: #" line [0-9]+: "#, options: .regularExpression) != nil }
        if !located.isEmpty { return located.joined(separator: " | ") }
        let banner = ["Internet Systems Consortium", "Copyright", "All rights reserved", "For info, please visit",
                      "If you think you have received", "than a configuration issue", "bugs on either", "before submitting",
                      "process and the information", "exiting."]
        let rest = lines.filter { line in !line.isEmpty && !banner.contains { line.contains($0) } }
        return rest.isEmpty ? text.trimmingCharacters(in: .whitespacesAndNewlines) : rest.joined(separator: " | ")
    }
}
