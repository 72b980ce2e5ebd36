@testable import Import
import Testing
import TestSupport

/// What `reconcile import` reads from an `iptables-save`.
@Suite struct FirewallImportTests {
    static let saved = IPTablesSaveFixture.handMadeAndReconciles

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
}
