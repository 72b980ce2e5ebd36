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
public struct ISCDHCPProvider: Provider {
    public static let hostType = "dhcp_host"
    public static let includeType = "dhcpd_include"
    /// The hosts file itself, planned only when it is not (yet) reconcile's: a file without
    /// reconcile's header is someone else's, and adopting it must be asked for.
    public static let hostsFileType = "dhcp_hosts_file"
    public static let service = ResourceID("service", "dhcpd")

    public let name: String
    public let resourceTypes: Set<String> = [hostType, includeType, hostsFileType, service.type]

    let settings: Node.DHCPSettings
    let runner: CommandRunner
    /// Take over an existing hosts file that reconcile did not write (`--adopt`).
    let adopt: Bool
    /// Plan only the removal of reconcile's hosts file and include line (`dhcp.isc` of a Host
    /// whose server is now Kea): the reservations moved to Kea. dhcpd is not restarted.
    let retiring: Bool

    public init(host: Node, runner: CommandRunner? = nil, adopt: Bool = false, retiring: Bool = false) {
        settings = retiring ? Node.DHCPSettings(config: host.dhcp.isc.config, hostsFile: host.dhcp.isc.hostsFile, restart: [], restartTimeout: 1)
            : host.dhcp
        self.runner = runner ?? CommandRunner(netns: host.netns)
        self.adopt = adopt
        self.retiring = retiring
        name = retiring ? "dhcpd (retiring)" : "dhcpd"
    }

    public var waitsForEarlierProviders: Bool { retiring }

    // MARK: - Plan

    public func declared(_ desired: DesiredState) -> [ResourceID] {
        retiring ? [] : DHCPReservation.all(in: desired).map { ResourceID(Self.hostType, $0.name) }
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        if retiring { return try planRetirement() }
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
        // Validation refuses two reservations of one name; one would silently replace the other.
        if let twice = Dictionary(grouping: wanted, by: \.name).first(where: { $0.value.count > 1 })?.key {
            throw RunError("two reservations are named \(twice); nothing is planned for \(settings.hostsFile)")
        }
        let renamed = Self.renamedBlocks(live: live, wanted: wanted)
        // With --adopt, hand-made blocks that hold a reservation as it is move into our file.
        let adoption = adopt ? try DHCPAdoption.plan(wanted.filter { live[$0.name] == nil && renamed[$0.name] == nil }, foreign: foreign,
                                                     config: settings.config, conflict: collision) : [:]
        let remaining = foreign.filter { !DHCPAdoption.moving(adoption).contains($0) }
        var moves: [String: Step] = [:]
        for reservation in wanted {
            let id = ResourceID(Self.hostType, reservation.name)
            var conflict = collision(of: reservation, with: remaining)
            let oldName = renamed[reservation.name]
            guard let current = live[oldName ?? reservation.name] else {
                var changes: [PropertyChange] = []
                var summary = reservation.summary
                switch adoption[reservation.name] {
                case .success(let move)?:
                    changes = [PropertyChange("host block", from: "\(move.block.name) at \(move.block.location) (hand-made)", to: "\(settings.hostsFile) (adopted)")]
                    summary += ", adopted: host \(move.block.name) moves here from \(move.block.location)"
                    moves[reservation.name] = move.step
                case .failure(let why)?: conflict = conflict.map { "\($0); \(why)" } ?? "\(why)"
                case nil: break
                }
                resources.append(Resource(
                    id, action: .create, changes: changes, summary: summary,
                    dependsOn: dependsOn, notifies: notify, conflict: conflict, source: reservation.source
                ))
                continue
            }
            let changes = oldName.map { [PropertyChange("host block", from: $0, to: reservation.name)] } ?? []
                + zip(current.properties, reservation.properties).compactMap { live, want in
                    live.1 == want.1 ? nil : PropertyChange(want.0, from: live.1, to: want.1)
                }
            resources.append(Resource(id, action: changes.isEmpty ? nil : .update, changes: changes, dependsOn: dependsOn,
                                      notifies: notify, conflict: changes.isEmpty ? nil : conflict, source: reservation.source))
        }
        let keptNames = Set(wanted.map(\.name)).union(renamed.values)
        for name in live.keys.sorted() where !keptNames.contains(name) {
            resources.append(Resource(ResourceID(Self.hostType, name), action: .delete, summary: live[name]?.summary, dependsOn: dependsOn, notifies: notify))
        }
        if let include = try includeResource(dependsOn: dependsOn, needed: !wanted.isEmpty) { resources.append(include) }
        attachSteps(to: &resources, liveText: liveText, live: live, wanted: wanted, renamed: renamed)
        for index in resources.indices where resources[index].conflict == nil {
            if let move = moves[resources[index].id.name], resources[index].id.type == Self.hostType { resources[index].steps.append(move) }
        }
        return resources
    }

    /// Live blocks that hold a wanted reservation under another name (new name → old name):
    /// same MAC, and neither name is taken. Earlier versions named a VM's block after its uuid;
    /// renaming it is a change of that reservation, not a removal and a new one.
    static func renamedBlocks(live: [String: DHCPReservation], wanted: [DHCPReservation]) -> [String: String] {
        let wantedNames = Set(wanted.map(\.name))
        var byMAC: [String: String] = [:]
        for (name, block) in live where !wantedNames.contains(name) { byMAC[block.mac] = byMAC[block.mac].map { min($0, name) } ?? name }
        var renamed: [String: String] = [:]
        for reservation in wanted where live[reservation.name] == nil {
            if let old = byMAC.removeValue(forKey: reservation.mac) { renamed[reservation.name] = old }
        }
        return renamed
    }

    /// One candidate hosts file for the whole plan: the live reservations with each planned
    /// change that can be made (not a conflicting one); every resource that changes it carries
    /// it, with the file it replaces. Fingerprints: a reservation's live block and any clash,
    /// the file itself for the hosts-file and include resources.
    private func attachSteps(to resources: inout [Resource], liveText: String?, live: [String: DHCPReservation], wanted: [DHCPReservation],
                             renamed: [String: String]) {
        let candidate = DHCPHostsFile.render(ReservationsFile.entries(live: live, wanted: wanted, resources: resources, type: Self.hostType,
                                                                      renamed: renamed))
        let write = candidate == liveText ? nil : Step.dhcpd(.writeHostsFile(FileChange(path: settings.hostsFile, content: candidate, previous: liveText)))
        for index in resources.indices {
            let resource = resources[index]
            switch resource.id.type {
            case Self.hostType:
                let block = live[renamed[resource.id.name] ?? resource.id.name].map { "\($0.mac) \($0.ip) \($0.hostname)" } ?? "(absent)"
                resources[index].fingerprint = Fingerprint.of([block, resource.conflict ?? ""])
            case Self.hostsFileType:
                resources[index].fingerprint = Fingerprint.of([liveText ?? "(absent)"])
            default:
                continue  // the include resource made its own
            }
            if resource.action != nil, resource.conflict == nil, let write { resources[index].steps = [write] }
        }
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
        guard let liveText else { return nil }
        let blocks = DHCPHostsFile.parse(liveText, file: settings.hostsFile).count
        return hostsFile.ownership(foreign: !liveText.hasPrefix(DHCPHostsFile.header), adopt: adopt, entries: "host blocks",
                                   owner: "not reconcile (\(blocks) host blocks)", notifies: [Notify(Self.service)])
    }

    var hostsFile: ReservationsFile { ReservationsFile(path: settings.hostsFile, type: Self.hostsFileType) }

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
        let fingerprint = Fingerprint.of([text])
        switch count {
        case 0 where !needed:
            return nil
        case 0:
            let line = "\n\(Self.includeComment)\ninclude \"\(settings.hostsFile)\";\n"
            return Resource(id, action: .create, changes: [PropertyChange("include", from: nil, to: "\"\(settings.hostsFile)\"")],
                            dependsOn: dependsOn, notifies: [Notify(Self.service)], isInventoried: false,
                            steps: [.dhcpd(.appendInclude(FileChange(path: settings.config, content: text + line, previous: text)))], fingerprint: fingerprint)
        case 1:
            return Resource(id, action: nil, isInventoried: false, fingerprint: fingerprint)
        default:
            // Two writers, or a hand edit: dhcpd -t rejects the hosts declared twice.
            return Resource(id, action: .update, changes: [PropertyChange("include lines", from: "\(count)", to: "1")],
                            dependsOn: dependsOn, notifies: [Notify(Self.service)], isInventoried: false,
                            steps: [.dhcpd(.rewriteConfig(FileChange(path: settings.config, content: removingIncludes(from: text, keepFirst: true), previous: text)))],
                            fingerprint: fingerprint)
        }
    }

    /// The hosts file (when reconcile wrote it) and the include line go; each of its blocks is
    /// listed as going, but none is a declared object removed: they moved to the new server.
    private func planRetirement() throws -> [Resource] {
        var resources: [Resource] = []
        if let text = try DHCPConfigScanner.read(settings.config) {
            let count = DHCPConfigScanner.scan(text, file: settings.config).includes.filter { $0 == settings.hostsFile }.count
            if count > 0 {
                resources.append(Resource(ResourceID(Self.includeType, settings.config), action: .delete,
                                          changes: [PropertyChange("include", from: "\"\(settings.hostsFile)\"", to: nil)], isInventoried: false,
                                          steps: [.dhcpd(.removeInclude(FileChange(path: settings.config, content: removingIncludes(from: text, keepFirst: false), previous: text)))],
                                          fingerprint: Fingerprint.of([text])))
            }
        }
        guard let liveText = try DHCPConfigScanner.read(settings.hostsFile), liveText.hasPrefix(DHCPHostsFile.header) else { return resources }
        let removal = Step.dhcpd(.removeHostsFile(path: settings.hostsFile, previous: liveText))
        let blocks = DHCPHostsFile.parse(liveText, file: settings.hostsFile)
        for name in blocks.keys.sorted() {
            resources.append(Resource(ResourceID(Self.hostType, name), action: .delete, summary: blocks[name]?.summary, isDeclaredObject: false,
                                      steps: [removal], fingerprint: Fingerprint.of([liveText])))
        }
        resources.append(Resource(ResourceID(Self.hostsFileType, settings.hostsFile), action: .delete, isInventoried: false,
                                  steps: [removal], fingerprint: Fingerprint.of([liveText])))
        return resources
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
}
