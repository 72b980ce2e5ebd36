import DesiredState
import Engine
import Foundation
import Providers
import RunLog

/// A desired state whose Host points dhcpd's files into a temporary directory, with a real
/// dhcpd.conf, and a restart command that counts its runs.
final class DHCPFixture {
    let root: URL
    var config: String { root.appendingPathComponent("dhcpd.conf").path }
    var hostsFile: String { root.appendingPathComponent("reconcile-hosts.conf").path }
    var restartLog: String { root.appendingPathComponent("restarts").path }
    let log: RunLog
    var netns = ""
    /// The restart command; by default it appends a line to `restartLog`.
    var restart: [String]

    init(subnet: String = "10.0.0.0 netmask 255.255.255.0", extraConfig: String = "") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-dhcp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("desired"), withIntermediateDirectories: true)
        log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        restart = ["sh", "-c", "echo restarted >> \(root.path)/restarts"]
        try Data("authoritative;\nsubnet \(subnet) { }\n\(extraConfig)".utf8).write(to: URL(fileURLWithPath: config))
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Writes the desired state: a Host with the dhcp role plus `documents`.
    func declare(_ documents: String) throws {
        let restartList = restart.map { "\"\($0.replacingOccurrences(of: "\"", with: "\\\""))\"" }.joined(separator: ", ")
        let host = """
            kind: Host
            name: dhcp1
            roles: [hypervisor, dhcp]
            netns: "\(netns)"
            dhcp: {config: \(config), hostsFile: \(hostsFile), restart: [\(restartList)]}
            ---

            """
        try Data((host + documents).utf8).write(to: root.appendingPathComponent("desired/all.yaml"))
    }

    func desired() throws -> DesiredState { try DesiredState.load(directory: root.appendingPathComponent("desired").path) }

    func provider(adopt: Bool = false) throws -> ISCDHCPProvider { ISCDHCPProvider(host: try desired().hosts[0], adopt: adopt) }

    func run(dryRun: Bool = false, adopt: Bool = false) async throws -> RunReport {
        let reconciler = Reconciler(node: "dhcp1", providers: [try provider(adopt: adopt)], recorder: log)
        return try await reconciler.run(try desired(), revision: "test", options: .init(dryRun: dryRun))
    }

    var restarts: Int {
        ((try? String(contentsOfFile: restartLog, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    static func network(_ cidr: String = "10.0.0.0/24") -> String {
        "kind: Network\nname: private\ncidr: \(cidr)\nbridge: br0\n---\n"
    }

    static func vm(_ name: String, mac: String, ip: String, uuid: String? = nil) -> String {
        """
        kind: VirtualMachine
        name: \(name)
        \(uuid.map { "uuid: \($0)" } ?? "")
        host: dhcp1
        memory: 128MiB
        vcpus: 1
        interfaces: [{network: private, mac: "\(mac)", ip: \(ip)}]
        ---

        """
    }
}
