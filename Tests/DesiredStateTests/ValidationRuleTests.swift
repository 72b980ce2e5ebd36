import Testing

/// One rule of DESIGN.md's validation: a desired state breaking it, and the exact diagnostics.
struct RuleCase: Sendable, CustomTestStringConvertible {
    var rule: String
    var files: [String: String]
    var expected: [String]

    init(_ rule: String, _ yaml: String, _ expected: String...) {
        self.rule = rule
        files = ["a.yaml": yaml]
        self.expected = expected
    }

    init(_ rule: String, files: [String: String], _ expected: String...) {
        self.rule = rule
        self.files = files
        self.expected = expected
    }

    var testDescription: String { rule }
}

let ruleCases: [RuleCase] = [
    RuleCase("duplicate name per kind", files: ["a.yaml": Base.network, "b.yaml": Base.network.replacingOccurrences(of: "10.0.", with: "10.1.")],
             "b.yaml:2:7: duplicate Network name \"private\" (first at a.yaml:2:7)"),
    RuleCase("same name in two kinds is fine", Base.network + "---\n" + Base.vm + "---\nkind: IPPair\nname: cpro0007\nvm: cpro0007\npublic: 203.0.113.7\nprivate: 10.0.0.7\n"),
    RuleCase("duplicate MAC", Base.network + "---\n" + Base.vm + """
        ---
        kind: DHCPHost
        name: printer
        network: private
        mac: 00:25:22:BD:D1:20
        ip: 10.0.0.9
        """, "a.yaml:17:6: MAC 00:25:22:bd:d1:20 is already used by VirtualMachine cpro0007 (a.yaml:12:29)"),
    RuleCase("duplicate UUID", Base.network + "---\n" + Base.vm + "uuid: 3ea808bd-5ef0-4227-a617-f5b0694e408c\n---\n"
        + Base.vm.replacingOccurrences(of: "cpro0007", with: "cpro0008").replacingOccurrences(of: "d1:20, ip: 10.0.0.7", with: "d1:21, ip: 10.0.0.8")
        + "uuid: 3EA808BD-5ef0-4227-a617-f5b0694e408c\n",
        "a.yaml:21:7: uuid 3ea808bd-5ef0-4227-a617-f5b0694e408c is already used by VirtualMachine cpro0007 (a.yaml:13:7)"),
    RuleCase("duplicate private IP across VM and DHCP host", Base.network + "---\n" + Base.vm + """
        ---
        kind: DHCPHost
        name: printer
        network: private
        mac: 52:54:00:11:22:33
        ip: 10.0.0.7
        """, "a.yaml:18:5: ip 10.0.0.7 is already used by VirtualMachine cpro0007 (a.yaml:12:52)"),
    RuleCase("duplicate public IP", Base.network + "---\n" + Base.vm + """
        ---
        kind: IPPair
        name: one
        vm: cpro0007
        public: 203.0.113.7
        private: 10.0.0.7
        ---
        kind: IPPair
        name: two
        vm: cpro0007
        public: 203.0.113.7
        private: 10.0.0.7
        """,
        "a.yaml:23:9: public IP 203.0.113.7 is already used by IPPair one (a.yaml:17:9)",
        "a.yaml:24:10: private 10.0.0.7 is already paired by IPPair one (a.yaml:18:10)"),
    RuleCase("ip outside its network", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "10.0.0.7", with: "10.0.1.7"),
             "a.yaml:12:52: ip 10.0.1.7 is outside network private (10.0.0.0/24)"),
    RuleCase("ip is the network address", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "10.0.0.7", with: "10.0.0.0"),
             "a.yaml:12:52: ip 10.0.0.0 is the network address of private (10.0.0.0/24)"),
    RuleCase("ip is the broadcast address", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "10.0.0.7", with: "10.0.0.255"),
             "a.yaml:12:52: ip 10.0.0.255 is the broadcast address of private (10.0.0.0/24)"),
    RuleCase("ip is the gateway", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "10.0.0.7", with: "10.0.0.1"),
             "a.yaml:12:52: ip 10.0.0.1 is the gateway of network private"),
    RuleCase("gateway outside the network", Base.network.replacingOccurrences(of: "gateway: 10.0.0.1", with: "gateway: 10.0.1.1"),
             "a.yaml:4:10: gateway 10.0.1.1 is outside cidr 10.0.0.0/24"),
    RuleCase("overlapping networks", Base.network + "---\nkind: Network\nname: wide\ncidr: 10.0.0.0/16\nbridge: br1\n",
             "a.yaml:9:7: cidr 10.0.0.0/16 overlaps network private (10.0.0.0/24)"),
    RuleCase("missing network reference", Base.vm,
             "a.yaml:6:15: network \"private\" is not defined"),
    RuleCase("missing vm reference, with a suggestion", Base.network + "---\n" + Base.vm + """
        ---
        kind: FirewallRule
        name: web
        vm: cpro0070
        protocol: tcp
        source: 0.0.0.0/0
        """, "a.yaml:16:5: vm \"cpro0070\" is not defined; did you mean \"cpro0007\"?"),
    RuleCase("missing host reference", "kind: Host\nname: hv1\nroles: [hypervisor]\n---\n" + Base.network + "---\n" + Base.vm + "host: hv2\n",
             "a.yaml:17:7: host \"hv2\" is not defined; did you mean \"hv1\"?"),
    RuleCase("the one hypervisor is the default host", "kind: Host\nname: hv1\nroles: [hypervisor]\n---\nkind: Host\nname: fw1\nroles: [firewall]\n---\n" + Base.network + "---\n" + Base.vm),
    RuleCase("host required when several hosts are hypervisors", "kind: Host\nname: hv1\nroles: [hypervisor]\n---\nkind: Host\nname: hv2\nroles: [hypervisor]\n---\n" + Base.network + "---\n" + Base.vm,
             "a.yaml:15:1: VirtualMachine needs \"host\": several Hosts have the hypervisor role (hv1, hv2)"),
    RuleCase("host without the hypervisor role", "kind: Host\nname: fw1\nroles: [firewall]\n---\n" + Base.network + "---\n" + Base.vm + "host: fw1\n",
             "a.yaml:17:7: host \"fw1\" does not have the hypervisor role"),
    RuleCase("pair's private address is not the VM's", Base.network + "---\n" + Base.vm + "---\nkind: IPPair\nname: p\nvm: cpro0007\npublic: 203.0.113.7\nprivate: 10.0.0.8\n",
             "a.yaml:18:10: private 10.0.0.8 is not an address of VM cpro0007"),
    RuleCase("pair's public address inside a private network", Base.network + "---\n" + Base.vm + "---\nkind: IPPair\nname: p\nvm: cpro0007\npublic: 10.0.0.99\nprivate: 10.0.0.7\n",
             "a.yaml:17:9: public 10.0.0.99 is inside network private (10.0.0.0/24)"),
    RuleCase("port outside 1-65535", Base.network + "---\n" + Base.vm + "---\nkind: FirewallRule\nname: r\nvm: cpro0007\nprotocol: tcp\nsource: 0.0.0.0/0\nports: [0, 65536, \"1-70000\"]\n",
             "a.yaml:19:9: ports[0] 0 is outside 1-65535", "a.yaml:19:12: ports[1] 65536 is outside 1-65535",
             "a.yaml:19:19: ports[2] 70000 is outside 1-65535"),
    RuleCase("port range backwards and malformed", Base.network + "---\n" + Base.vm + "---\nkind: FirewallRule\nname: r\nvm: cpro0007\nprotocol: udp\nsource: 0.0.0.0/0\nports: [\"8100-8000\", http, 22.5]\n",
             "a.yaml:19:9: ports[0] \"8100-8000\": the range starts after it ends",
             "a.yaml:19:22: ports[1] \"http\" is not a port or a range \"a-b\"",
             "a.yaml:19:28: ports[2] must be a port or a range \"a-b\", not a number"),
    RuleCase("ports on icmp", Base.network + "---\n" + Base.vm + "---\nkind: FirewallRule\nname: r\nvm: cpro0007\nprotocol: icmp\nsource: 0.0.0.0/0\nports: [22]\n",
             "a.yaml:19:8: ports are not allowed with protocol icmp"),
    RuleCase("ports on all", Base.network + "---\n" + Base.vm + "---\nkind: FirewallRule\nname: r\nvm: cpro0007\nprotocol: all\nsource: 0.0.0.0/0\nports: []\n",
             "a.yaml:19:8: ports are not allowed with protocol all"),
    RuleCase("malformed CIDR", Base.network.replacingOccurrences(of: "10.0.0.0/24", with: "10.0.0.0/33"),
             "a.yaml:3:7: cidr \"10.0.0.0/33\" is not an IPv4 address or CIDR (a.b.c.d/n)"),
    RuleCase("CIDR with host bits", Base.network.replacingOccurrences(of: "10.0.0.0/24", with: "10.0.0.7/24"),
             "a.yaml:3:7: cidr \"10.0.0.7/24\" has host bits set; did you mean 10.0.0.0/24?"),
    RuleCase("name outside the pattern", Base.network.replacingOccurrences(of: "name: private", with: "name: \"pri vate;rm\""),
             "a.yaml:2:7: name \"pri vate;rm\" must match ^[a-z0-9][a-z0-9-]{0,62}$: lower-case letters, digits and '-', at most 63 characters"),
    RuleCase("size without a binary unit", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "2GiB", with: "2GB"),
             "a.yaml:9:9: memory \"2GB\" is not a size: use a positive whole number with MiB, GiB or TiB, e.g. 2GiB"),
    RuleCase("zero size", Base.network + "---\n" + Base.vm + "disks: [{name: root, pool: default, size: 0GiB}]\n",
             "a.yaml:13:43: disks[0].size \"0GiB\" is not a size: use a positive whole number with MiB, GiB or TiB, e.g. 2GiB"),
    RuleCase("unknown key", Base.network + "---\n" + Base.vm + "memroy: 4GiB\n",
             "a.yaml:13:1: unknown key \"memroy\" in VirtualMachine; did you mean \"memory\"?"),
    RuleCase("unknown nested key", Base.network + "---\n" + Base.vm + "console: {vnc: true, spice: true}\n",
             "a.yaml:13:22: unknown key \"spice\" in console"),
    RuleCase("missing required key", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "vcpus: 2\n", with: ""),
             "a.yaml:7:1: VirtualMachine is missing required key \"vcpus\""),
    RuleCase("wrong types", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "vcpus: 2", with: "vcpus: \"2\"")
        .replacingOccurrences(of: "interfaces:\n  - {network: private, mac: 00:25:22:bd:d1:20, ip: 10.0.0.7}\n", with: "interfaces: {eth0: x}\n") + "autostart: yes\n",
             "a.yaml:10:8: vcpus must be an integer, not a string",
             "a.yaml:11:13: interfaces must be a list, not a mapping",
             "a.yaml:12:12: autostart must be true or false, not a string"),
    RuleCase("a number where a name is expected", Base.network.replacingOccurrences(of: "name: private", with: "name: 1234"),
             "a.yaml:2:7: name must be a string, not a number; quote it: \"1234\""),
    RuleCase("duplicate YAML key", Base.network + "cidr: 10.1.0.0/24\n",
             "a.yaml:6:1: duplicate key \"cidr\" (first at line 3)"),
    RuleCase("tab in indentation", "kind: Network\nname: n\ncidr: 10.0.0.0/24\nbridge: br0\ninterfaces:\n\t- x\n",
             "a.yaml:6:1: tab character in indentation; YAML indents with spaces"),
    RuleCase("syntax error", "kind: Network\nname: [n\n",
             "a.yaml:3:1: while parsing a flow sequence: did not find expected ',' or ']'"),
    RuleCase("document without a kind", "name: x\n",
             "a.yaml:1:1: document has no \"kind\"; expected one of Host, Network, Image, VirtualMachine, IPPair, FirewallRule, DHCPHost, DNSRecord"),
    RuleCase("unknown kind", "kind: Firewall\nname: x\n",
             "a.yaml:1:7: unknown kind \"Firewall\"; expected one of Host, Network, Image, VirtualMachine, IPPair, FirewallRule, DHCPHost, DNSRecord"),
    RuleCase("document that is not a mapping", "- kind: Network\n",
             "a.yaml:1:1: a document must be a mapping with a \"kind\", not a list"),
    RuleCase("multicast MAC", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "00:25:22:bd:d1:20", with: "01:00:5e:00:00:01"),
             "a.yaml:12:29: interfaces[0].mac \"01:00:5e:00:00:01\" is a multicast MAC address; a NIC needs a unicast one"),
    RuleCase("malformed MAC", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "00:25:22:bd:d1:20", with: "00:25:22:bd:d1"),
             "a.yaml:12:29: interfaces[0].mac \"00:25:22:bd:d1\" is not a MAC address (six hex pairs: 52:54:00:11:22:33)"),
    RuleCase("malformed IP with leading zeros", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "10.0.0.7", with: "10.0.0.07"),
             "a.yaml:12:52: interfaces[0].ip \"10.0.0.07\" is not an IPv4 address"),
    RuleCase("roles must be known and unique", "kind: Host\nname: hv1\nroles: [hypervisor, router]\n---\nkind: Host\nname: hv2\nroles: [dhcp, dhcp]\n",
             "a.yaml:3:21: roles[1] \"router\" must be one of hypervisor, firewall, dhcp, dns",
             "a.yaml:7:8: roles must name at least one of hypervisor, firewall, dhcp, dns, each once"),
    RuleCase("network needs exactly one attachment", Base.network + "libvirtNetwork: default\n",
             "a.yaml:5:9: Network needs exactly one of \"bridge\" and \"libvirtNetwork\""),
    RuleCase("duplicate disk names in a VM", Base.network + "---\n" + Base.vm + "disks:\n  - {name: root, pool: default, size: 1GiB}\n  - {name: root, pool: default, size: 1GiB}\n",
             "a.yaml:15:12: duplicate disk name \"root\" in VM cpro0007"),
    RuleCase("firewall rule for a VM without an address", Base.network + "---\n" + Base.vm.replacingOccurrences(of: ", ip: 10.0.0.7", with: "") + "---\nkind: FirewallRule\nname: r\nvm: cpro0007\nprotocol: all\nsource: 0.0.0.0/0\n",
             "a.yaml:16:5: VM cpro0007 has no interface with an ip for this rule to protect"),
    RuleCase("a typo'd key is one error and its VM is still known to what names it", Base.network + "---\n"
        + Base.vm.replacingOccurrences(of: "memory: 2GiB", with: "memroy: 2GiB")
        + "---\nkind: IPPair\nname: cpro0007\nvm: cpro0007\npublic: 203.0.113.7\nprivate: 10.0.0.7\n"
        + "---\nkind: FirewallRule\nname: web\nvm: cpro0007\nprotocol: tcp\nsource: 0.0.0.0/0\nports: [80]\n",
        "a.yaml:9:1: unknown key \"memroy\" in VirtualMachine; did you mean \"memory\"?"),
    RuleCase("a size without a unit says to add one", Base.network + "---\n" + Base.vm.replacingOccurrences(of: "memory: 2GiB", with: "memory: 256"),
             "a.yaml:9:9: memory 256 has no unit: write 256MiB (or GiB, TiB)"),
    // A short name that spells a long name's shortened chain: any two colliding names are refused.
    RuleCase("two VMs never share a firewall chain", Base.network + "---\n"
        + Base.vm.replacingOccurrences(of: "cpro0007", with: "rcq-collision-00002789b") + "---\n"
        + Base.vm.replacingOccurrences(of: "cpro0007", with: "rcq-colli-47df65a71945").replacingOccurrences(of: "d1:20, ip: 10.0.0.7", with: "d1:21, ip: 10.0.0.8"),
        "a.yaml:15:7: firewall chain RC-VM-rcq-colli-47df65a71945 (from the name rcq-colli-47df65a71945) is already used by VirtualMachine rcq-collision-00002789b (a.yaml:8:7)"),
    RuleCase("a disk takes a declared image from its own pool", Base.network + "---\n" + Base.vm
        + "disks:\n  - {name: root, pool: vms, size: 1GiB, image: debian-12}\n---\n"
        + "kind: Image\nname: debian-12\nsource: /var/lib/reconcile/images/debian-12.qcow2\nsha256: \(String(repeating: "ab", count: 32))\npool: images\n",
             "a.yaml:14:48: image debian-12 is in pool images, not vms: a backing file must be in the disk's pool"),
    RuleCase("a DHCPHost is not named like a VM's reservation", Base.network + "---\n" + Base.vm + "---\n"
             + "kind: DHCPHost\nname: cpro0007\nnetwork: private\nmac: 00:25:22:bd:d1:99\nip: 10.0.0.200\nhostname: printer\n",
             "a.yaml:15:7: the DHCP reservation name \"cpro0007\" is already used by VirtualMachine cpro0007's reservation (a.yaml:12:52)"),
    RuleCase("an image's backing is a declared image in its pool, in a chain that ends",
             "kind: Image\nname: a\nsource: https://x/a.qcow2\nsha256: \(String(repeating: "ab", count: 32))\npool: images\nbackingImage: b\n---\n"
             + "kind: Image\nname: b\nsource: https://x/b.qcow2\nsha256: \(String(repeating: "ab", count: 32))\npool: images\nbackingImage: a\n---\n"
             + "kind: Image\nname: c\nsource: https://x/c.qcow2\nsha256: \(String(repeating: "ab", count: 32))\npool: other\nbackingImage: a\n---\n"
             + "kind: Image\nname: d\nsource: https://x/d.qcow2\nsha256: \(String(repeating: "ab", count: 32))\npool: images\nbackingImage: nope\n",
             "a.yaml:6:15: the chain of backingImage from a loops or is deeper than 8",
             "a.yaml:13:15: the chain of backingImage from b loops or is deeper than 8",
             "a.yaml:20:15: backingImage a goes to pool images on local, not other on local: an image and its backing share a pool",
             "a.yaml:27:15: backingImage \"nope\" is not defined"),
    RuleCase("a local image comes from a directory its Host allows", "kind: Image\nname: key\nsource: /etc/ssh/ssh_host_ed25519_key\nsha256: \(String(repeating: "ab", count: 32))\npool: images\n",
             "a.yaml:3:9: source /etc/ssh/ssh_host_ed25519_key is outside the directories host local allows images from (/var/lib/reconcile/images): "
             + "put the file there, or list its directory in the Host's imageDirectories"),
    RuleCase("a Host's image directory does not merely share a prefix", "kind: Host\nname: hv1\nroles: [hypervisor]\nimageDirectories: [/srv/images]\n---\n"
             + "kind: Image\nname: key\nsource: /srv/images-evil/x.qcow2\nsha256: \(String(repeating: "ab", count: 32))\npool: images\n",
             "a.yaml:8:9: source /srv/images-evil/x.qcow2 is outside the directories host hv1 allows images from (/srv/images): "
             + "put the file there, or list its directory in the Host's imageDirectories"),
    RuleCase("an image needs a hypervisor", "kind: Host\nname: gw1\nroles: [firewall]\n---\nkind: Image\nname: debian-12\nsource: /srv/d.qcow2\nsha256: \(String(repeating: "ab", count: 32))\npool: images\n",
             "a.yaml:5:1: Image needs a Host with the hypervisor role; none is declared"),
    RuleCase("an image comes from a file or over http(s)", "kind: Image\nname: debian-12\nsource: ftp://x/y\nsha256: \(String(repeating: "ab", count: 32))\npool: images\n",
             "a.yaml:3:9: source \"ftp://x/y\" is neither an absolute path nor an http(s) URL"),
    RuleCase("two disks never share a volume", Base.network + "---\n" + Base.vm + "disks:\n  - {name: root, pool: default, size: 1GiB, volume: cpro0007.qcow2}\n"
        + "  - {name: data, pool: default, size: 1GiB, volume: cpro0007.qcow2}\n",
             "a.yaml:15:53: volume cpro0007.qcow2 in pool default is already used by VirtualMachine cpro0007 (a.yaml:14:53)"),
    RuleCase("DNS records of every type, as zone transfers print them", Base.dnsHost + Base.network + "---\n" + Base.vm + "---\n"
        + Base.record("cpro0007.example.org", "TXT", "'v=spf1 \\\"quoted\\\" -all'") + "---\n"
        + Base.record("www.example.org.", "CNAME", "cpro0007.example.org") + "---\n"
        + Base.record("_sip._tcp.example.org", "SRV", "'10 5 5060 CPRO0007.example.org.'") + "---\n"
        + Base.record("v6.example.org", "AAAA", "['2001:DB8:0:0:0:0:0:1', '2001:db8::2']") + "---\n"
        + Base.record("example.org", "TXT", "apex-text") + "ttl: 60\n"),
    RuleCase("a DNS record needs a host with the dns role", Base.network + "---\n" + Base.record("www.example.org", "A", "192.0.2.10"),
             "a.yaml:7:1: DNSRecord needs a Host with the dns role; none is declared"),
    RuleCase("a DNS record outside every zone", Base.dnsHost + Base.record("www.example.com", "A", "192.0.2.10"),
             "a.yaml:7:7: www.example.com is outside every zone of the dns role (example.org, 0.10.in-addr.arpa)"),
    RuleCase("a DNS record at a VM's name", Base.dnsHost + Base.network + "---\n" + Base.vm + "---\n"
        + Base.record("cpro0007.example.org", "A", "192.0.2.10") + "---\n" + Base.record("cpro0007.example.org", "CNAME", "web.example.org"),
             "a.yaml:20:7: cpro0007.example.org A is already made for VirtualMachine cpro0007",
             "a.yaml:25:7: cpro0007.example.org cannot hold a CNAME and other records (VirtualMachine cpro0007)"),
    RuleCase("a CNAME where reconcile makes a PTR", Base.dnsHost + Base.network + "---\n" + Base.vm + "---\n"
        + Base.record("7.0.0.10.in-addr.arpa", "CNAME", "7.0-25.0.0.10.in-addr.arpa"),
             "a.yaml:20:7: 7.0.0.10.in-addr.arpa cannot hold a CNAME and other records (VirtualMachine cpro0007)"),
    RuleCase("a DHCPHost's name in the zone fits DNS", Base.dnsHost + Base.network + "---\n"
        + "kind: DHCPHost\nname: printer\nnetwork: private\nmac: 00:25:22:bd:d1:99\nip: 10.0.0.200\nhostname: \(String(repeating: "\(String(repeating: "a", count: 60)).", count: 3))\(String(repeating: "a", count: 60))\n",
             "a.yaml:17:11: hostname \(String(repeating: "\(String(repeating: "a", count: 60)).", count: 3))\(String(repeating: "a", count: 60)) in zone example.org makes a DNS name over 253 characters or a label over 63"),
    RuleCase("a TXT record set fits one DNS message", Base.dnsHost
        + Base.record("t.example.org", "TXT", "[" + (0..<9).map { String(repeating: "x", count: 1999) + "\($0)" }.joined(separator: ", ") + "]"),
             "a.yaml:9:8: value holds 18207 bytes of TXT data; a record set holds at most 16384 (one DNS message carries it)"),
    RuleCase("a DNS record set declared twice", Base.dnsHost + Base.record("www.example.org", "A", "192.0.2.10") + "---\n" + Base.record("WWW.example.org.", "A", "192.0.2.11"),
             "a.yaml:12:7: duplicate DNSRecord www.example.org A (first at a.yaml:7:7)"),
    RuleCase("DNS names and values are checked by type", Base.dnsHost + Base.record("bad-.example.org", "A", "192.0.2.10") + "---\n"
        + Base.record("v6.example.org", "AAAA", "[2001:db8::1, 2001:db8::g]") + "---\n"
        + Base.record("_sip._tcp.example.org", "SRV", "'10 5 sip.example.org'") + "---\n"
        + Base.record("t.example.org", "TXT", "'caf\u{e9}'") + "---\n"
        + Base.record("_reconcile.www.example.org", "TXT", "mine") + "---\n"
        + Base.record("alias.example.org", "CNAME", "[a.example.org, b.example.org]") + "---\n"
        + Base.record("www.example.org", "MX", "10 mail.example.org"),
             "a.yaml:7:7: name \"bad-.example.org\" is not a DNS name: labels of letters, digits, '-' and '_' (1-63 each, no '-' at either end) separated by dots, at most 253 characters",
             "a.yaml:14:22: value[1] \"2001:db8::g\" is not an IPv6 address",
             "a.yaml:19:8: value \"10 5 sip.example.org\" is not \"PRIORITY WEIGHT PORT TARGET\" (numbers 0-65535 and a DNS name)",
             "a.yaml:24:8: value must be 1 to 2048 characters of printable ASCII",
             "a.yaml:27:7: name \"_reconcile.www.example.org\": names starting with _reconcile. hold reconcile's ownership marks",
             "a.yaml:34:8: a CNAME has one value, not 2",
             "a.yaml:38:7: type \"MX\" must be one of A, AAAA, CNAME, TXT, SRV"),
    RuleCase("errors in several files are all reported, in file order", files: [
        "b.yaml": "kind: Network\nname: B\n", "a.yaml": "kind: Nope\n",
    ], "a.yaml:1:7: unknown kind \"Nope\"; expected one of Host, Network, Image, VirtualMachine, IPPair, FirewallRule, DHCPHost, DNSRecord",
       "b.yaml:1:1: Network is missing required key \"cidr\"",
       "b.yaml:2:7: name \"B\" must match ^[a-z0-9][a-z0-9-]{0,62}$: lower-case letters, digits and '-', at most 63 characters"),
]

@Suite struct ValidationRuleTests {
    @Test(arguments: ruleCases)
    func reportsExactMessageAndPosition(_ rule: RuleCase) throws {
        let directory = try TemporaryDesiredState(rule.files)
        #expect(directory.diagnostics() == rule.expected)
    }
}
