import DesiredState
import Engine
@testable import Providers
import Testing

/// What the nftables backend renders and reads, without nft: the integration tests above
/// show nft prints it the same way.
@Suite struct NFTRulesTests {
    /// Both backends read owners from the tags reconcile writes, and only those: a tag with a
    /// name reconcile never writes makes a line its chain's, not a resource's of that name.
    @Test func linesBelongToTheirTagsOwnerOnBothBackends() {
        #expect(NFTRules.owner(of: "tcp dport 80 accept comment \"rc:rule:web\"", chain: "vm_a") == ResourceID(NFTRules.ruleType, "web"))
        #expect(NFTRules.owner(of: "1.2.3.4 comment \"rc:vm:a\" : goto vm_a", chain: nil) == ResourceID(NFTRules.chainType, "vm_a"))
        #expect(NFTRules.owner(of: "tcp dport 22 accept comment \"rc:rule:Bad Name\"", chain: "vm_a") == ResourceID(NFTRules.chainType, "vm_a"))
        #expect(IPTablesComparison.owner(of: "-s 10.0.0.7/32 -m comment --comment \"rc:pair:web\" -j SNAT --to-source 1.2.3.4", chain: "RC-POSTROUTING")
                == ResourceID(IPTablesRules.pairType, "web"))
        #expect(IPTablesComparison.owner(of: "-m comment --comment \"rc:vm:a\" -j RC-VM-a", chain: "RC-FORWARD") == ResourceID(IPTablesRules.chainType, "RC-VM-a"))
        #expect(IPTablesComparison.owner(of: "-p tcp -m comment --comment \"rc:pair:web #x\" -j ACCEPT", chain: "RC-VM-a")
                == ResourceID(IPTablesRules.chainType, "RC-VM-a"))
    }

    @Test func rulesRenderAsNftPrintsThem() throws {
        let desired = try desiredState(IPTablesRulesTests.yaml + """

            ---
            kind: FirewallRule
            name: merged
            vm: cpro0007
            protocol: udp
            source: 10.1.0.0/16
            ports: [81, 80, "70-79", 100]
            """)
        let chain = NFTRules(desired).chains["vm_cpro0007"]?.map(\.text)
        #expect(chain == [
            "ct state established,related accept",
            "tcp dport { 80, 443, 8000-8100 } accept comment \"rc:rule:web\"",
            "ip saddr 198.51.100.0/24 tcp dport 22 accept comment \"rc:rule:ssh\"",
            "meta l4proto icmp accept comment \"rc:rule:ping\"",
            "ip saddr 192.0.2.1 accept comment \"rc:rule:admin\"",
            "ip saddr 10.1.0.0/16 udp dport { 70-81, 100 } accept comment \"rc:rule:merged\"",
            "drop",
        ])
    }

    @Test func aListedTableIsReadBackWithWrappedElementsAndQuotedCommas() {
        let table = NFTRuleset.parse("""
            table inet reconcile {
            \tmap pair_dnat {
            \t\ttype ipv4_addr : ipv4_addr
            \t\telements = { 203.0.113.7 comment "rc:pair:a" : 10.0.0.7, 203.0.113.8 comment "x, y" : 10.0.0.8,
            \t\t\t     203.0.113.9 : 10.0.0.9 }
            \t}

            \tchain rc_forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\tip daddr vmap @vm_dispatch
            \t}
            }
            """)
        #expect(table.maps["pair_dnat"]?.elements == [
            "203.0.113.7 comment \"rc:pair:a\" : 10.0.0.7", "203.0.113.8 comment \"x, y\" : 10.0.0.8", "203.0.113.9 : 10.0.0.9",
        ])
        #expect(table.chains["rc_forward"] == NFTRuleset.Chain(header: "type filter hook forward priority filter; policy accept;",
                                                                rules: ["ip daddr vmap @vm_dispatch"]))
    }
}
