import Basics
import Conntrack
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
    /// A read started by ``prefetch()``, for the next plan: that read is not run state, it
    /// is the next plan's input, started early.
    private let early = Locked<EarlyRead<LiveState>?>(nil)

    /// What a plan reads: the rules, and our public addresses.
    struct LiveState {
        var ruleset: IPTablesRuleset
        var addresses: PublicAddresses
    }

    /// The interfaces of the host (its namespace), and the addresses reconcile added to any
    /// of them (labelled `<interface>:rc`): after `publicInterface` changes, the old
    /// interface's addresses are still ours to remove.
    struct PublicAddresses: Equatable {
        var interfaces: Set<String> = []
        /// Address → the interface it is on.
        var ours: [String: String] = [:]

        /// Ours on `interface`; nil when there is no such interface.
        func on(_ interface: String) -> Set<String>? {
            guard interfaces.contains(interface) else { return nil }
            return Set(ours.filter { $0.value == interface }.keys)
        }
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

    /// Every interface and our labelled addresses, from one `ip -batch` (links, then IPv4 addresses).
    func readAddresses() throws -> PublicAddresses {
        Self.publicAddresses(in: try runner.run(["ip", "-o", "-4", "-batch", "-"], input: Data("link show\naddr show\n".utf8)))
    }

    /// Parses `ip -o link show` and `ip -o -4 addr show` lines, as UTF-8 bytes: thousands of
    /// pairs mean thousands of lines. A link line is `N: name[@peer]: <FLAGS> …`; an address
    /// line `N: name    inet A/P … label`, where reconcile's labels end in `:rc` (`ip -o`
    /// may append its line continuation `\`).
    static func publicAddresses(in shown: String) -> PublicAddresses {
        var result = PublicAddresses()
        let suffix = Array(":rc".utf8)
        for line in shown.utf8.split(separator: UInt8(ascii: "\n")) {
            let words = line.split(separator: UInt8(ascii: " "))
            guard words.count >= 3 else { continue }
            if words[2].first == UInt8(ascii: "<") {
                let name = words[1].prefix { $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "@") }
                result.interfaces.insert(String(decoding: name, as: UTF8.self))
                continue
            }
            guard let inet = words.firstIndex(where: { $0.elementsEqual("inet".utf8) }), inet + 1 < words.count else { continue }
            let interface = String(decoding: words[1], as: UTF8.self)
            for word in words[(inet + 2)...] {
                let label = word.last == UInt8(ascii: "\\") ? word.dropLast() : word[...]
                guard label.count > suffix.count, label.suffix(suffix.count).elementsEqual(suffix),
                      label.dropLast(suffix.count).elementsEqual(interface.utf8) else { continue }
                let address = String(decoding: words[inet + 1].prefix { $0 != UInt8(ascii: "/") }, as: UTF8.self)
                result.ours[address] = interface
            }
        }
        return result
    }

    // MARK: - Plan

    /// The rules and the public addresses, read at once.
    func readLiveState() throws -> LiveState {
        let addresses = EarlyRead { try readAddresses() }
        let ruleset = try readRuleset()
        return LiveState(ruleset: ruleset, addresses: try addresses.wait())
    }

    /// Starts reading live state now, on threads of their own: `iptables-save` takes as long
    /// as loading a large desired state, so the two overlap.
    public func prefetch() {
        early.withLock { $0 = EarlyRead { try readLiveState() } }
    }

    public func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource] {
        let started = early.withLock { read in defer { read = nil }; return read }
        let live = try await (started ?? EarlyRead { try readLiveState() }).value()
        let comparison = FirewallComparison(desired: desired, want: FirewallRules(desired), live: live.ruleset, addresses: live.addresses,
                                            node: node, inventory: owned)
        return comparison.resources()
    }

    // MARK: - Converge

    /// Runs the batch's planned steps: one restore input of every chain and jump line (tested
    /// with `--test` first), the address lines in one `ip -batch` beside it, then the
    /// tracked connections to forget. A rule changed by someone since the plan makes the
    /// verification fail, never a chain written from a newer read.
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        do {
            let steps = resources.uniqueSteps
            let restore = RestoreScript(resources)
            let addressLines = steps.filter { [FirewallSteps.addAddress, FirewallSteps.removeAddress].contains($0.operation) }.compactMap(\.input)
            if !restore.isEmpty {
                let applying = ["iptables-restore", "--noflush", "-w"], testing = applying + ["--test"]
                let test = try runner.output(testing, input: Data(restore.text.utf8))
                if test.timedOutAfter != nil { return resources.failing(with: "\(CommandRunner.Failure(testing, test))") }
                guard test.status == 0 else { return resources.failing(with: "iptables-restore --test rejected the rules: \(restore.explain(test.stderr))") }
                // Once the rules passed the test, the addresses go on while they are restored:
                // each takes about a second at 7,000 pairs, and they do not depend on each other.
                let addresses = EarlyRead { try changeAddresses(addressLines) }
                let applied = try runner.output(applying, input: Data(restore.text.utf8))
                let addressed: Result<Void, any Error>
                do { addressed = .success(try await addresses.value()) } catch { addressed = .failure(error) }
                if applied.timedOutAfter != nil { return resources.failing(with: "\(CommandRunner.Failure(applying, applied))") }
                guard applied.status == 0 else { return resources.failing(with: "iptables-restore failed: \(restore.explain(applied.stderr))") }
                try addressed.get()
            } else {
                try changeAddresses(addressLines)
            }
            try await forgetConnections(steps)
            return [:]
        } catch {
            return resources.failing(with: "\(error)")
        }
    }

    /// One `ip -batch` for every address line: thousands of pairs must not mean thousands of processes.
    private func changeAddresses(_ lines: [String]) throws {
        guard !lines.isEmpty else { return }
        try runner.run(["ip", "-batch", "-"], input: Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// Forgets tracked connections of changed or removed pairs, so packets follow the new
    /// rules: one dump of the namespace's table, then each match deleted by its tuple (800
    /// removed pairs once took 1,600 `conntrack -D` processes and 88 s; one `conntrack
    /// --load-file` of them still 39 s, as the tool dumps the table for each deletion).
    private func forgetConnections(_ steps: [Step]) async throws {
        let to = Set(steps.filter { $0.operation == FirewallSteps.forgetTo }.map(\.target))
        let from = Set(steps.filter { $0.operation == FirewallSteps.forgetFrom }.map(\.target))
        guard !to.isEmpty || !from.isEmpty else { return }
        _ = try await ConnectionTable.forget(destinations: to, sources: from, netns: node.netns)
    }

    public func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws {
        throw RunError("iptables has no handler \(handler)")
    }
}
