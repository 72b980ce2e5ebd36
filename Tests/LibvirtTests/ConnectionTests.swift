import Foundation
import Libvirt
import Testing
import TestSupport

/// Against libvirt's in-process test driver: the real API, state private to this process.
@Suite struct ConnectionTests {
    static func xml(_ name: String, uuid: String = UUID().uuidString.lowercased(), memoryKiB: Int = 131_072) -> String {
        """
        <domain type='test'>
          <name>\(name)</name>
          <uuid>\(uuid)</uuid>
          <metadata><rc:managed xmlns:rc="urn:reconcile:1"/></metadata>
          <memory unit='KiB'>\(memoryKiB)</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64'>hvm</type></os>
        </domain>
        """
    }

    @Test func definesListsStartsStopsAndUndefinesDomains() throws {
        let connection = try Connection(uri: "test:///default")
        let name = "rctest-\(UUID().uuidString.prefix(8).lowercased())"
        let uuid = UUID().uuidString.lowercased()
        try connection.define(xml: Self.xml(name, uuid: uuid))

        var domain = try #require(try connection.domain(named: name))
        #expect(domain.uuid == uuid && domain.state == .stopped && !domain.autostart)
        #expect(domain.xml.contains("urn:reconcile:1"))
        #expect(try connection.domains().contains { $0.name == name })

        try connection.start(name)
        try connection.setAutostart(name, true)
        domain = try #require(try connection.domain(named: name))
        #expect(domain.state == .running && domain.autostart)

        try connection.destroy(name)
        #expect(try connection.domain(named: name)?.state == .stopped)
        try connection.undefine(name)
        #expect(try connection.domain(named: name) == nil)
    }

    @Test func missingDomainsAreNilOnlyWhenNotFound() throws {
        let connection = try Connection(uri: "test:///default")
        #expect(try connection.domain(named: "rctest-none") == nil)
        do {
            try connection.start("rctest-none")
            Issue.record("started a missing domain")
        } catch {
            #expect(error.isNotFound && error.description.hasPrefix("start domain rctest-none: "))
        }
    }

    @Test func aBadURIIsAClearError() {
        do {
            _ = try Connection(uri: "nosuchdriver:///x")
            Issue.record("connected to nothing")
        } catch {
            #expect(error.description.hasPrefix("connect to nosuchdriver:///x: "))
        }
    }

    @Test func anUnreachableRemoteHostIsAClearError() {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        do {
            _ = try Connection(uri: "qemu+tcp://127.0.0.1:9/system")
            Issue.record("connected to nothing")
        } catch {
            #expect(error.description.hasPrefix("connect to qemu+tcp://127.0.0.1:9/system: unable to connect to server at '127.0.0.1:9': Connection refused"),
                    "\(error)")
        }
    }

    /// A remote connection over libvirt's `ext` transport (a command that carries the
    /// stream: here netcat to the local libvirtd's socket); killing that command is a
    /// remote host going away.
    @Test func aConnectionWhoseTransportDiesSaysItWasLost() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rctest-ext-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("transport.sh").path, pidFile = directory.appendingPathComponent("pid").path
        try writeScript("#!/bin/sh\necho $$ > \(pidFile)\nexec nc -U /run/libvirt/libvirt-sock\n", to: script)
        let uri = "qemu+ext:///system?command=\(script)"
        let connection = try Connection(uri: uri)
        #expect(connection.isRemote)
        _ = try connection.domains()
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
        do {
            for _ in 0..<50 {  // until libvirt has seen the stream end
                _ = try connection.domains()
                Thread.sleep(forTimeInterval: 0.1)
            }
            Issue.record("the connection outlived its transport")
        } catch {
            #expect(error.message.hasPrefix("the connection to \(uri) was lost ("), "\(error)")
        }
    }

    @Test func remoteURIsAreTold() throws {
        #expect(try Connection(uri: "test:///default").isRemote == false)
        for (uri, remote) in [("qemu+ssh://root@hv1/system", true), ("qemu+tcp://hv1/system", true), ("qemu://hv1/system", true),
                              ("qemu:///system", false), ("qemu+unix:///system", false)] {
            #expect(Connection.isRemote(uri) == remote, "\(uri)")
        }
    }

    @Test func invalidXMLIsRefusedWithLibvirtsMessage() throws {
        let connection = try Connection(uri: "test:///default")
        do {
            try connection.define(xml: "<domain type='test'><name>rctest-bad</name></domain>")
            Issue.record("defined a domain without memory")
        } catch {
            #expect(error.description.hasPrefix("define domain: "))
        }
    }
}

@Suite struct StorageTests {
    @Test func volumesAreCreatedListedAndDeleted() throws {
        let connection = try Connection(uri: "test:///default")
        let name = "rctest-\(UUID().uuidString.prefix(8).lowercased())-root"
        try connection.createVolume(pool: "default-pool", xml: """
            <volume><name>\(name)</name><capacity unit='MiB'>64</capacity>
            <target><format type='qcow2'/></target></volume>
            """)
        let volume = try #require(try connection.volumes(pool: "default-pool")?.first { $0.name == name })
        #expect(volume.capacityBytes == 64 << 20)
        try connection.deleteVolume(pool: "default-pool", volume: name)
        #expect(try connection.volumes(pool: "default-pool")?.contains { $0.name == name } == false)
    }

    @Test func aMissingPoolIsNilAndNamedInErrors() throws {
        let connection = try Connection(uri: "test:///default")
        #expect(try connection.volumes(pool: "rctest-nopool") == nil)
        do {
            try connection.createVolume(pool: "rctest-nopool", xml: "<volume><name>x</name><capacity>1</capacity></volume>")
            Issue.record("created a volume in a missing pool")
        } catch {
            #expect(error.isNotFound && error.description.hasPrefix("find storage pool rctest-nopool: "))
        }
    }
}
