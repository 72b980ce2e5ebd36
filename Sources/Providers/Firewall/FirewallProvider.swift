import Basics
import DesiredState
import Engine
import Foundation

/// Firewall rules and IP pairs on iptables, for a host with the firewall role.
///
/// reconcile owns the chains named `RC-*` and one comment-tagged jump from each built-in
/// chain it needs; nothing else in any table is touched. Live state is one `iptables-save`
/// (its filter and nat tables); apply is one `iptables-restore --noflush -w`, tested first
/// with `--test`, holding every rule of each changed `RC-*` chain. Public addresses go on the host's
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
    private let early = Locked<EarlyRead<LiveState>?>(nil)

    /// What a plan reads: the rules, and our public addresses (nil: no such interface).
    struct LiveState {
        var ruleset: IPTablesRuleset
        var addresses: Set<String>?
    }

    public init(host: Node, runner: CommandRunner? = nil) {
        node = host
        self.runner = runner ?? CommandRunner(netns: host.netns)
    }

    // MARK: - Live state

    /// The filter and nat tables, from one `iptables-save` of every table. Not one per table
    /// (`-t`): iptables-nft 1.8.9 fetches the rules of every chain of every table whatever `-t`
    /// names (7,016 netlink requests for a nat table of 8 chains beside 7,000 filter chains),
    /// so a second process doubled the kernel's work (1.45 → 0.95 CPU-s at 77,000 rules).
    func readRuleset() throws -> IPTablesRuleset {
        var ruleset = IPTablesRuleset.parse(try runner.run(["iptables-save"]))
        ruleset.tables = ruleset.tables.filter { FirewallRules.tables.contains($0.key) }
        return ruleset
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
        return Self.addresses(in: shown.stdout, labelled: label)
    }

    /// The addresses `ip -o -4 addr show` lists with `label`, read as UTF-8 bytes: thousands of
    /// pairs mean thousands of lines.
    static func addresses(in shown: String, labelled label: String) -> Set<String> {
        let label = Array(label.utf8)
        let continued = label + [UInt8(ascii: "\\")]  // `ip -o` ends the label with its line continuation
        var addresses: Set<String> = []
        for line in shown.utf8.split(separator: UInt8(ascii: "\n")) {
            let words = line.split(separator: UInt8(ascii: " "))
            guard let inet = words.firstIndex(where: { $0.elementsEqual("inet".utf8) }), inet + 1 < words.count,
                  words.contains(where: { $0.elementsEqual(label) || $0.elementsEqual(continued) }) else { continue }
            addresses.insert(String(decoding: words[inet + 1].prefix { $0 != UInt8(ascii: "/") }, as: UTF8.self))
        }
        return addresses
    }

    // MARK: - Plan

    /// The rules and the public addresses, read at once.
    func readLiveState() throws -> LiveState {
        let addresses = EarlyRead { try ourAddresses() }
        let ruleset = try readRuleset()
        return LiveState(ruleset: ruleset, addresses: try addresses.value())
    }

    /// Starts reading live state now, on threads of their own: `iptables-save` takes as long
    /// as loading a large desired state, so the two overlap.
    public func prefetch() {
        early.withLock { $0 = EarlyRead { try readLiveState() } }
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let started = early.withLock { read in defer { read = nil }; return read }
        let live = try started?.value() ?? readLiveState()
        lastRead.withLock { $0 = live.ruleset }
        return FirewallComparison(desired: desired, want: FirewallRules(desired), live: live.ruleset, addresses: live.addresses, node: node).resources()
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
