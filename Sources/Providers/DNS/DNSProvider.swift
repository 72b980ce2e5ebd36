import Basics
import DesiredState
import Engine
import Foundation

/// Names for VMs on a host with the dns role: `A <name>.<zone>` for each VM interface with an
/// address (named as its DHCP reservation: the VM, or `<vm>-N`) and each DHCPHost (its
/// hostname), and the PTR in the reverse zone that holds the address (none when no declared
/// reverse zone does).
///
/// Live state is one TSIG-signed zone transfer per zone (`dig AXFR`); changes go as RFC 2136
/// UPDATEs (`nsupdate`, one process per message: one per zone unless its changes exceed what a
/// DNS message holds), each change guarded by prerequisites
/// (the record set as read, or its absence), so a record someone changed between read and
/// write makes that zone's update fail instead of being overwritten. reconcile changes only
/// names it marked as its own (see ``DNSZone``): a record made by hand at a wanted name is a
/// conflict.
public struct DNSProvider: Provider {
    public static let recordType = "dns_record"
    /// The whole UPDATE of one zone: nsupdate's input.
    static let update = "nsupdate.zone"
    /// The types reconcile writes (besides its ownership TXT).
    static let managedTypes: Set<String> = ["A", "PTR"]
    static let ttl = 300

    public let name = "dns"
    public let resourceTypes: Set<String> = [recordType]

    let settings: Node.DNSSettings
    let runner: CommandRunner

    public init(host: Node, settings: Node.DNSSettings, runner: CommandRunner? = nil) {
        self.settings = settings
        self.runner = runner ?? CommandRunner(netns: host.netns, timeout: 60)
    }

    var zones: [String] { [settings.zone] + settings.reverseZones }

    /// One wanted record set.
    struct Wanted {
        var key: DNSZone.Key
        var data: Set<String>
        var zone: String
        var source: SourceLocation?
    }

    // MARK: - Plan

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        var live: [String: DNSZone] = [:]
        for zone in zones { live[zone] = try await transfer(zone) }
        let wanted = wantedRecords(desired)
        var resources: [Resource] = []
        var changes: [String: [(resource: Int, lines: [String])]] = [:]  // zone → each changing resource's update lines
        for want in wanted.values.sorted(by: { $0.key < $1.key }) {
            let zone = live[want.zone] ?? DNSZone()
            let current = zone.records[want.key]
            let ours = zone.isOurs(want.key.name)
            var resource = Resource(ResourceID(Self.recordType, Self.display(want.key)),
                                    action: current == nil ? .create : current == want.data ? nil : .update,
                                    changes: current == want.data ? [] : [PropertyChange(want.key.type, from: current.map(Self.joined), to: Self.joined(want.data))],
                                    source: want.source)
            if !ours, zone.hasRecords(at: want.key.name) {
                let found = zone.records.filter { $0.key.name == want.key.name }.keys.sorted().map { "\($0.type) \(Self.joined(zone.records[$0] ?? []))" }
                resource.conflict = "\(want.key.name) holds records reconcile did not make (\(found.joined(separator: "; "))); remove them or choose another name"
            }
            resource.fingerprint = Fingerprint.of([current.map(Self.joined) ?? "(absent)", ours ? "ours" : "not ours", resource.conflict ?? ""])
            if resource.action != nil, resource.conflict == nil {
                changes[want.zone, default: []].append((resources.count, Self.lines(for: want.key, from: current, to: want.data, ours: ours)))
            }
            resources.append(resource)
        }
        // Names marked as reconcile's that nothing wants any more.
        for zone in zones {
            guard let records = live[zone]?.records else { continue }
            for key in records.keys.sorted() where Self.managedTypes.contains(key.type) && wanted[key] == nil && live[zone]?.isOurs(key.name) == true {
                var resource = Resource(ResourceID(Self.recordType, Self.display(key)), action: .delete,
                                        changes: [PropertyChange(key.type, from: Self.joined(records[key] ?? []), to: nil)])
                resource.fingerprint = Fingerprint.of([Self.joined(records[key] ?? []), "ours", ""])
                // The mark goes with the name's last record reconcile keeps.
                let keepsName = wanted.keys.contains { $0.name == key.name }
                changes[zone, default: []].append((resources.count, Self.lines(for: key, from: records[key], to: nil, ours: true, keepOwnership: keepsName)))
                resources.append(resource)
            }
        }
        // A zone's changes travel as UPDATE messages carried by the resources they change, each
        // message a transaction; removals go in them too, not in a later batch.
        for index in resources.indices { resources[index].isDeletedInTransaction = true }
        for zone in zones {
            let messages = Self.messages(changes[zone] ?? [])
            for (number, message) in messages.enumerated() {
                let target = messages.count == 1 ? zone : "\(zone) (\(number + 1)/\(messages.count))"
                let script = (["server \(settings.server) \(settings.port)", "zone \(zone)"] + message.flatMap(\.lines) + ["send"]).joined(separator: "\n") + "\n"
                for change in message { resources[change.resource].steps = [Step(Self.update, target, input: script)] }
            }
        }
        return resources
    }

    /// A DNS message holds at most 64 KiB: a zone's changes are split, a resource's lines never,
    /// into messages of at most ``messageLimit`` bytes of nsupdate text (its wire form is smaller).
    static func messages(_ changes: [(resource: Int, lines: [String])]) -> [[(resource: Int, lines: [String])]] {
        var messages: [[(resource: Int, lines: [String])]] = []
        var size = messageLimit
        for change in changes {
            let bytes = change.lines.reduce(0) { $0 + $1.utf8.count + 1 }
            if size + bytes > messageLimit {
                messages.append([])
                size = 0
            }
            messages[messages.count - 1].append(change)
            size += bytes
        }
        return messages
    }

    static let messageLimit = 32 << 10

    /// The record sets the desired state asks for, by name and type.
    func wantedRecords(_ desired: DesiredState) -> [DNSZone.Key: Wanted] {
        var wanted: [DNSZone.Key: Wanted] = [:]
        func add(_ label: String, _ ip: IPv4Address, _ source: SourceLocation?) {
            let name = "\(label).\(settings.zone).".lowercased()
            let forward = DNSZone.Key(name: name, type: "A")
            wanted[forward, default: Wanted(key: forward, data: [], zone: settings.zone, source: source)].data.insert(ip.description)
            let octets = ip.description.split(separator: ".").reversed().joined(separator: ".")
            let reverseName = "\(octets).in-addr.arpa."
            guard let zone = settings.reverseZones.first(where: { reverseName.hasSuffix("." + $0 + ".") }) else { return }
            let reverse = DNSZone.Key(name: reverseName, type: "PTR")
            wanted[reverse, default: Wanted(key: reverse, data: [], zone: zone, source: source)].data.insert(name)
        }
        for vm in desired.virtualMachines {
            let addressed = vm.interfaces.compactMap(\.ip)
            for (index, ip) in addressed.enumerated() { add(addressed.count == 1 ? vm.name : "\(vm.name)-\(index)", ip, vm.location) }
        }
        for host in desired.dhcpHosts { add(host.hostname, host.ip, host.location) }
        return wanted
    }

    /// nsupdate lines for one record set: prerequisites that the set is as read (or absent),
    /// then the change, and the ownership record beside a name reconcile takes or leaves.
    static func lines(for key: DNSZone.Key, from current: Set<String>?, to wanted: Set<String>?, ours: Bool, keepOwnership: Bool = true) -> [String] {
        var lines: [String] = []
        if let current {
            lines += current.sorted().map { "prereq yxrrset \(key.name) \(key.type) \($0)" }
            lines.append("update delete \(key.name) \(key.type)")
        } else {
            lines.append("prereq nxrrset \(key.name) \(key.type)")
        }
        lines += (wanted ?? []).sorted().map { "update add \(key.name) \(ttl) \(key.type) \($0)" }
        let ownership = DNSZone.ownershipName(of: key.name)
        if wanted != nil, !ours { lines.append("update add \(ownership) \(ttl) TXT \(DNSZone.ownershipValue)") }
        if wanted == nil, !keepOwnership { lines.append("update delete \(ownership) TXT") }
        return lines
    }

    private static func joined(_ data: Set<String>) -> String { data.sorted().joined(separator: ", ") }

    /// `cpro0007.example.org A`: the resource's name (without the root's dot).
    static func display(_ key: DNSZone.Key) -> String { "\(key.name.dropLast()) \(key.type)" }

    /// One TSIG-signed AXFR of `zone`.
    private func transfer(_ zone: String) async throws -> DNSZone {
        let command = ["dig", "@\(settings.server)", "-p", "\(settings.port)", "-k", settings.tsigKeyFile, zone, "AXFR",
                       "+noall", "+answer", "+time=5", "+tries=2"]
        let result = try await EarlyRead { [runner] in try runner.output(command) }.value()
        if result.timedOutAfter != nil || result.status != 0 { throw CommandRunner.Failure(command, result) }
        return try DNSZone.parse(result.stdout + result.stderr, zone: zone)
    }

    // MARK: - Converge

    /// One `nsupdate` per message; a message that fails fails its resources only.
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        var failed: [ResourceID: String] = [:]
        for step in resources.uniqueSteps where step.operation == Self.update {
            let command = ["nsupdate", "-k", settings.tsigKeyFile]
            let error: String?
            do {
                let result = try await EarlyRead { [runner] in try runner.output(command, input: Data((step.input ?? "").utf8)) }.value()
                let output = (result.stderr + result.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
                error = result.status == 0 && result.timedOutAfter == nil ? nil
                    : output.contains("XRRSET") ? "the zone \(step.target) changed since the plan was made (a prerequisite failed: \(output)); nothing in it was changed"
                    : "nsupdate failed for \(step.target): \(output)"
            } catch {
                failed.merge(resources.filter { $0.steps.contains(step) }.failing(with: "\(error)")) { first, _ in first }
                continue
            }
            if let error { failed.merge(resources.filter { $0.steps.contains(step) }.failing(with: error)) { first, _ in first } }
        }
        return failed
    }

    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        throw RunError("dns has no handler \(handler)")
    }
}
