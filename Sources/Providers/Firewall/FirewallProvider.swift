import Basics
import DesiredState
import Engine
import Foundation

/// Firewall rules and IP pairs on iptables, for a host with the firewall role.
///
/// reconcile owns the chains named `RC-*` and one comment-tagged jump from each built-in
/// chain it needs; nothing else in any table is touched. Live state is one `iptables-save`
/// per table; apply is one `iptables-restore --noflush -w`, tested first with `--test`,
/// holding every rule of each changed `RC-*` chain. Public addresses go on the host's
/// `publicInterface` with the label `<interface>:rc`, which is how reconcile knows its own.
public struct FirewallProvider: Provider {
    public let name = "iptables"
    public let resourceTypes: Set<String> = [FirewallRules.ruleType, FirewallRules.pairType, FirewallRules.chainType, FirewallRules.jumpType, FirewallRules.addressType]

    let node: Node
    let runner: CommandRunner
    /// The rules the last plan read, for the converge that follows it: reading 77,000 rules
    /// again costs half a second. A rule changed by someone else in between makes the one
    /// atomic restore fail, not go wrong.
    private let lastRead = Locked<IPTablesRuleset?>(nil)
    /// A read started by ``prefetch()``, for the next plan.
    private let early = Locked<EarlyRead<IPTablesRuleset>?>(nil)

    public init(host: Node, runner: CommandRunner? = nil) {
        node = host
        self.runner = runner ?? CommandRunner(netns: host.netns)
    }

    // MARK: - Live state

    /// One `iptables-save` per table, both at once (each takes ~0.6 s at 77,000 rules).
    func readRuleset() throws -> IPTablesRuleset {
        let runner = runner
        let outputs = ["filter", "nat"].concurrentMap { table in Result { try runner.run(["iptables-save", "-t", table]) } }
        return IPTablesRuleset.parse(try outputs.map { try $0.get() }.joined(separator: "\n"))
    }

    var addressLabel: String? { node.publicInterface.map { "\($0):rc" } }

    /// The public addresses reconcile added to the public interface (those with its label);
    /// nil when the host declares a public interface that does not exist.
    func ourAddresses() throws -> Set<String>? {
        guard let interface = node.publicInterface, let label = addressLabel else { return [] }
        let shown = try runner.output(["ip", "-o", "-4", "addr", "show", "dev", interface])
        if shown.status != 0, shown.stderr.contains("does not exist") { return nil }
        guard shown.status == 0 else {
            throw CommandRunner.Failure(arguments: ["ip", "-o", "-4", "addr", "show", "dev", interface], status: shown.status, stderr: shown.stderr)
        }
        let text = shown.stdout
        var addresses: Set<String> = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            // `ip -o` ends the label with a backslash (its line continuation).
            guard let inet = words.firstIndex(of: "inet"), inet + 1 < words.count,
                  words.contains(where: { $0.trimmingCharacters(in: ["\\"]) == label }) else { continue }
            addresses.insert(String(words[inet + 1].split(separator: "/")[0]))
        }
        return addresses
    }

    // MARK: - Plan

    /// Starts both `iptables-save`s now, on a thread of their own: they take as long as
    /// loading a large desired state, so the two overlap.
    public func prefetch() {
        early.withLock { $0 = EarlyRead { try readRuleset() } }
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let started = early.withLock { read in defer { read = nil }; return read }
        let live = try started?.value() ?? readRuleset()
        lastRead.withLock { $0 = live }
        let addresses = try ourAddresses()
        return FirewallComparison(desired: desired, want: FirewallRules(desired), live: live, addresses: addresses, node: node).resources()
    }

    // MARK: - Converge

    public func converge(_ resources: [Resource], desired: DesiredState) async -> [ResourceID: String] {
        do {
            let want = FirewallRules(desired)
            let live = try lastRead.withLock { stored in defer { stored = nil }; return stored } ?? readRuleset()
            let restore = RestoreScript(want: want, live: live)
            if !restore.isEmpty {
                let test = try runner.output(["iptables-restore", "--noflush", "-w", "--test"], input: Data(restore.text.utf8))
                guard test.status == 0 else { return resources.failing(with: "iptables-restore --test rejected the rules: \(restore.explain(test.stderr))") }
                // Once the rules passed the test, the addresses go on while they are restored:
                // each takes about a second at 7,000 pairs, and they do not depend on each other.
                let addresses = EarlyRead { try convergeAddresses(desired) }
                let applied = try runner.output(["iptables-restore", "--noflush", "-w"], input: Data(restore.text.utf8))
                let addressed = Result { try addresses.value() }
                guard applied.status == 0 else { return resources.failing(with: "iptables-restore failed: \(restore.explain(applied.stderr))") }
                try addressed.get()
            } else {
                try convergeAddresses(desired)
            }
            flushConnections(of: resources, live: live)
            return [:]
        } catch {
            return resources.failing(with: "\(error)")
        }
    }

    /// Adds the public addresses of the desired pairs and removes the other ones reconcile added.
    private func convergeAddresses(_ desired: DesiredState) throws {
        guard let interface = node.publicInterface, let label = addressLabel else { return }
        let wanted = Set(desired.ipPairs.map(\.publicIP.description))
        guard let ours = try ourAddresses() else { throw RunError("public interface \(interface) does not exist on host \(node.name)") }
        // One `ip -batch` for all of them: thousands of pairs must not mean thousands of processes.
        let commands = wanted.subtracting(ours).sorted().map { "addr add \($0)/32 dev \(interface) label \(label)" }
            + ours.subtracting(wanted).sorted().map { "addr del \($0)/32 dev \(interface)" }
        guard !commands.isEmpty else { return }
        try runner.run(["ip", "-batch", "-"], input: Data((commands.joined(separator: "\n") + "\n").utf8))
    }

    /// Forgets tracked connections of changed or removed pairs, so packets follow the new rules.
    private func flushConnections(of resources: [Resource], live: IPTablesRuleset) {
        for resource in resources where resource.id.type == FirewallRules.pairType && resource.action != .create {
            let tag = "rc:pair:\(resource.id.name)"
            for rule in live.rules("nat", "RC-PREROUTING") ?? [] where IPTablesRuleset.tag(of: rule) == tag {
                let words = rule.split(separator: " ").map(String.init)
                if let d = words.firstIndex(of: "-d"), d + 1 < words.count {
                    // conntrack exits 1 when nothing matched: that is fine.
                    _ = try? runner.output(["conntrack", "-D", "--orig-dst", String(words[d + 1].split(separator: "/")[0])])
                }
                if let to = words.firstIndex(of: "--to-destination"), to + 1 < words.count {
                    _ = try? runner.output(["conntrack", "-D", "--orig-src", words[to + 1]])
                }
            }
        }
    }

    public func trigger(_ handler: ResourceID) async throws {
        throw RunError("iptables has no handler \(handler)")
    }
}
