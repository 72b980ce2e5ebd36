import Basics
import DesiredState
import Engine
import Foundation
import Netfilter

/// Firewall rules and IP pairs on iptables, for a host with the firewall role.
///
/// reconcile owns the chains named `RC-*` and one comment-tagged jump from each built-in
/// chain it needs; nothing else in any table is touched. Live state is one `iptables-save`
/// (its filter and nat tables); apply is one `iptables-restore --noflush -w`, tested first
/// with `--test`, holding every rule of each changed `RC-*` chain. Public addresses go on the host's
/// `publicInterface` with the label `<interface>:rc`, which is how reconcile knows its own.
public struct IPTablesProvider: Provider {
    public let name: String
    public let resourceTypes: Set<String>

    let node: Node
    let runner: CommandRunner
    /// Plan only the removal of reconcile's chains and jumps: the Host's backend is now
    /// nftables. Public addresses and tracked connections are left to it.
    let retiring: Bool
    /// The next plan's read, started by ``prefetch()``.
    private let early = Prefetch<LiveState>()

    /// Replace the hand-made rules of declared VMs and pairs by reconcile's (`--adopt`; see ``HandRules``).
    let adopt: Bool
    /// Keeps `iptables-save`'s text while nothing is committed in the namespace; used only
    /// where iptables is iptables-nft (legacy iptables does not move nf_tables' generation).
    let cache: GenerationCache?

    /// What a plan reads: the rules (as iptables-save printed them, and parsed), and our public addresses.
    struct LiveState {
        var saved: String
        var ruleset: IPTablesRuleset
        var addresses: PublicAddresses
    }

    public init(host: Node, runner: CommandRunner? = nil, retiring: Bool = false, adopt: Bool = false, cache: GenerationCache? = nil) {
        node = host
        self.runner = runner ?? CommandRunner(netns: host.netns)
        self.retiring = retiring
        self.adopt = adopt && !retiring
        self.cache = Self.iptablesIsNFTables ? cache : nil
        name = retiring ? "iptables (retiring)" : "iptables"
        resourceTypes = Set([IPTablesRules.ruleType, IPTablesRules.pairType, IPTablesRules.chainType, IPTablesRules.jumpType])
            .union(retiring ? [] : [IPTablesRules.addressType, HandRules.resourceType])
    }

    public var waitsForEarlierProviders: Bool { retiring }

    // MARK: - Live state

    /// The filter and nat tables, from one `iptables-save` of every table. Not one per table
    /// (`-t`): iptables-nft 1.8.9 fetches the rules of every chain of every table whatever `-t`
    /// names (7,016 netlink requests for a nat table of 8 chains beside 7,000 filter chains),
    /// so a second process doubled the kernel's work (1.45 → 0.95 CPU-s at 77,000 rules).
    func readRuleset() throws -> (saved: String, ruleset: IPTablesRuleset) {
        let save = { [runner] () throws -> String? in try runner.run(["iptables-save"]) }
        let saved = try (cache.map { try $0.read("iptables", netns: node.netns, save) } ?? save()) ?? ""
        var ruleset = IPTablesRuleset.parse(saved)
        ruleset.tables = ruleset.tables.filter { IPTablesRules.tables.contains($0.key) }
        return (saved, ruleset)
    }

    /// Whether `iptables-save` on the PATH is iptables-nft (Debian's alternative
    /// `xtables-nft-multi`), whose changes are nf_tables transactions.
    static let iptablesIsNFTables: Bool = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(separator: ":")
        guard let found = directories.map({ "\($0)/iptables-save" }).first(where: { (path: String) in access(path, X_OK) == 0 }),
              let resolved = realpath(found, nil) else { return false }
        defer { free(resolved) }
        return String(cString: resolved).hasSuffix("/xtables-nft-multi")
    }()

    // MARK: - Plan

    /// The rules and the public addresses, read at once.
    func readLiveState() throws -> LiveState {
        let addresses = EarlyRead { [runner] in try PublicAddresses.read(runner) }
        let (saved, ruleset) = try readRuleset()
        return LiveState(saved: adopt ? saved : "", ruleset: ruleset, addresses: try addresses.wait())
    }

    /// Starts reading live state now, on threads of their own: `iptables-save` takes as long
    /// as loading a large desired state, so the two overlap.
    public func prefetch() {
        early.start { try readLiveState() }
    }

    public func declared(_ desired: DesiredState) -> [ResourceID] {
        guard !retiring else { return [] }
        let rules = IPTablesRules(desired).chains.values.flatMap { $0.values.joined() }
        return Set(rules.map(\.owner)).filter { !IPTablesRules.isScaffolding($0) }.sorted()
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let live = try await early.value { try readLiveState() }
        var wanted = desired
        if retiring { (wanted.virtualMachines, wanted.ipPairs, wanted.firewallRules) = ([], [], []) }
        let comparison = IPTablesComparison(desired: wanted, want: IPTablesRules(wanted), live: live.ruleset, addresses: live.addresses,
                                            node: node, inventory: owned, retiring: retiring)
        return comparison.resources() + (adopt ? HandRules.resources(saved: live.saved, desired: wanted) : [])
    }

    // MARK: - Converge

    /// Runs the batch's planned steps: one restore input of every chain and jump line, tested
    /// with `--test` first (see ``FirewallTransaction``). A rule changed by someone since the
    /// plan makes the verification fail, never a chain written from a newer read.
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        await transaction(resources).converge(resources, runner: runner)
    }

    public func effects(_ batch: [Resource]) -> [Effect] { transaction(batch).effects(batch.uniqueSteps) }

    private func transaction(_ resources: [Resource]) -> FirewallTransaction {
        let restore = RestoreScript(resources)
        let applying = ["iptables-restore", "--noflush", "-w"]
        return FirewallTransaction(input: restore.script.isEmpty ? "" : restore.script.text, test: applying + ["--test"], apply: applying,
                                   rejected: "iptables-restore --test rejected the rules", failed: "iptables-restore failed", explain: restore.explain)
    }

    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        throw RunError("iptables has no handler \(handler)")
    }
}
