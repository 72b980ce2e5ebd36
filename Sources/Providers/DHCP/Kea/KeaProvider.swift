import Basics
import DesiredState
import Engine
import Foundation

/// Host reservations for Kea (`dhcp: {server: kea}`) on a host with the dhcp role.
///
/// reconcile owns one file (`hostsFile`), a JSON list of reservations that a subnet of the
/// operator's kea-dhcp4.conf includes: `"reservations": <?include "PATH"?>`. It never writes
/// kea-dhcp4.conf. Live state is that file and what Kea has loaded (`config-get` over the
/// control socket). A candidate file is checked with `kea-dhcp4 -t` (in the Host's network
/// namespace: Kea checks that its interfaces exist) before it replaces the live one, then
/// loaded with `config-reload`: Kea keeps running and keeps its leases. Kea 2.2 does not roll
/// back a reload it rejects (it stops serving until a good one), so nothing is loaded that
/// was not checked, and a rejected reload puts the previous file back and reloads it.
public struct KeaProvider: Provider {
    public static let reservationType = "kea_reservation"
    /// The reservations file, planned only when it is not (yet) reconcile's.
    public static let fileType = "kea_reservations_file"
    /// kea-dhcp4.conf's include of the reservations file: checked, never written.
    public static let includeType = "kea_include"
    /// What Kea has loaded, planned when it differs from the reservations file.
    public static let loadedType = "kea_loaded"

    public let name = "kea"
    public let resourceTypes: Set<String> = [reservationType, fileType, includeType, loadedType]

    let settings: Node.DHCPSettings
    let runner: CommandRunner
    /// Take over an existing reservations file that reconcile did not write (`--adopt`).
    let adopt: Bool
    var control: KeaControl { KeaControl(socket: settings.controlSocket, recorder: runner.recorder) }

    public init(host: Node, runner: CommandRunner? = nil, adopt: Bool = false) {
        settings = host.dhcp
        self.runner = runner ?? CommandRunner(netns: host.netns)
        self.adopt = adopt
    }

    /// What Kea runs with: its subnets, and the reservations of reconcile's it has loaded.
    struct Loaded {
        var subnets: [(id: Int, network: IPv4Network)] = []
        var reservations: [String: DHCPReservation] = [:]
    }

    // MARK: - Plan

    public func declared(_ desired: DesiredState) -> [ResourceID] {
        DHCPReservation.all(in: desired).map { ResourceID(Self.reservationType, $0.name) }
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let liveText = try DHCPConfigScanner.read(settings.hostsFile)
        let config = try DHCPConfigScanner.read(settings.config)
        let loaded = try await readLoaded()
        var resources = [fileResource(liveText), includeResource(config)].compactMap { $0 }
        let dependsOn = resources.map(\.id)
        // Someone else's file holds no reservations of ours: none of its entries is planned away.
        let ours = resources.first { $0.id.type == Self.fileType }?.conflict == nil
        let live = ours ? try liveText.map { try KeaReservationsFile.parse($0, file: settings.hostsFile) } ?? [:] : [:]
        let wanted = DHCPReservation.all(in: desired)
        for reservation in wanted {
            let id = ResourceID(Self.reservationType, reservation.name)
            let subnet = IPv4Address(reservation.ip).flatMap { ip in loaded.subnets.first { $0.network.contains(ip) } }
            let summary = reservation.summary + (subnet.map { " in subnet \($0.network) (id \($0.id))" } ?? "")
            let conflict = subnet != nil ? nil : outsideEverySubnet(reservation, loaded.subnets)
            guard let current = live[reservation.name] else {
                resources.append(Resource(id, action: .create, summary: summary, dependsOn: dependsOn, conflict: conflict, source: reservation.source))
                continue
            }
            let changes = zip(current.keaProperties, reservation.keaProperties).compactMap { live, want in
                live.1 == want.1 ? nil : PropertyChange(want.0, from: live.1, to: want.1)
            }
            resources.append(Resource(id, action: changes.isEmpty ? nil : .update, changes: changes, summary: summary, dependsOn: dependsOn,
                                      conflict: changes.isEmpty ? nil : conflict, source: reservation.source))
        }
        let wantedNames = Set(wanted.map(\.name))
        for name in live.keys.sorted() where !wantedNames.contains(name) {
            resources.append(Resource(ResourceID(Self.reservationType, name), action: .delete, summary: live[name]?.summary, dependsOn: dependsOn))
        }
        if ours, liveText != nil, let drift = loadedDrift(file: live, loaded: loaded.reservations) { resources.append(drift) }
        try attachSteps(to: &resources, liveText: liveText, live: live, loaded: loaded, wanted: wanted)
        return resources
    }

    /// `config-get`: the subnets (also those of shared networks) and reconcile's reservations in them.
    private func readLoaded() async throws -> Loaded {
        let response = try await control.run("config-get")
        guard let dhcp4 = response.arguments?["Dhcp4"] as? [String: Any] else {
            throw RunError("Kea's config-get on \(settings.controlSocket) returned no Dhcp4 configuration")
        }
        let shared = (dhcp4["shared-networks"] as? [[String: Any]] ?? []).flatMap { $0["subnet4"] as? [[String: Any]] ?? [] }
        var loaded = Loaded()
        var reservations: [Any] = []
        for subnet in (dhcp4["subnet4"] as? [[String: Any]] ?? []) + shared {
            if let text = subnet["subnet"] as? String, let network = try? IPv4Network(parsing: text) {
                loaded.subnets.append((subnet["id"] as? Int ?? 0, network))
            }
            reservations += subnet["reservations"] as? [Any] ?? []
        }
        loaded.reservations = KeaReservationsFile.reservations(in: reservations)
        return loaded
    }

    private func outsideEverySubnet(_ reservation: DHCPReservation, _ subnets: [(id: Int, network: IPv4Network)]) -> String {
        let declared = reservation.source.map { " declared at \($0)" } ?? ""
        let list = subnets.isEmpty ? "it has none" : subnets.map { "\($0.network) (id \($0.id))" }.joined(separator: ", ")
        return "reservation \(reservation.name)\(declared) is for \(reservation.ip), outside every subnet of Kea's configuration \(settings.config): \(list)"
    }

    /// Reservations Kea has loaded that are not the file's (a hand edit never reloaded, a
    /// reload that failed): reloading the file corrects it.
    private func loadedDrift(file: [String: DHCPReservation], loaded: [String: DHCPReservation]) -> Resource? {
        let differing = Set(file.keys).union(loaded.keys).filter { file[$0]?.keaProperties.map(\.1) != loaded[$0]?.keaProperties.map(\.1) }
        guard !differing.isEmpty else { return nil }
        let names = differing.sorted().prefix(5).joined(separator: ", ") + (differing.count > 5 ? ", …" : "")
        return Resource(ResourceID(Self.loadedType, settings.controlSocket), action: .update,
                        changes: [PropertyChange("loaded reservations", from: "\(differing.count) differ from \(settings.hostsFile) (\(names))", to: "reloaded")],
                        isInventoried: false)
    }

    /// One candidate file for the whole plan: the live reservations with each planned change
    /// that can be made (not a conflicting one); every resource that changes it carries it,
    /// with the file it replaces, and the reload. Fingerprints: a reservation's entry in the
    /// file and in Kea; the file itself for the file and include resources.
    private func attachSteps(to resources: inout [Resource], liveText: String?, live: [String: DHCPReservation], loaded: Loaded,
                             wanted: [DHCPReservation]) throws {
        let candidate = try KeaReservationsFile.render(ReservationsFile.entries(live: live, wanted: wanted, resources: resources, type: Self.reservationType))
        let write = candidate == liveText ? nil : Step.kea(.writeFile(FileChange(path: settings.hostsFile, content: candidate, previous: liveText)))
        let reload = Step.kea(.reload(socket: settings.controlSocket))
        for index in resources.indices {
            let resource = resources[index]
            switch resource.id.type {
            case Self.reservationType:
                let entries = [live[resource.id.name], loaded.reservations[resource.id.name]].map { $0?.keaProperties.map(\.1).joined(separator: " ") ?? "(absent)" }
                resources[index].fingerprint = Fingerprint.of(entries + [resource.conflict ?? ""])
            case Self.loadedType:
                resources[index].fingerprint = Fingerprint.of(loaded.reservations.keys.sorted().map { loaded.reservations[$0]?.summary ?? "" })
            default:
                resources[index].fingerprint = Fingerprint.of([liveText ?? "(absent)"])
            }
            guard resource.action != nil, resource.conflict == nil else { continue }
            resources[index].steps = (resource.id.type == Self.loadedType ? [] : write.map { [$0] } ?? []) + [reload]
        }
    }

    /// The file as a resource of its own when reconcile may not simply write it: it holds
    /// reservations without reconcile's header (someone else's), unless adopting. An empty list
    /// (`[]`, what Kea needs to start before reconcile's first run) is reconcile's to fill. The
    /// reservations depend on it, so they are skipped while it is in conflict.
    private func fileResource(_ liveText: String?) -> Resource? {
        guard let liveText else { return nil }
        let foreign = !liveText.hasPrefix(KeaReservationsFile.header)
            && (try? KeaReservationsFile.parse(liveText, file: settings.hostsFile))?.isEmpty != true
        return reservationsFile.ownership(foreign: foreign, adopt: adopt, entries: "reservations")
    }

    var reservationsFile: ReservationsFile { ReservationsFile(path: settings.hostsFile, type: Self.fileType) }

    /// kea-dhcp4.conf must include the file in a subnet; reconcile never edits it, so a
    /// missing include is a conflict that says which line to add; so is a missing file, as for dhcpd.
    private func includeResource(_ config: String?) -> Resource? {
        guard let config else {
            return Resource(ResourceID(Self.includeType, settings.config), action: .create, conflict: "\(settings.config) does not exist", isInventoried: false)
        }
        guard !config.contains("<?include \"\(settings.hostsFile)\"?>") else { return nil }
        return Resource(ResourceID(Self.includeType, settings.config), action: .create,
                        conflict: "\(settings.config) does not include \(settings.hostsFile); add "
                            + "\"reservations\": <?include \"\(settings.hostsFile)\"?> to the subnet its reservations belong to",
                        isInventoried: false)
    }

    // MARK: - Converge

    /// Runs the batch's planned steps: the candidate file is checked with `kea-dhcp4 -t`, then
    /// replaces the live one, then Kea reloads. When Kea rejects the reload, the previous file
    /// is put back and reloaded, and the run fails with Kea's own message.
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        do {
            let (planned, reloads) = Self.steps(of: resources)
            let write = try planned.flatMap(PlannedFile.pending)
            guard write != nil || reloads else { return [:] }
            if let write {
                try await check(write.content)
                var written = WrittenFiles(recorder: runner.recorder)
                try written.perform([.replace(write)])
            }
            do {
                _ = try await control.run("config-reload")
            } catch {
                guard let write else { throw error }
                try reservationsFile.restore(write.previous)
                let restored: String
                do {
                    _ = try await control.run("config-reload")
                    restored = "put the previous \(settings.hostsFile) back and reloaded it"
                } catch let again {
                    restored = "put the previous \(settings.hostsFile) back, but Kea did not load it either (\(again))"
                }
                throw RunError("\(error); \(restored)")
            }
            return [:]
        } catch {
            return resources.failing(with: "\(error)")
        }
    }

    /// The check, the file written, the reload.
    public func effects(_ batch: [Resource]) -> [Effect] {
        let (planned, reloads) = Self.steps(of: batch)
        var effects: [Effect] = []
        if let planned {
            effects += [reservationsFile.effect(of: kea), FileWrite.replace(planned).effect]
        }
        if planned != nil || reloads { effects.append(control.effect(KeaControl.request("config-reload"))) }
        return effects
    }

    /// The batch's file change and whether it reloads Kea.
    private static func steps(of resources: [Resource]) -> (write: FileChange?, reloads: Bool) {
        var write: FileChange?, reloads = false
        for case .kea(let step) in resources.uniqueSteps {
            switch step {
            case .writeFile(let change): write = change
            case .reload: reloads = true
            }
        }
        return (write, reloads)
    }

    /// `kea-dhcp4 -t` on kea-dhcp4.conf with the candidate included instead of the live file.
    private func check(_ candidate: String) async throws {
        guard let config = try DHCPConfigScanner.read(settings.config) else { throw RunError("\(settings.config) does not exist") }
        try await reservationsFile.check(candidate, config: config, with: kea)
    }

    private var kea: ReservationsFile.Check {
        ReservationsFile.Check(command: { ["kea-dhcp4", "-t", $0] }, runner: runner, reference: { "<?include \"\($0)\"?>" },
                               rejected: { "kea-dhcp4 -t rejected the candidate reservations: \(Self.errors(in: $0))" })
    }

    /// Kea's own words: its `Error encountered:` line, else its ERROR log lines without their prefix.
    static func errors(in output: String) -> String {
        let lines = output.split(separator: "\n").map(String.init)
        if let line = lines.last(where: { $0.contains("Error encountered: ") }), let range = line.range(of: "Error encountered: ") {
            return String(line[range.upperBound...])
        }
        let errors = lines.filter { $0.contains(" ERROR ") }.map { line in
            line.range(of: "] ").map { String(line[$0.upperBound...]) } ?? line
        }
        return errors.isEmpty ? output.trimmingCharacters(in: .whitespacesAndNewlines) : errors.joined(separator: " | ")
    }

    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        throw RunError("kea has no handler \(handler)")
    }
}
