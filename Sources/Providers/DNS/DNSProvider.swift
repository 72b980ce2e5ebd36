import Basics
import DesiredState
import Engine
import Foundation

/// Names on a host with the dns role: `A <name>.<zone>` for each VM interface with an address
/// and each DHCPHost (``DesiredState/addressNames``), the PTR in the reverse zone that holds
/// the address (none when no declared reverse zone does), and the DNSRecords in its zones.
///
/// Live state is one TSIG-signed zone transfer per zone (`dig AXFR`); changes go as RFC 2136
/// UPDATEs (one `nsupdate` process per zone, sending one message unless the zone's changes
/// exceed what a DNS message holds), each change guarded by prerequisites
/// (the record set as read, or its absence), so a record someone changed between read and
/// write makes that zone's update fail instead of being overwritten. reconcile changes only
/// record sets it marked as its own (see ``DNSZone``): a record made by hand at a wanted name
/// and type (or beside a wanted CNAME) is a conflict.
public struct DNSProvider: Provider {
    public static let recordType = "dns_record"

    public let name = "dns"
    public let resourceTypes: Set<String> = [recordType]

    let settings: Node.DNSSettings
    let runner: CommandRunner

    public init(host: Node, settings: Node.DNSSettings, runner: CommandRunner? = nil) {
        self.settings = settings
        self.runner = runner ?? CommandRunner(netns: host.netns, timeout: 60)
    }

    /// One wanted record set.
    struct Wanted {
        var key: DNSZone.Key
        var data: Set<String>
        var ttl: Int
        var zone: String
        var source: SourceLocation?
    }

    /// One resource's lines in a zone's update.
    typealias Change = (resource: Int, lines: [String])

    // MARK: - Plan

    public func declared(_ desired: DesiredState) -> [ResourceID] {
        wantedRecords(desired).keys.sorted().map { ResourceID(Self.recordType, Self.display($0)) }
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        if TrustedFile.isReadableByOthers(settings.tsigKeyFile) {
            // Whoever reads the key can change every record of the zone: said, not refused (BIND's own files are often 0644).
            FileHandle.standardError.write(Data("reconcile: warning: the TSIG key \(settings.tsigKeyFile) is readable by other users (chmod go-r)\n".utf8))
        }
        var live: [String: DNSZone] = [:]
        for zone in settings.zones { live[zone] = try await transfer(zone) }
        let wanted = wantedRecords(desired)
        var resources: [Resource] = []
        // Removals go first in a zone's update, so that a name can change type (an A
        // becoming a CNAME) in one message.
        var removals: [String: [Change]] = [:], changes: [String: [Change]] = [:]
        // Record sets marked as reconcile's that nothing wants any more (a mark alone, when
        // its records were deleted by hand, goes too).
        for zone in settings.zones {
            guard let live = live[zone] else { continue }
            for key in live.owned.sorted() where wanted[key] == nil {
                let current = live.records[key]
                var resource = Resource(ResourceID(Self.recordType, Self.display(key)), action: .delete,
                                        changes: [PropertyChange(key.type, from: current.map(Self.joined) ?? "(its ownership mark only)", to: nil)])
                resource.fingerprint = Fingerprint.of([current.map(Self.joined) ?? "(absent)", "ours"])
                removals[zone, default: []].append((resources.count, Self.lines(for: key, from: current, to: nil, ttl: 0, ours: true)))
                resources.append(resource)
            }
        }
        for want in wanted.values.sorted(by: { $0.key < $1.key }) {
            let zone = live[want.zone] ?? DNSZone()
            let current = zone.records[want.key]
            let ours = zone.owned.contains(want.key)
            var properties: [PropertyChange] = []
            if current != want.data { properties.append(PropertyChange(want.key.type, from: current.map(Self.joined), to: Self.joined(want.data))) }
            if current != nil, let ttl = zone.ttls[want.key], ttl != want.ttl { properties.append(PropertyChange("ttl", from: "\(ttl)", to: "\(want.ttl)")) }
            var resource = Resource(ResourceID(Self.recordType, Self.display(want.key)),
                                    action: current == nil ? .create : properties.isEmpty ? nil : .update,
                                    changes: properties, source: want.source)
            // A set someone else made at the name and type, or beside a CNAME.
            let blocking = zone.foreignRecords(at: want.key.name).filter { $0 == want.key || $0.type == "CNAME" || want.key.type == "CNAME" }
            if !blocking.isEmpty {
                let found = blocking.map { "\($0.type) \(Self.joined(zone.records[$0] ?? []))" }
                resource.conflict = "\(want.key.name) holds records reconcile did not make (\(found.joined(separator: "; "))); remove them or choose another name"
            }
            resource.fingerprint = Fingerprint.of([current.map(Self.joined) ?? "(absent)", "\(zone.ttls[want.key] ?? 0)", ours ? "ours" : "not ours", resource.conflict ?? ""])
            if resource.action != nil, resource.conflict == nil {
                changes[want.zone, default: []].append((resources.count, Self.lines(for: want.key, from: current, to: want.data, ttl: want.ttl, ours: ours)))
            }
            resources.append(resource)
        }
        // A zone's changes travel as UPDATE messages carried by the resources they change, each
        // message a transaction; removals go in them too, not in a later batch.
        for index in resources.indices { resources[index].isDeletedInTransaction = true }
        for zone in settings.zones {
            let messages = Self.messages((removals[zone] ?? []) + (changes[zone] ?? []))
            for (number, message) in messages.enumerated() {
                // Record set by record set: a message the server refuses is sent again a set at
                // a time, so that one refused set fails only itself.
                let update = DNSUpdate(zone: zone, part: number + 1, parts: messages.count,
                                       sets: message.map { DNSUpdate.RecordSet(name: resources[$0.resource].id.name, lines: $0.lines) })
                for change in message { resources[change.resource].steps = [.dns(.update(update))] }
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

    /// The record sets the desired state asks for in this server's zones, by name and type.
    func wantedRecords(_ desired: DesiredState) -> [DNSZone.Key: Wanted] {
        var wanted: [DNSZone.Key: Wanted] = [:]
        func add(_ key: DNSZone.Key, _ value: String, ttl: Int, zone: String, _ source: SourceLocation?) {
            wanted[key, default: Wanted(key: key, data: [], ttl: ttl, zone: zone, source: source)].data.insert(value)
        }
        for address in desired.addressNames {
            let name = "\(address.label).\(settings.zone)."
            add(DNSZone.Key(name: name, type: "A"), address.ip.description, ttl: DNSRecord.defaultTTL, zone: settings.zone, address.location)
            let reverse = address.ip.description.split(separator: ".").reversed().joined(separator: ".") + ".in-addr.arpa"
            guard let zone = settings.zone(holding: reverse) else { continue }
            add(DNSZone.Key(name: reverse + ".", type: "PTR"), name, ttl: DNSRecord.defaultTTL, zone: zone, address.location)
        }
        for record in desired.dnsRecords {
            guard let zone = settings.zone(holding: record.name) else { continue }  // another dns host's
            for value in record.values {
                add(DNSZone.Key(name: record.name + ".", type: record.type.rawValue), value, ttl: record.ttl, zone: zone, record.location)
            }
        }
        return wanted
    }

    /// nsupdate lines for one record set: prerequisites that the set is as read (or absent),
    /// then the change, and the set's ownership mark added with it or removed with it.
    static func lines(for key: DNSZone.Key, from current: Set<String>?, to wanted: Set<String>?, ttl: Int, ours: Bool) -> [String] {
        var lines: [String] = []
        if let current {
            lines += current.sorted().map { "prereq yxrrset \(key.name) \(key.type) \($0)" }
            lines.append("update delete \(key.name) \(key.type)")
        } else {
            lines.append("prereq nxrrset \(key.name) \(key.type)")
        }
        lines += (wanted ?? []).sorted().map { "update add \(key.name) \(ttl) \(key.type) \($0)" }
        let mark = DNSZone.mark(of: key)
        if wanted != nil, !ours { lines.append("update add \(mark.name) \(DNSZone.ownershipTTL) TXT \(mark.value)") }
        if wanted == nil { lines.append("update delete \(mark.name) TXT \(mark.value)") }
        return lines
    }

    private static func joined(_ data: Set<String>) -> String { data.sorted().joined(separator: ", ") }

    /// `cpro0007.example.org A`: the resource's name (without the root's dot).
    static func display(_ key: DNSZone.Key) -> String { "\(key.name.dropLast()) \(key.type)" }

    /// One TSIG-signed AXFR of `zone`.
    private func transfer(_ zone: String) async throws -> DNSZone {
        // +additional: the TSIG record of each answer, which names a key error (BADSIG, BADKEY, BADTIME).
        let command = ["dig", "@\(settings.server)", "-p", "\(settings.port)", "-k", settings.tsigKeyFile, zone, "AXFR",
                       "+noall", "+answer", "+additional", "+time=5", "+tries=2"]
        let result = try await runner.output(command)
        if result.timedOutAfter != nil || result.status != 0 { throw CommandRunner.Failure(command, result) }
        return try DNSZone.parse(result.stdout + result.stderr, zone: zone, server: "\(settings.server):\(settings.port)", keyFile: settings.tsigKeyFile)
    }

    // MARK: - Converge

    /// One `nsupdate` per zone, sending the zone's messages in order and printing each answer;
    /// a message that fails fails its resources only (nsupdate goes on with the next one).
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        var carriers: [String: [Resource]] = [:]  // a message's name → the resources it changes
        for resource in resources { for case .dns(.update(let message)) in resource.steps { carriers[message.name, default: []].append(resource) } }
        var failed: [ResourceID: String] = [:]
        var refused: [DNSUpdate] = []  // messages of several sets the server refused
        for sent in Self.byZone(resources) {
            let answers: [String]
            let output: String
            do {
                let result = try await runner.output(nsupdate, input: Data(input(sent).utf8))
                answers = Self.statuses(result.stdout)
                output = result.timedOutAfter.map { "timed out after \($0) s" } ?? (result.stderr + result.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                for message in sent { failed.merge((carriers[message.name] ?? []).failing(with: "\(error)")) { first, _ in first } }
                continue
            }
            for (index, message) in sent.enumerated() {
                let status = index < answers.count ? answers[index] : nil
                guard status != "NOERROR" else { continue }
                let error = switch status {
                case let status? where status.hasSuffix("XRRSET"):
                    "the zone \(message.name) changed since the plan was made (a prerequisite failed: \(status)); nothing in this update was changed"
                case let status?: "the update of \(message.name) was refused: \(status)"
                case nil: "no answer to the update of \(message.name) (\(output.split(separator: "\n").last ?? "")); the next run reads the zone again"
                }
                if let status, !status.hasSuffix("XRRSET"), (carriers[message.name] ?? []).count > 1 {
                    refused.append(message)
                } else {
                    failed.merge((carriers[message.name] ?? []).failing(with: error)) { first, _ in first }
                }
            }
        }
        failed.merge(await sendEachSet(of: refused, carriers: carriers)) { first, _ in first }
        return failed
    }

    /// One `nsupdate` per zone, in plan order.
    public func effects(_ batch: [Resource]) -> [Effect] {
        Self.byZone(batch).map { Effect(command: nsupdate, input: input($0)) }
    }

    private var nsupdate: [String] { ["nsupdate", "-k", settings.tsigKeyFile] }

    /// nsupdate's input: the server, then each message followed by `answer` (its status is read back).
    private func input(_ messages: [DNSUpdate]) -> String {
        "server \(settings.server) \(settings.port)\n" + messages.map { $0.script + "answer\n" }.joined()
    }

    /// The batch's messages, each once, grouped by zone in plan order.
    private static func byZone(_ resources: [Resource]) -> [[DNSUpdate]] {
        let messages = resources.uniqueSteps.compactMap { step in if case .dns(.update(let message)) = step { message } else { nil } }
        var zones: [String] = []
        for message in messages where !zones.contains(message.zone) { zones.append(message.zone) }
        return zones.map { zone in messages.filter { $0.zone == zone } }
    }

    /// Sends each record set of refused messages as a message of its own (one nsupdate for
    /// all): the sets the server accepts go in, each refused one fails alone.
    private func sendEachSet(of messages: [DNSUpdate], carriers: [String: [Resource]]) async -> [ResourceID: String] {
        let sets = messages.flatMap { message in message.sets.map { (zone: message.zone, name: $0.name, lines: $0.lines) } }
        let resources = Dictionary(messages.flatMap { carriers[$0.name] ?? [] }.map { ($0.id.name, $0) }, uniquingKeysWith: { first, _ in first })
        guard !sets.isEmpty else { return [:] }
        let input = "server \(settings.server) \(settings.port)\n" + sets.map { "zone \($0.zone)\n" + $0.lines.joined(separator: "\n") + "\nsend\nanswer\n" }.joined()
        var failed: [ResourceID: String] = [:]
        let answers: [String]
        do {
            answers = Self.statuses(try await runner.output(nsupdate, input: Data(input.utf8)).stdout)
        } catch {
            for set in sets { if let resource = resources[set.name] { failed[resource.id] = "\(error)" } }
            return failed
        }
        for (index, set) in sets.enumerated() {
            guard let resource = resources[set.name] else { continue }
            let status = index < answers.count ? answers[index] : nil
            guard status != "NOERROR" else { continue }
            failed[resource.id] = status.map { "the update of \(set.name) was refused: \($0)" } ?? "no answer to the update of \(set.name); the next run reads the zone again"
        }
        return failed
    }

    /// The status of each answer nsupdate printed (`answer` after each `send`), in order:
    /// `;; ->>HEADER<<- opcode: UPDATE, status: NOERROR, id: 46583`.
    static func statuses(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix(";; ->>HEADER<<- opcode: UPDATE, status: ") else { return nil }
            return String(line.dropFirst(";; ->>HEADER<<- opcode: UPDATE, status: ".count).prefix { $0 != "," })
        }
    }

    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        throw RunError("dns has no handler \(handler)")
    }
}
