import DesiredState
import Foundation

/// A desired-state directory made by a test, removed when the test is done.
struct TemporaryDesiredState: ~Copyable {
    let directory: String

    init(_ files: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("reconcile-test-\(UUID().uuidString)").path
        for (name, text) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true
            )
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
        if files.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func load() throws -> DesiredState { try DesiredState.load(directory: directory) }

    /// Every diagnostic as `file:line:column: message`, with paths relative to the directory.
    func diagnostics() -> [String] {
        do {
            _ = try load()
            return []
        } catch let invalid as InvalidDesiredState {
            return invalid.diagnostics.map { $0.description.replacingOccurrences(of: directory + "/", with: "") }
        } catch {
            return ["unexpected: \(error)"]
        }
    }
}

/// Documents most cases build on: a network, a VM on it with an IP pair.
enum Base {
    static let network = """
        kind: Network
        name: private
        cidr: 10.0.0.0/24
        gateway: 10.0.0.1
        bridge: br-private

        """

    /// A Host with the hypervisor and dns roles, then `---`: five lines.
    static let dnsHost = """
        kind: Host
        name: hv1
        roles: [hypervisor, dns]
        dns: {server: 10.0.0.2, zone: example.org, reverseZones: [0.10.in-addr.arpa], tsigKeyFile: /etc/bind/rc.key}
        ---

        """

    static func record(_ name: String, _ type: String, _ value: String) -> String {
        "kind: DNSRecord\nname: \(name)\ntype: \(type)\nvalue: \(value)\n"
    }

    static let vm = """
        kind: VirtualMachine
        name: cpro0007
        memory: 2GiB
        vcpus: 2
        interfaces:
          - {network: private, mac: 00:25:22:bd:d1:20, ip: 10.0.0.7}

        """
}
