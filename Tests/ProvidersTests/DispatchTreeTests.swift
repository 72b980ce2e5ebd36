import DesiredState
import Engine
@testable import Providers
import Testing

@Suite struct DispatchTreeTests {
    /// A VM per address, given as `IPTablesRules` renders them, and the filter table it wants.
    static func filter(_ addresses: [IPv4Address]) -> [String: [IPTablesRules.Rule]] {
        let leaves = addresses.enumerated().map { index, address in
            DispatchTree.Leaf(address: address, rule: IPTablesRules.Rule(
                table: "filter", chain: "", text: "-d \(address)/32 -m comment --comment \"rc:vm:vm\(index)\" -j RC-VM-vm\(index)",
                owner: ResourceID(IPTablesRules.chainType, "RC-VM-vm\(index)"), source: nil))
        }
        return Dictionary(uniqueKeysWithValues: DispatchTree.chains(leaves, table: "filter", tree: DispatchTree.filter).map { ($0.chain, $0.rules) })
    }

    /// What the kernel does: from the root, the first rule whose `-d` network holds the
    /// address; a jump to an inner chain continues there. The VM chain reached (nil: the
    /// packet returns), and how many rules were compared.
    static func walk(_ address: IPv4Address, _ chains: [String: [IPTablesRules.Rule]]) -> (target: String?, compared: Int) {
        var chain = DispatchTree.filter.root, compared = 0
        while let rules = chains[chain] {
            var next: String?
            for rule in rules {
                compared += 1
                let words = rule.text.split(separator: " ")
                let network = try! IPv4Network(parsing: words[1])
                if network.contains(address) { next = String(words.last!); break }
            }
            guard let next else { return (nil, compared) }
            if !DispatchTree.isInner(next) { return (next, compared) }
            chain = next
        }
        return (nil, compared)
    }

    @Test func everyAddressReachesItsChainInABoundedNumberOfComparisons() {
        // 7,000 addresses scattered over a /16, and a few far away.
        var generator = SystemRandomNumberGenerator()
        var picked: Set<UInt32> = [0x0a01_0000, 0x0a01_ffff, 0xc633_6401, 0x0100_0000]
        while picked.count < 7_000 { picked.insert(0x0a01_0000 | UInt32.random(in: 0...0xffff, using: &generator)) }
        let addresses = picked.map(IPv4Address.init(rawValue:))
        let chains = Self.filter(addresses)
        #expect(chains.values.allSatisfy { $0.count <= DispatchTree.fanout })
        var worst = 0
        for (index, address) in addresses.enumerated() {
            let (target, compared) = Self.walk(address, chains)
            #expect(target == "RC-VM-vm\(index)", "\(address)")
            worst = max(worst, compared)
        }
        #expect(worst <= 8 * DispatchTree.fanout)
        // An address no VM has (a reply to a client) returns; outside the /16, after the root.
        #expect(Self.walk(IPv4Address("10.2.0.1")!, chains).target == nil)
        #expect(Self.walk(IPv4Address("10.1.0.1")!, chains).target == nil || picked.contains(0x0a01_0001))
        #expect(Self.walk(IPv4Address("203.0.113.9")!, chains).compared <= DispatchTree.fanout)
    }

    @Test func upToSixteenAddressesTheRootHoldsThemInDeclarationOrder() {
        let addresses = (0..<16).map { IPv4Address(rawValue: 0x0a00_0020 - UInt32($0)) }
        let chains = Self.filter(addresses)
        #expect(chains.keys.sorted() == ["RC-FORWARD"])
        #expect(chains["RC-FORWARD"]?.map(\.text).first == "-d 10.0.0.32/32 -m comment --comment \"rc:vm:vm0\" -j RC-VM-vm0")
    }

    @Test func aSeventeenthAddressSplitsTheRootOnTheFirstNibbleTheyDifferIn() {
        // 10.0.0.1–16 and 10.0.0.17: the /28s 10.0.0.0 (1–15) and 10.0.0.16 (16, 17).
        let chains = Self.filter((1...17).map { IPv4Address(rawValue: 0x0a00_0000 + UInt32($0)) })
        #expect(chains.keys.sorted() == ["RC-FORWARD", "RC-FWD-10.0.0.0-28", "RC-FWD-10.0.0.16-28"])
        #expect(chains["RC-FORWARD"]?.map(\.text) == [
            "-d 10.0.0.0/28 -m comment --comment \"rc:chain:RC-FWD-10.0.0.0-28\" -j RC-FWD-10.0.0.0-28",
            "-d 10.0.0.16/28 -m comment --comment \"rc:chain:RC-FWD-10.0.0.16-28\" -j RC-FWD-10.0.0.16-28",
        ])
        #expect(chains["RC-FWD-10.0.0.16-28"]?.map(\.owner.name) == ["RC-VM-vm15", "RC-VM-vm16"])
        #expect(chains["RC-FORWARD"]?.last?.owner == ResourceID(IPTablesRules.chainType, "RC-FWD-10.0.0.16-28"))
    }

    @Test func theTreeDependsOnTheAddressesNotTheirOrder() {
        let addresses = (0..<300).map { IPv4Address(rawValue: 0x0a00_0000 + UInt32($0 * 7)) }
        let forward = Self.filter(addresses).mapValues { $0.map(\.text).filter { $0.contains("rc:chain:") } }
        let backward = Self.filter(addresses.reversed()).mapValues { $0.map(\.text).filter { $0.contains("rc:chain:") } }
        #expect(forward == backward)
    }
}
