@testable import Providers
import Testing

/// What `reconcile import` and `--adopt` read from an `iptables-save`.
@Suite struct FirewallImportTests {
    static let saved = """
        *filter
        :FORWARD DROP [0:0]
        :10.0.0.7/32 - [0:0]
        :RC-FORWARD - [0:0]
        :RC-VM-web - [0:0]
        -A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -d 10.0.0.7/32 -j 10.0.0.7/32
        -A FORWARD -m comment --comment reconcile -j RC-FORWARD
        -A FORWARD -d 10.0.0.8/32 -i eth1 -p tcp -m tcp --dport 25 -j ACCEPT
        -A FORWARD -d 10.0.0.8/32 -j REJECT --reject-with icmp-port-unreachable
        -A FORWARD -d 10.0.0.8/32 -p tcp -m tcp --dport 3306 -m comment --comment rc:backdoor -j ACCEPT
        -A FORWARD -d 10.0.0.8/32 -p tcp -m tcp --dport 22 -m comment --comment "ssh \\"admin\\"" -j ACCEPT
        -A 10.0.0.7/32 -s 198.51.100.0/24 -d 10.0.0.7/32 -p tcp -m tcp --dport 22 -j ACCEPT
        -A 10.0.0.7/32 -p udp -m udp --dport 5000:5100 -j ACCEPT
        -A 10.0.0.7/32 -j DROP
        -A RC-FORWARD -d 10.0.0.9/32 -m comment --comment "rc:vm:web" -j RC-VM-web
        -A RC-VM-web -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A RC-VM-web -s 192.0.2.0/24 -p tcp -m multiport --dports 80,443 -m comment --comment "rc:rule:web-https" -j ACCEPT
        -A RC-VM-web -j DROP
        COMMIT
        *nat
        -A PREROUTING -d 203.0.113.7/32 -j DNAT --to-destination 10.0.0.7
        -A POSTROUTING -s 10.0.0.7/32 -j SNAT --to-source 203.0.113.7
        -A RC-PREROUTING -d 203.0.113.9/32 -m comment --comment "rc:pair:web" -j DNAT --to-destination 10.0.0.9
        -A RC-POSTROUTING -s 10.0.0.9/32 -m comment --comment "rc:pair:web" -j SNAT --to-source 203.0.113.9
        -A POSTROUTING -o eth0 -j MASQUERADE
        COMMIT

        """

    @Test func handMadeAndReconcilesOwnShapesAreRead() {
        let imported = FirewallImport.read(Self.saved, addresses: ["10.0.0.7", "10.0.0.8", "10.0.0.9"])
        #expect(imported.rules["10.0.0.7"] == [
            .init(name: nil, ipProtocol: "tcp", source: "198.51.100.0/24", ports: ["22"]),
            .init(name: nil, ipProtocol: "udp", source: "0.0.0.0/0", ports: ["5000-5100"]),
        ])
        #expect(imported.rules["10.0.0.9"] == [.init(name: "web-https", ipProtocol: "tcp", source: "192.0.2.0/24", ports: ["80", "443"])])
        #expect(imported.pairs == [.init(name: nil, publicIP: "203.0.113.7", privateIP: "10.0.0.7"),
                                   .init(name: "web", publicIP: "203.0.113.9", privateIP: "10.0.0.9")])
        // An ACCEPT on an interface and a REJECT have no declared form: listed with their line.
        // A tag reconcile does not write makes a rule no less hand-made; a quoted comment is read whole.
        #expect(imported.rules["10.0.0.8"] == [.init(name: nil, ipProtocol: "tcp", source: "0.0.0.0/0", ports: ["3306"]),
                                               .init(name: nil, ipProtocol: "tcp", source: "0.0.0.0/0", ports: ["22"])])
        // reconcile's own jump is neither mapped nor listed.
        #expect(imported.unmapped.map(\.source) == ["iptables-save line 9 (filter)", "iptables-save line 10 (filter)", "iptables nat POSTROUTING"])
        #expect(imported.unmapped[1].why.contains("REJECT would become a DROP"))
    }

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
        let resources = HandRules.resources(saved: Self.saved, desired: desired)
        #expect(resources.map(\.id.name) == ["filter/cpro0007", "nat/cpro0007"])
        #expect(resources.first?.steps.first?.input == "-D FORWARD -d 10.0.0.7/32 -j 10.0.0.7/32\n-F 10.0.0.7/32\n-X 10.0.0.7/32")
        #expect(resources.last?.steps.first?.input == "-D PREROUTING -d 203.0.113.7/32 -j DNAT --to-destination 10.0.0.7\n"
                + "-D POSTROUTING -s 10.0.0.7/32 -j SNAT --to-source 203.0.113.7")
        #expect(resources.first?.dependsOn == [.init(FirewallRules.chainType, "RC-VM-cpro0007")])
    }
}
