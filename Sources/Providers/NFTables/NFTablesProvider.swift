import Basics
import DesiredState
import Engine
import Foundation

/// Firewall rules and IP pairs on nftables, for a host whose firewall backend is `nftables`
/// (or, `retiring`, the removal of this backend's table from a host that moved to iptables).
///
/// reconcile owns one table, `inet reconcile`, and nothing outside it: other tables
/// (firewalld's, Docker's and libvirt's iptables-nft ones, a hand-written `inet filter`) are
/// never read or changed. Live state is one `nft list table inet reconcile`; apply is one
/// `nft -f` transaction, checked with `nft -c` first. Public addresses are handled as the
/// iptables backend does.
public struct NFTablesProvider: Provider {
    public let name: String
    public let resourceTypes: Set<String>

    let node: Node
    let runner: CommandRunner
    let retiring: Bool

    public init(host: Node, runner: CommandRunner? = nil, retiring: Bool = false) {
        node = host
        self.runner = runner ?? CommandRunner(netns: host.netns)
        self.retiring = retiring
        name = retiring ? "nftables (retiring)" : "nftables"
        // Public addresses are the active backend's to manage.
        resourceTypes = Set([NFTRules.tableType, NFTRules.chainType, NFTRules.ruleType, NFTRules.pairType])
            .union(retiring ? [] : [PublicAddresses.resourceType])
    }

    public var waitsForEarlierProviders: Bool { retiring }

    /// The table, or nil when it does not exist.
    func readTable() throws -> NFTRuleset? {
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
        return NFTRuleset.parse(result.stdout)
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let addresses = EarlyRead { [runner] in try PublicAddresses.read(runner) }
        let table = try readTable()
        var resources = NFTComparison(desired: desired, live: table, addresses: try await addresses.value(), node: node, inventory: owned,
                                      retiring: retiring).resources()
        // One `nft -f` orders its own deletions: they go in the same batch as the rest.
        for index in resources.indices where resources[index].id.type != PublicAddresses.resourceType { resources[index].isDeletedInTransaction = true }
        return resources
    }

    /// Runs the batch's planned steps: one `nft -f` transaction, checked with `nft -c` first;
    /// the address lines in one `ip -batch`; then the tracked connections to forget.
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        do {
            let steps = resources.uniqueSteps
            let script = NFTScript(resources)
            if !script.isEmpty {
                let checking = ["nft", "-c", "-f", "-"], applying = ["nft", "-f", "-"]
                let check = try runner.output(checking, input: Data(script.text.utf8))
                if check.timedOutAfter != nil { return resources.failing(with: "\(CommandRunner.Failure(checking, check))") }
                guard check.status == 0 else { return resources.failing(with: "nft -c rejected the transaction: \(script.explain(check.stderr))") }
                // Once nft accepted the transaction, the addresses go on while it is applied:
                // 7,000 of them take about a second, and they do not depend on each other.
                let addresses = EarlyRead { [runner] in try PublicAddresses.change(steps, runner: runner) }
                let applied = try runner.output(applying, input: Data(script.text.utf8))
                let addressed: Result<Void, any Error>
                do { addressed = .success(try await addresses.value()) } catch { addressed = .failure(error) }
                if applied.timedOutAfter != nil { return resources.failing(with: "\(CommandRunner.Failure(applying, applied))") }
                guard applied.status == 0 else { return resources.failing(with: "nft -f failed: \(script.explain(applied.stderr))") }
                try addressed.get()
            } else {
                try PublicAddresses.change(steps, runner: runner)
            }
            try await PublicAddresses.forgetConnections(steps, netns: node.netns)
            return [:]
        } catch {
            return resources.failing(with: "\(error)")
        }
    }

    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        throw RunError("nftables has no handler \(handler)")
    }
}
