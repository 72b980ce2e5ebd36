import DesiredState
@testable import Providers
import Testing
import TestSupport

/// What `--adopt` removes: the hand-made rules of declared VMs and pairs, read from an `iptables-save`.
@Suite struct HandRulesTests {
    @Test func adoptionRemovesTheHandRulesOfDeclaredVMsOnly() throws {
        let desired = try desiredState("""
            kind: Host
            name: gw1
            roles: [hypervisor, firewall]
            publicInterface: eth0
            ---
            kind: Network
            name: private
            cidr: 10.0.0.0/24
            bridge: br0
            ---
            kind: VirtualMachine
            name: cpro0007
            memory: 1GiB
            vcpus: 1
            interfaces: [{network: private, mac: "52:54:00:00:00:07", ip: 10.0.0.7}]
            ---
            kind: IPPair
            name: cpro0007
            vm: cpro0007
            public: 203.0.113.7
            private: 10.0.0.7
            """)
        let resources = HandRules.resources(saved: IPTablesSaveFixture.handMadeAndReconciles, desired: desired)
        #expect(resources.map(\.id.name) == ["filter/cpro0007", "nat/cpro0007"])
        #expect(resources.first?.steps.first?.body == "-D FORWARD -d 10.0.0.7/32 -j 10.0.0.7/32\n-F 10.0.0.7/32\n-X 10.0.0.7/32")
        #expect(resources.last?.steps.first?.body == "-D PREROUTING -d 203.0.113.7/32 -j DNAT --to-destination 10.0.0.7\n"
                + "-D POSTROUTING -s 10.0.0.7/32 -j SNAT --to-source 203.0.113.7")
        #expect(resources.first?.dependsOn == [.init(IPTablesRules.chainType, "RC-VM-cpro0007")])
    }
}
