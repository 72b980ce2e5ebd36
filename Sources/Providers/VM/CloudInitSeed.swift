import Basics
import Crypto
import DesiredState
import Foundation

/// A VM's NoCloud seed: cloud-init's `meta-data`, `user-data` and `network-config`, named by
/// their content. Any change to them is a new `instance-id` (so cloud-init runs again at the
/// next boot) and a new volume; the domain's metadata keeps each part's digest, so the plan
/// says which part changed.
struct CloudInitSeed: Equatable, Sendable {
    /// The first 12 hex digits of each part's SHA-256, as the domain's metadata keeps them.
    struct Digests: Equatable, Sendable {
        var userData: String
        var networkConfig: String
        var metaData: String

        /// The parts as plan properties, for changes from `old` (nil: the VM had no seed).
        func changes(from old: Digests?) -> [(property: String, from: String, to: String)] {
            [("cloudInit.userData", old?.userData, userData), ("cloudInit.networkConfig", old?.networkConfig, networkConfig),
             ("cloudInit.metaData", old?.metaData, metaData)]
                .filter { $0.1 != $0.2 }.map { ($0.0, $0.1.map { "sha256:\($0)" } ?? "none", "sha256:\($0.2)") }
        }
    }

    var userData: String
    var networkConfig: String
    var metaData: String
    /// Of the three parts, metaData without the instance id (which is made from the three).
    var digests: Digests
    var instanceID: String
    /// `<vm>-cidata-<12 hex>.iso`, in the pool of the VM's first disk.
    var volumeName: String
    var pool: String

    /// The seed `vm` declares, nil when it has no `cloudInit` (or no disk to put it beside).
    init?(_ vm: VirtualMachine, networks: [String: Network]) {
        guard let cloudInit = vm.cloudInit, let pool = vm.disks.first?.pool else { return nil }
        self.pool = pool
        userData = cloudInit.userData ?? "#cloud-config\n"
        networkConfig = Self.json(Self.networkConfig(vm, cloudInit.networkConfig, networks: networks))
        var fields: [String: Any] = ["local-hostname": vm.name]
        if !cloudInit.sshAuthorizedKeys.isEmpty { fields["public-keys"] = cloudInit.sshAuthorizedKeys }
        func digest(_ text: String) -> String { String(hex(SHA256.hash(data: Data(text.utf8))).prefix(12)) }
        digests = Digests(userData: digest(userData), networkConfig: digest(networkConfig), metaData: digest(Self.json(fields)))
        let combined = digest("\(digests.userData) \(digests.networkConfig) \(digests.metaData)")
        instanceID = "\(vm.name)-\(combined)"
        fields["instance-id"] = instanceID
        metaData = Self.json(fields)
        volumeName = "\(vm.name)-cidata-\(combined).iso"
    }

    /// network-config version 2: each interface matched by its MAC and named eth0, eth1, …;
    /// static ones get their address, prefix and network's DNS servers, and the first with a
    /// gateway the default route.
    static func networkConfig(_ vm: VirtualMachine, _ mode: CloudInit.NetworkConfig?, networks: [String: Network]) -> [String: Any] {
        var ethernets: [String: Any] = [:]
        var routed = false
        for (index, interface) in vm.interfaces.enumerated() {
            let name = "eth\(index)"
            var entry: [String: Any] = ["match": ["macaddress": interface.mac.description], "set-name": name]
            let network = networks[interface.network]
            if mode != .dhcp, let ip = interface.ip, let network {
                entry["addresses"] = ["\(ip)/\(network.cidr.prefixLength)"]
                if let gateway = network.gateway, !routed {
                    entry["routes"] = [["to": "0.0.0.0/0", "via": gateway.description]]
                    routed = true
                }
                if !network.dns.isEmpty { entry["nameservers"] = ["addresses": network.dns.map(\.description)] }
            } else {
                entry["dhcp4"] = true
            }
            ethernets[name] = entry
        }
        return ["version": 2, "ethernets": ethernets]
    }

    /// JSON is YAML, and cloud-init reads these files as YAML: the encoding is Foundation's,
    /// keys sorted so that the same seed is the same text.
    static func json(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The three files, as a step's input carries them.
    var files: [String: String] { ["user-data": userData, "meta-data": metaData, "network-config": networkConfig] }

    /// An ISO 9660 image labelled `cidata` holding `files`, made by xorriso.
    static func iso(_ files: [String: String]) throws -> Data {
        let directory = try PrivateDirectory.make(prefix: "reconcile-seed")
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = files.keys.sorted()
        for name in names {
            try Data(files[name, default: ""].utf8).write(to: directory.appendingPathComponent(name))
        }
        let image = directory.appendingPathComponent("seed.iso").path
        try CommandRunner(directory: directory.path).run(
            ["xorriso", "-as", "mkisofs", "-quiet", "-output", image, "-volid", "cidata", "-joliet", "-rock"] + names)
        return try Data(contentsOf: URL(fileURLWithPath: image))
    }
}
