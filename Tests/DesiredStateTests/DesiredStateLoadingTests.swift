import DesiredState
import Foundation
import Testing

@Suite struct DesiredStateLoadingTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func bundledExampleIsValidAndComplete() throws {
        let state = try DesiredState.load(directory: Self.repository.appendingPathComponent("desired-state").path)
        #expect(state.virtualMachines.map(\.name) == ["cpro0007", "cpro0051", "cpro0099"])
        #expect(state.virtualMachines.last?.cloudInit?.userData?.hasPrefix("#cloud-config\n") == true)
        #expect(state.hostsDeclared && state.hosts.map(\.name) == ["hv1"])
        #expect(state.ipPairs.map(\.publicIP.description) == ["203.0.113.7", "203.0.113.51"])
        #expect(state.dhcpHosts.map(\.name) == ["printer01"])
        let ports = state.firewallRules.first { $0.name == "cpro0007-web" }?.ports.map(\.description)
        #expect(ports == ["80", "443", "8000-8100"])
        #expect(state.counts.map(\.count) == [1, 1, 0, 3, 2, 6, 1, 1])
    }

    @Test func hostsAreReadAheadFromTheFilesThatMentionThem() throws {
        let host = "kind: Host\nname: hv1\nroles: [firewall]\nnetns: fw\n"
        let state = try TemporaryDesiredState(["a/hosts.yaml": host, "b/vms.yaml": Base.network])
        let early = try #require(DesiredState.declaredHosts(directory: state.directory))
        #expect(early == (try state.load()).hosts)
        #expect(early.first?.netns == "fw")
        let none = try TemporaryDesiredState(["vms.yaml": Base.network])
        #expect(DesiredState.declaredHosts(directory: none.directory) == [.implicitLocal])
        let broken = try TemporaryDesiredState(["hosts.yaml": "kind: Host\nname: hv1\nroles: [router]\n"])
        #expect(DesiredState.declaredHosts(directory: broken.directory) == nil)
    }

    @Test func unquotedMACIsAMACAndStoredLowerCase() throws {
        let dir = try TemporaryDesiredState(["vm.yaml": Base.network + "---\n" + Base.vm.replacingOccurrences(of: "00:25:22:bd:d1:20", with: "52:54:00:AB:22:33")])
        let vm = try #require(try dir.load().virtualMachines.first)
        #expect(vm.interfaces.first?.mac.description == "52:54:00:ab:22:33")
    }

    @Test func noAndOffAreStringsWhereAStringIsExpected() throws {
        let dir = try TemporaryDesiredState([
            "a.yaml": Base.network + """
                ---
                kind: DHCPHost
                name: printer
                network: private
                mac: 52:54:00:11:22:33
                ip: 10.0.0.9
                hostname: no
                ---
                kind: Host
                name: "off"
                roles: [hypervisor]
                publicInterface: off
                """,
        ])
        let state = try dir.load()
        #expect(state.dhcpHosts.first?.hostname == "no")
        #expect(state.hosts.first?.publicInterface == "off")
    }

    @Test func emptyFilesAndEmptyDocumentsAreValidAndDeclareNothing() throws {
        let dir = try TemporaryDesiredState(["empty.yaml": "", "comments.yml": "# nothing yet\n---\n---\n"])
        let state = try dir.load()
        #expect(state.documentCount == 0 && state.fileCount == 2)
        #expect(!state.hostsDeclared && state.hosts == [Node.implicitLocal])
    }

    @Test func filesAreFoundRecursivelyAndHiddenOnesSkipped() throws {
        let dir = try TemporaryDesiredState([
            "net/private.yaml": Base.network, "vms/a/cpro0007.yml": Base.vm,
            ".git/x.yaml": "kind: Nonsense", "README.md": "not yaml",
        ])
        let state = try dir.load()
        #expect(state.fileCount == 2 && state.virtualMachines.count == 1)
    }

    @Test func defaultsAreFilledIn() throws {
        let vm = try #require(try TemporaryDesiredState(["a.yaml": Base.network + "---\n" + Base.vm]).load().virtualMachines.first)
        #expect(vm.state == .running && vm.autostart && vm.disks.isEmpty && !vm.vnc && vm.restartPolicy == .never)
        #expect(vm.memory == ByteSize(bytes: 2 << 30) && vm.memory.description == "2 GiB")
    }

    @Test func dnsRecordValuesAreKeptAsZoneTransfersPrintThem() throws {
        let long = String(repeating: "x", count: 300)
        let records = try TemporaryDesiredState(["a.yaml": Base.dnsHost
            + Base.record("WWW.Example.org.", "CNAME", "Web.Example.org") + "---\n"
            + Base.record("v6.example.org", "AAAA", "['2001:DB8:0:0:0:0:0:1', '2001:db8:0:1:0:0:0:1']") + "---\n"
            + Base.record("_sip._tcp.example.org", "SRV", "'10 5 5060 SIP.example.org'") + "---\n"
            + Base.record("t.example.org", "TXT", "'say \"hi\" \\ \(long)'") + "ttl: 60\n"]).load().dnsRecords
        #expect(records.map(\.name) == ["www.example.org", "v6.example.org", "_sip._tcp.example.org", "t.example.org"])
        let values: [[String]] = [["web.example.org."], ["2001:db8::1", "2001:db8:0:1::1"], ["10 5 5060 sip.example.org."]]
        #expect(Array(records.map(\.values).prefix(3)) == values)
        // TXT: quoted, `"` and `\` escaped, in strings of 255 bytes.
        let text = "\"say \\\"hi\\\" \\\\ " + String(repeating: "x", count: 244) + "\" \"" + String(repeating: "x", count: 56) + "\""
        #expect(records.last?.values == [text])
        #expect(records.map(\.ttl) == [300, 300, 300, 60])
    }

    @Test func aMissingDirectoryIsNotAnEmptyState() throws {
        #expect(throws: (any Error).self) { try DesiredState.load(directory: "/nonexistent/reconcile") }
    }
}

@Suite struct DesiredStateLimitsTests {
    @Test func symlinksToADirectoryAlreadyReadAreReportedNotFollowed() throws {
        let state = try TemporaryDesiredState(["net.yaml": Base.network, "sub/vm.yaml": Base.vm])
        try FileManager.default.createSymbolicLink(atPath: state.directory + "/loop", withDestinationPath: ".")
        try FileManager.default.createSymbolicLink(atPath: state.directory + "/sub/up", withDestinationPath: "..")
        let diagnostics = state.diagnostics()
        #expect(diagnostics.contains { $0.hasPrefix("loop:1:1: a symbolic link to the directory") })
        #expect(diagnostics.contains { $0.hasPrefix("sub/up:1:1: a symbolic link to the directory") })
        #expect(diagnostics.count == 2)
    }

    @Test func aSymlinkToAnotherDirectoryIsReadOnce() throws {
        let state = try TemporaryDesiredState(["net.yaml": Base.network])
        let other = try TemporaryDesiredState(["vm.yaml": Base.vm])
        try FileManager.default.createSymbolicLink(atPath: state.directory + "/vms", withDestinationPath: other.directory)
        #expect(try state.load().virtualMachines.count == 1)
    }

    @Test func aFileOverTheSizeLimitIsRefusedWithoutBeingRead() throws {
        let state = try TemporaryDesiredState(["net.yaml": Base.network])
        let big = state.directory + "/big.yaml"
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, off_t(33 << 20)) == 0)  // sparse: costs no disk
        #expect(state.diagnostics() == ["big.yaml:1:1: this file is 34603008 bytes; the limit is 33554432"])
    }

    @Test func deepNestingIsAnInvalidDesiredStateWithItsPosition() throws {
        let state = try TemporaryDesiredState(["deep.yaml": "x:\n" + String(repeating: "- ", count: 70_000) + "x\n"])
        let diagnostics = state.diagnostics()
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.hasPrefix("deep.yaml:2:127: nested deeper than 64 levels") == true)
    }

    @Test func aMappingOf20000UnknownKeysListsTheFirstProblemsAndCountsTheRest() throws {
        let keys = (0..<20_000).map { "k\($0): 1" }.joined(separator: "\n")
        let state = try TemporaryDesiredState(["a.yaml": "kind: Network\nname: n\ncidr: 10.9.0.0/24\nbridge: b\n" + keys + "\n"])
        let diagnostics = state.diagnostics()
        #expect(diagnostics.count == 201)
        #expect(diagnostics.last == "a.yaml:20004:1: … and 19800 more problems in this file")
    }
}
