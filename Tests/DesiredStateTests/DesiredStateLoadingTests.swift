import DesiredState
import Foundation
import Testing

@Suite struct DesiredStateLoadingTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func bundledExampleIsValidAndComplete() throws {
        let state = try DesiredState.load(directory: Self.repository.appendingPathComponent("desired-state").path)
        #expect(state.virtualMachines.map(\.name) == ["cpro0007", "cpro0051"])
        #expect(state.hostsDeclared && state.hosts.map(\.name) == ["hv1"])
        #expect(state.ipPairs.map(\.publicIP.description) == ["203.0.113.7", "203.0.113.51"])
        #expect(state.dhcpHosts.map(\.name) == ["printer01"])
        let ports = state.firewallRules.first { $0.name == "cpro0007-web" }?.ports.map(\.description)
        #expect(ports == ["80", "443", "8000-8100"])
        #expect(state.counts.map(\.count) == [1, 1, 2, 2, 5, 1])
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

    @Test func aMissingDirectoryIsNotAnEmptyState() throws {
        #expect(throws: (any Error).self) { try DesiredState.load(directory: "/nonexistent/reconcile") }
    }
}
