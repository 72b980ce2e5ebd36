import DesiredState
import Foundation
import Testing

/// `cloudInit` on a VirtualMachine: user data inline or from a file of the desired state,
/// checked as cloud-init would read it, with the file and line of each problem.
@Suite struct CloudInitLoadingTests {
    static let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJU/cFXE2iUqCyaA5SGrEV2Z2M1rZ3Sx8nWBizojQtG7 ops@example"

    static func vm(_ cloudInit: String, disks: String = "[{name: root, pool: default, size: 1GiB}]", ip: String = "10.0.0.7") -> String {
        """
        kind: Network
        name: private
        cidr: 10.0.0.0/24
        bridge: br0
        ---
        kind: VirtualMachine
        name: web
        memory: 1GiB
        vcpus: 1
        disks: \(disks)
        interfaces: [{network: private, mac: "52:54:00:00:00:07"\(ip.isEmpty ? "" : ", ip: \(ip)")}]
        cloudInit:
        \(cloudInit)
        """
    }

    @Test func userDataFromAFileIsReadAndItsContentIsPartOfTheRevision() throws {
        let userData = "#cloud-config\npackages: [nginx]\n"
        let directory = try TemporaryDesiredState([
            "vms/web.yaml": Self.vm("  userDataFile: cloud-init/web.cfg\n  sshAuthorizedKeys: [\"\(Self.key)\"]\n  networkConfig: dhcp"),
            "cloud-init/web.cfg": userData,
        ])
        let state = try directory.load()
        let cloudInit = try #require(state.virtualMachines.first?.cloudInit)
        #expect(cloudInit.userData == userData && cloudInit.userDataFile == "cloud-init/web.cfg")
        #expect(cloudInit.sshAuthorizedKeys == [Self.key] && cloudInit.networkConfig == .dhcp)
        let before = state.revision
        try Data("#cloud-config\npackages: [apache2]\n".utf8).write(to: URL(fileURLWithPath: directory.directory + "/cloud-init/web.cfg"))
        #expect(try directory.load().revision != before)
    }

    @Test func aUserDataFileThatIsMissingLeadsOutOrIsNotCloudConfigIsRefusedWhereItIs() throws {
        let missing = try TemporaryDesiredState(["web.yaml": Self.vm("  userDataFile: cloud-init/none.cfg")])
        #expect(missing.diagnostics() == ["web.yaml:13:17: cloudInit.userDataFile \"cloud-init/none.cfg\": no such file in the desired state"])

        let outside = try TemporaryDesiredState(["web.yaml": Self.vm("  userDataFile: passwd")])
        try FileManager.default.createSymbolicLink(atPath: outside.directory + "/passwd", withDestinationPath: "/etc/passwd")
        #expect(outside.diagnostics() == ["web.yaml:13:17: cloudInit.userDataFile \"passwd\": leads outside the desired-state directory (to /etc/passwd)"])

        let broken = try TemporaryDesiredState(["web.yaml": Self.vm("  userDataFile: web.cfg"), "web.cfg": "#cloud-config\npackages: [nginx\nruncmd: []\n"])
        let diagnostics = broken.diagnostics()
        #expect(diagnostics.count == 1 && diagnostics[0].hasPrefix("web.cfg:3:") && diagnostics[0].contains("user data is not valid YAML"), "\(diagnostics)")

        let ignored = try TemporaryDesiredState(["web.yaml": Self.vm("  userDataFile: web.cfg"), "web.cfg": "packages: [nginx]\n"])
        #expect(ignored.diagnostics() == [
            "web.cfg:1:1: user data must begin with #cloud-config (a cloud-config document) or #! (a script); cloud-init ignores anything else",
        ])

        let yaml = try TemporaryDesiredState(["web.yaml": Self.vm("  userDataFile: cloud-init/web.yaml")])
        #expect(yaml.diagnostics() == [
            "web.yaml:13:17: cloudInit.userDataFile \"cloud-init/web.yaml\" ends in .yaml or .yml, and such files are read as desired state; name it .cfg",
        ])

        let large = try TemporaryDesiredState(["web.yaml": Self.vm("  userDataFile: web.cfg"),
                                               "web.cfg": "#!/bin/sh\n" + String(repeating: "#", count: CloudInit.Limits.userDataBytes)])
        #expect(large.diagnostics().first?.contains("the file is 262154 bytes; the limit is 262144") == true, "\(large.diagnostics())")
    }

    @Test func inlineUserDataIsCheckedAndTheVMMustHaveADiskAndStaticAddresses() throws {
        let notMapping = try TemporaryDesiredState(["web.yaml": Self.vm("  userData: |\n    #cloud-config\n    - just a list")])
        #expect(notMapping.diagnostics() == ["web.yaml:13:13: cloudInit.userData, its line 2: a #cloud-config must be a YAML mapping, not a list"])

        let script = try TemporaryDesiredState(["web.yaml": Self.vm("  userData: |\n    #!/bin/sh\n    echo hi")])
        #expect(try script.load().virtualMachines.first?.cloudInit?.userData == "#!/bin/sh\necho hi")

        let noDisk = try TemporaryDesiredState(["web.yaml": Self.vm("  networkConfig: dhcp", disks: "[]")])
        #expect(noDisk.diagnostics() == ["web.yaml:13:3: cloudInit needs a disk: its seed goes into the pool of the VM's first disk"])

        let noAddress = try TemporaryDesiredState(["web.yaml": Self.vm("  networkConfig: static", ip: "")])
        #expect(noAddress.diagnostics() == ["web.yaml:11:14: cloudInit.networkConfig is static but this interface has no ip"])
    }
}
