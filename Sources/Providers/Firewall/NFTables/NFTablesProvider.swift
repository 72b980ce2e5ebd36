import Basics
import DesiredState
import Engine
import Foundation
import Netfilter

/// Firewall rules and IP pairs on nftables, for a host whose firewall backend is `nftables`
/// (or, `retiring`, the removal of this backend's table from a host that moved to iptables).
///
/// reconcile owns one table, `inet reconcile`, and nothing outside it: other tables
/// (firewalld's, Docker's and libvirt's iptables-nft ones, a hand-written `inet filter`) are
/// never read or changed. Live state is one `nft list table inet reconcile` (kept, with a
/// ``GenerationCache``, while nothing is committed in the namespace); apply is one `nft -f`
/// transaction, checked with `nft -c` first. Public addresses are handled as the iptables
/// backend does.
public struct NFTablesProvider: Provider {
    public var name: String { retiring ? "nftables (retiring)" : "nftables" }
    public let resourceTypes: Set<String>

    let node: Node
    /// Runs `nft` and `ip` in the Host's namespace.
    let runner: CommandRunner
    /// Plan only the removal of reconcile's table: the Host's backend is now iptables.
    let retiring: Bool
    /// Keeps the table's listing while nothing is committed in the namespace.
    let cache: GenerationCache?
    /// The next plan's read, started by ``prefetch()``.
    private let early = Prefetch<LiveState>()

    /// What a plan reads: the table (nil when there is none), and our public addresses (not
    /// read when retiring from a host without our table: it has nothing to remove).
    struct LiveState {
        var table: NFTRuleset?
        var addresses: PublicAddresses?
    }

    public init(host: Node, runner: CommandRunner? = nil, retiring: Bool = false, cache: GenerationCache? = nil) {
        node = host
        self.runner = runner ?? CommandRunner(netns: host.netns)
        self.retiring = retiring
        self.cache = cache
        // Public addresses are the active backend's to manage.
        resourceTypes = Set([NFTRules.tableType, NFTRules.chainType, NFTRules.ruleType, NFTRules.pairType])
            .union(retiring ? [] : [PublicAddresses.resourceType])
    }

    public var waitsForEarlierProviders: Bool { retiring }

    /// The table, or nil when it does not exist.
    func readTable() throws -> NFTRuleset? {
        let text = try cache.map { try $0.read("nftables", netns: node.netns, listTable) } ?? listTable()
        return text.map(NFTRuleset.parse)
    }

    /// What `nft list table inet reconcile` prints, nil when there is no such table.
    func listTable() throws -> String? {
        let arguments = ["nft", "list", "table", NFTRules.family, NFTRules.name]
        let result: CommandRunner.Output
        do {
            result = try runner.output(arguments)
        } catch let error as SystemError where error.code == ENOENT && retiring {
            return nil  // no nft on this host: nothing of this backend to retire
        }
        if result.timedOutAfter != nil { throw CommandRunner.Failure(arguments, result) }
        if result.status != 0 {
            // nft says "No such file or directory" (ENOENT) for a table that does not exist; anything else is a failure.
            if result.stderr.contains("No such file or directory") { return nil }
            throw CommandRunner.Failure(arguments, result)
        }
        return result.stdout
    }

    /// The table and the public addresses, read at once (on a thread of its own: it blocks).
    func readLiveState() throws -> LiveState {
        // Beside the table; retiring, only once there is a table to remove.
        let addresses = retiring ? nil : EarlyRead { [runner] in try PublicAddresses.read(runner) }
        let table = try readTable()
        if retiring, table == nil { return LiveState(table: nil, addresses: nil) }
        return LiveState(table: table, addresses: try addresses?.wait() ?? PublicAddresses.read(runner))
    }

    /// Starts reading live state now, on threads of their own: `nft list table` of 7,000 VMs
    /// takes about as long as loading their desired state, so the two overlap.
    public func prefetch() {
        early.start { try readLiveState() }
    }

    public func declared(_ desired: DesiredState) -> [ResourceID] {
        guard !retiring else { return [] }
        let rules = NFTRules(desired)
        let lines: [NFTRules.Line] = Array(rules.chains.values.joined()) + Array(rules.elements.values.joined())
        return Set(lines.map(\.owner) + rules.chains.keys.map { ResourceID(NFTRules.chainType, $0) }).sorted()
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let live = try await early.value { try readLiveState() }
        guard let addresses = live.addresses else { return [] }  // retiring, and no table of ours
        var resources = NFTComparison(desired: desired, live: live.table, addresses: addresses, node: node, inventory: owned,
                                      retiring: retiring).resources()
        // One `nft -f` orders its own deletions: they go in the same batch as the rest.
        for index in resources.indices where resources[index].id.type != PublicAddresses.resourceType { resources[index].isDeletedInTransaction = true }
        return resources
    }

    /// Runs the batch's planned steps: one `nft -f` transaction, checked with `nft -c` first
    /// (see ``FirewallTransaction``).
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        await transaction(resources).converge(resources, runner: runner)
    }

    public func effects(_ batch: [Resource]) -> [Effect] { transaction(batch).effects(batch.uniqueSteps) }

    private func transaction(_ resources: [Resource]) -> FirewallTransaction {
        let script = NFTScript(resources)
        return FirewallTransaction(input: script.script.isEmpty ? "" : script.script.text, test: ["nft", "-c", "-f", "-"], apply: ["nft", "-f", "-"],
                                   rejected: "nft -c rejected the transaction", failed: "nft -f failed", explain: script.explain)
    }

    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        throw RunError("nftables has no handler \(handler)")
    }
}
