/// An `iptables-save` with the hand-made shapes (a chain per VM address, ACCEPTs in FORWARD,
/// a REJECT, a pair's DNAT and SNAT) beside reconcile's own chains and tags.
public enum IPTablesSaveFixture {
    public static let handMadeAndReconciles = """
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
}
