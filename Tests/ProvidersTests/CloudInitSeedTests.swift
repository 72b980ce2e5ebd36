import DesiredState
import Engine
import Foundation
import Libvirt
@testable import Providers
import Testing

/// The NoCloud seed a VM's `cloudInit` makes, and how the domain keeps and compares it.
@Suite struct CloudInitSeedTests {
    static func vm(_ cloudInit: String, name: String = "web") throws -> (VirtualMachine, [String: Network]) {
        let state = try desiredState("""
            kind: Network
            name: private
            cidr: 10.0.0.0/24
            gateway: 10.0.0.1
            dns: [10.0.0.1, 10.0.0.2]
            bridge: br-private
            ---
            kind: Network
            name: backup
            cidr: 10.1.0.0/16
            gateway: 10.1.0.1
            bridge: br-backup
            ---
            kind: VirtualMachine
            name: \(name)
            memory: 512MiB
            vcpus: 1
            disks: [{name: root, pool: default-pool, size: 1GiB}]
            interfaces:
              - {network: private, mac: "00:25:22:bd:d1:20", ip: 10.0.0.7}
              - {network: backup, mac: "00:25:22:bd:d1:21", ip: 10.1.2.3}
              - {network: backup, mac: "00:25:22:bd:d1:22"}
            cloudInit:
            \(cloudInit)
            """)
        return (state.virtualMachines[0], Dictionary(uniqueKeysWithValues: state.networks.map { ($0.name, $0) }))
    }

    @Test func staticInterfacesGetTheirAddressesOneDefaultRouteAndDNSTheOthersDHCP() throws {
        let (vm, networks) = try Self.vm("  userData: \"#cloud-config\"")
        let seed = try #require(CloudInitSeed(vm, networks: networks))
        #expect(seed.networkConfig == """
            {"ethernets":{"eth0":{"addresses":["10.0.0.7/24"],"match":{"macaddress":"00:25:22:bd:d1:20"},\
            "nameservers":{"addresses":["10.0.0.1","10.0.0.2"]},"routes":[{"to":"0.0.0.0/0","via":"10.0.0.1"}],"set-name":"eth0"},\
            "eth1":{"addresses":["10.1.2.3/16"],"match":{"macaddress":"00:25:22:bd:d1:21"},"set-name":"eth1"},\
            "eth2":{"dhcp4":true,"match":{"macaddress":"00:25:22:bd:d1:22"},"set-name":"eth2"}},"version":2}

            """)
        #expect(seed.metaData == "{\"instance-id\":\"\(seed.instanceID)\",\"local-hostname\":\"web\"}\n")
        #expect(seed.userData == "#cloud-config")
        #expect(seed.volumeName == "web-cidata-\(seed.instanceID.dropFirst("web-".count)).iso" && seed.pool == "default-pool")

        let (dhcp, _) = try Self.vm("  networkConfig: dhcp")
        let everyDHCP = try #require(CloudInitSeed(dhcp, networks: networks))
        #expect(everyDHCP.networkConfig.components(separatedBy: "\"dhcp4\":true").count == 4 && !everyDHCP.networkConfig.contains("addresses"))
        #expect(everyDHCP.userData == "#cloud-config\n")
    }

    @Test func eachPartHasItsDigestAndAnyChangeIsANewInstance() throws {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJU/cFXE2iUqCyaA5SGrEV2Z2M1rZ3Sx8nWBizojQtG7 ops@example"
        let (plain, networks) = try Self.vm("  userData: \"#cloud-config\"")
        let (keyed, _) = try Self.vm("  userData: \"#cloud-config\"\n  sshAuthorizedKeys: [\"\(key)\"]")
        let (one, two) = (try #require(CloudInitSeed(plain, networks: networks)), try #require(CloudInitSeed(keyed, networks: networks)))
        #expect(one.digests.userData == two.digests.userData && one.digests.networkConfig == two.digests.networkConfig)
        #expect(one.digests.metaData != two.digests.metaData && one.instanceID != two.instanceID && one.volumeName != two.volumeName)
        #expect(two.metaData.contains("\"public-keys\":[\"\(key)\"]"))
        #expect(two.digests.changes(from: one.digests).map(\.property) == ["cloudInit.metaData"])
        #expect(CloudInitSeed(plain, networks: networks) == one)
    }

    @Test func theSeedIsACDROMWhoseDigestsReadBackAndChangesNameThePart() throws {
        let name = "rctest-\(UUID().uuidString.prefix(8).lowercased())"
        let (vm, networks) = try Self.vm("  userData: \"#cloud-config\"", name: name)
        let wanted = DomainDefinition(vm, networks: networks)
        #expect(wanted.xml(type: "test").contains("device='cdrom'><driver name='qemu' type='raw'/><source pool='default-pool' volume='\(name)-cidata-"))
        let connection = try Connection(uri: "test:///default")
        try connection.define(xml: wanted.xml(type: "test"))
        defer { try? connection.undefine(name) }
        let live = try DomainDefinition.parse(try #require(try connection.domain(named: name)).xml)
        #expect(live.seed == wanted.seed && live.seedDigests == wanted.seedDigests && wanted.changes(from: live) == [])

        let (changed, _) = try Self.vm("  userData: \"#cloud-config\\npackages: [nginx]\"", name: name)
        let shown = DomainDefinition(changed, networks: networks).changes(from: live)
        #expect(shown.map(\.property) == ["cloudInit.userData"] && shown[0].from == "sha256:\(live.seedDigests?.userData ?? "")")

        var without = vm
        without.cloudInit = nil
        #expect(DomainDefinition(without, networks: networks).changes(from: live).map(\.description)
                == ["cloudInit.seed: default-pool/\(wanted.seed?.volume ?? "") → none"])

        // A CD-ROM attached by hand (an installer ISO) is no seed: not read, so never deleted.
        let cdrom = "    <disk type='volume' device='cdrom'><source pool='default-pool' volume='debian-12-netinst.iso'/>"
            + "<target dev='hdc' bus='ide'/></disk>\n  </devices>"
        let handISO = DomainDefinition(without, networks: networks).xml(type: "test").replacingOccurrences(of: "  </devices>", with: cdrom)
        let parsed = try DomainDefinition.parse(handISO)
        #expect(handISO.contains("debian-12-netinst.iso") && parsed.seed == nil)
        #expect(DomainDefinition(without, networks: networks).changes(from: parsed) == [])
    }
}
