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
    public static let service = ResourceID("service", "dhcpd")

    public let name = "dhcpd"
    public let resourceTypes: Set<String> = [hostType, includeType, service.type]

    let settings: Node.DHCPSettings
    let runner: CommandRunner
    /// The hosts file as it was before this run wrote it, for restoring when dhcpd will not start.
    /// `.some(nil)` when there was no file; nil until this run writes it.
    private let previous = Locked<String??>(nil)

    public init(host: Node, runner: CommandRunner? = nil) {
        settings = host.dhcp
        self.runner = runner ?? CommandRunner(netns: host.netns)
    }

    // MARK: - Plan

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let live = try readLiveReservations()
        let foreign = DHCPConfigScanner.scanTree(settings.config, excluding: settings.hostsFile)
        let notify = [Notify(Self.service)]
        var resources: [Resource] = []
        let wanted = DHCPReservation.all(in: desired)
        for reservation in wanted {
            let id = ResourceID(Self.hostType, reservation.name)
            let conflict = collision(of: reservation, with: foreign)
            guard let current = live[reservation.name] else {
                resources.append(Resource(
                    id, action: .create, summary: "\(reservation.mac) → \(reservation.ip) (\(reservation.hostname))",
                    notifies: notify, conflict: conflict, source: reservation.source
                ))
                continue
            }
            let changes = zip(current.properties, reservation.properties).compactMap { live, want in
                live.1 == want.1 ? nil : PropertyChange(want.0, from: live.1, to: want.1)
            }
            resources.append(Resource(id, action: changes.isEmpty ? nil : .update, changes: changes, notifies: notify,
                                      conflict: changes.isEmpty ? nil : conflict, source: reservation.source))
        }
        let wantedNames = Set(wanted.map(\.name))
        for name in live.keys.sorted() where !wantedNames.contains(name) {
            resources.append(Resource(ResourceID(Self.hostType, name), action: .delete, notifies: notify))
        }
        resources.append(try includeResource())
        return resources
    }

    private func readLiveReservations() throws -> [String: DHCPReservation] {
        do {
            let text = try String(contentsOfFile: settings.hostsFile, encoding: .utf8)
            return DHCPHostsFile.parse(text, file: settings.hostsFile)
        } catch CocoaError.fileReadNoSuchFile {
            return [:]  // not written yet: every reservation is to be created
        }
    }

    /// The `include "<hostsFile>";` line dhcpd.conf needs.
    private func includeResource() throws -> Resource {
        let id = ResourceID(Self.includeType, settings.config)
        guard let text = try? String(contentsOfFile: settings.config, encoding: .utf8) else {
            return Resource(id, action: .create, conflict: "cannot read \(settings.config)", isInventoried: false)
        }
        let includes = DHCPConfigScanner.scan(text, file: settings.config).includes
        guard !includes.contains(settings.hostsFile) else { return Resource(id, action: nil, isInventoried: false) }
        return Resource(id, action: .create, changes: [PropertyChange("include", from: nil, to: "\"\(settings.hostsFile)\"")],
                        notifies: [Notify(Self.service)], isInventoried: false)
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
            let oldText = (try? String(contentsOfFile: settings.hostsFile, encoding: .utf8))
            var entries = oldText.map { DHCPHostsFile.parse($0, file: settings.hostsFile) } ?? [:]
            let wanted = Dictionary(DHCPReservation.all(in: desired).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for resource in resources where resource.id.type == Self.hostType {
                entries[resource.id.name] = resource.action == .delete ? nil : wanted[resource.id.name]
            }
            let candidate = DHCPHostsFile.render(Array(entries.values))
            let addInclude = resources.contains { $0.id.type == Self.includeType }
            try check(candidate, addingInclude: addInclude)
            if candidate != oldText {
                previous.withLock { if $0 == nil { $0 = .some(oldText) } }
                try AtomicFile.write(Data(candidate.utf8), to: settings.hostsFile)
            }
            if addInclude { try appendInclude() }
            return [:]
        } catch {
            return resources.failing(with: "\(error)")
        }
    }

    /// Runs `dhcpd -t` on a copy of dhcpd.conf that includes `candidate` instead of the live file.
    private func check(_ candidate: String, addingInclude: Bool) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-dhcpd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let candidatePath = directory.appendingPathComponent("hosts.conf").path
        let configPath = directory.appendingPathComponent("dhcpd.conf").path
        try Data(candidate.utf8).write(to: URL(fileURLWithPath: candidatePath))
        var config = try String(contentsOfFile: settings.config, encoding: .utf8)
            .replacingOccurrences(of: "\"\(settings.hostsFile)\"", with: "\"\(candidatePath)\"")
        if addingInclude { config += "\ninclude \"\(candidatePath)\";\n" }
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        let result = try CommandRunner().output(["dhcpd", "-t", "-cf", configPath])
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
        try handle.write(contentsOf: Data("\n# Added by reconcile: the host reservations it manages.\ninclude \"\(settings.hostsFile)\";\n".utf8))
        try handle.synchronize()
    }

    // MARK: - Restart

    public func trigger(_ handler: ResourceID) async throws {
        let first = try runner.output(settings.restart)
        guard first.status != 0 else { return }
        let failure = "dhcpd did not start (\(settings.restart.joined(separator: " ")) exited \(first.status)): \(DHCPDOutput.errors(in: first.stderr + first.stdout))"
        guard let old = previous.withLock({ stored in defer { stored = nil }; return stored }) else { throw RunError(failure) }
        // Put back the file dhcpd last ran with, and start it again with that.
        if let old { try AtomicFile.write(Data(old.utf8), to: settings.hostsFile) } else { try? FileManager.default.removeItem(atPath: settings.hostsFile) }
        let second = try runner.output(settings.restart)
        let restored = second.status == 0 ? "restored the previous hosts file and restarted dhcpd"
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
