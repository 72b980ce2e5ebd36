import DesiredState
import Engine
import Foundation
import Libvirt
@testable import Providers
import Testing

/// Domain XML rendered from a VirtualMachine, defined in libvirt's test driver and read back.
@Suite struct DomainDefinitionTests {
    static func vm(name: String, memory: String = "512MiB") throws -> (VirtualMachine, [String: Network]) {
        let state = try desiredState("""
            kind: Network
            name: private
            cidr: 10.0.0.0/24
            bridge: br-private
            ---
            kind: Network
            name: nat
            cidr: 10.1.0.0/24
            libvirtNetwork: default
            ---
            kind: VirtualMachine
            name: \(name)
            uuid: 3ea808bd-5ef0-4227-a617-\(String(format: "%012x", abs(name.hashValue) % 0xffffff))
            memory: \(memory)
            vcpus: 2
            disks: [{name: root, pool: default-pool, size: 1GiB}]
            interfaces:
              - {network: private, mac: "00:25:22:BD:D1:20", ip: 10.0.0.7}
              - {network: nat, mac: "00:25:22:bd:d1:21"}
            console: {vnc: true}
            """)
        return (state.virtualMachines[0], Dictionary(uniqueKeysWithValues: state.networks.map { ($0.name, $0) }))
    }

    @Test func whatIsDefinedReadsBackUnchanged() throws {
        let name = "rctest-\(UUID().uuidString.prefix(8).lowercased())"
        let (vm, networks) = try Self.vm(name: name)
        let wanted = DomainDefinition(vm, networks: networks)
        let connection = try Connection(uri: "test:///default")
        try connection.define(xml: wanted.xml(type: "test"))
        defer { try? connection.undefine(name) }

        let live = try DomainDefinition.parse(try #require(try connection.domain(named: name)).xml)
        #expect(live.managed)
        #expect(live.interfaces == [.init(mac: "00:25:22:bd:d1:20", source: "bridge:br-private"), .init(mac: "00:25:22:bd:d1:21", source: "network:default")])
        #expect(live.disks == [.init(pool: "default-pool", volume: "\(name)-root")])
        #expect(wanted.changes(from: live) == [])
    }

    @Test func declaredDifferencesAreReportedWithUnits() throws {
        let name = "rctest-\(UUID().uuidString.prefix(8).lowercased())"
        let connection = try Connection(uri: "test:///default")
        let (small, networks) = try Self.vm(name: name, memory: "512MiB")
        try connection.define(xml: DomainDefinition(small, networks: networks).xml(type: "test"))
        defer { try? connection.undefine(name) }
        let live = try DomainDefinition.parse(try #require(try connection.domain(named: name)).xml)

        let (large, _) = try Self.vm(name: name, memory: "4GiB")
        #expect(DomainDefinition(large, networks: networks).changes(from: live) == [PropertyChange("memory", from: "512 MiB", to: "4 GiB")])
    }

    @Test func aDomainWithoutOurMetadataIsNotManaged() throws {
        let connection = try Connection(uri: "test:///default")
        let foreign = try DomainDefinition.parse(try #require(try connection.domain(named: "test")).xml)
        #expect(!foreign.managed)
    }
}
