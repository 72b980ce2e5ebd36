import DesiredState
import Engine
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The parts of a libvirt domain that a VirtualMachine declares, rendered to libvirt XML
/// and read back from it, so that only declared properties are compared.
package struct DomainDefinition: Equatable, Sendable {
    package struct Interface: Equatable, Sendable {
        package var mac: String
        /// `bridge:<name>` or `network:<name>`.
        package var source: String
    }

    struct Disk: Equatable, Sendable {
        var pool: String
        var volume: String
    }

    var name: String
    var uuid: String?
    /// The maximum memory (`<memory>`) and the memory the guest gets (`<currentMemory>`).
    package var memoryKiB: UInt64
    var currentMemoryKiB: UInt64
    /// The maximum vCPUs (`<vcpu>`) and those the guest gets (`<vcpu current=…>`).
    package var vcpus: Int
    var currentVcpus: Int
    package var interfaces: [Interface]
    var disks: [Disk]
    /// The cloud-init seed on a CD-ROM, and its parts' digests (kept in reconcile's metadata).
    var seed: Disk?
    var seedDigests: CloudInitSeed.Digests?
    package var vnc: Bool
    /// Whether the domain carries reconcile's ownership metadata.
    var managed: Bool
    /// Kept in that metadata, so a VM removed from git still says whether its volumes go too.
    var deleteDisks: Bool

    static let namespace = "urn:reconcile:1"

    /// The element that marks a domain as reconcile's.
    static func metadata(deleteDisks: Bool, seed: CloudInitSeed.Digests? = nil) -> String {
        let digests = seed.map { " userData='\($0.userData)' networkConfig='\($0.networkConfig)' metaData='\($0.metaData)'" } ?? ""
        return "<rc:managed xmlns:rc='\(namespace)' deleteDisks='\(deleteDisks ? "yes" : "no")'\(digests)/>"
    }

    /// The definition a VM asks for; `networks` resolves its interfaces' attachments.
    init(_ vm: VirtualMachine, networks: [String: Network]) {
        self.init(vm, networks: networks, seed: CloudInitSeed(vm, networks: networks))
    }

    /// The same, with the VM's seed already made (the plan needs it for its steps too).
    init(_ vm: VirtualMachine, networks: [String: Network], seed: CloudInitSeed?) {
        name = vm.name
        uuid = vm.uuid
        memoryKiB = vm.memory.bytes / 1024
        currentMemoryKiB = memoryKiB
        vcpus = vm.vcpus
        currentVcpus = vcpus
        interfaces = vm.interfaces.map { interface in
            let source =
                switch networks[interface.network]?.attachment {
                case .bridge(let bridge)?: "bridge:\(bridge)"
                case .libvirtNetwork(let network)?: "network:\(network)"
                case nil: "network:\(interface.network)"
                }
            return Interface(mac: interface.mac.description, source: source)
        }
        disks = vm.disks.map { Disk(pool: $0.pool, volume: vm.volumeName(of: $0)) }
        self.seed = seed.map { Disk(pool: $0.pool, volume: $0.volumeName) }
        seedDigests = seed?.digests
        vnc = vm.vnc
        managed = true
        deleteDisks = vm.deleteDisks
    }

    init(
        name: String, uuid: String?, memoryKiB: UInt64, currentMemoryKiB: UInt64, vcpus: Int, currentVcpus: Int,
        interfaces: [Interface], disks: [Disk], seed: Disk? = nil, seedDigests: CloudInitSeed.Digests? = nil,
        vnc: Bool, managed: Bool, deleteDisks: Bool
    ) {
        (self.name, self.uuid, self.memoryKiB, self.currentMemoryKiB) = (name, uuid, memoryKiB, currentMemoryKiB)
        (self.vcpus, self.currentVcpus, self.interfaces, self.disks) = (vcpus, currentVcpus, interfaces, disks)
        (self.seed, self.seedDigests) = (seed, seedDigests)
        (self.vnc, self.managed, self.deleteDisks) = (vnc, managed, deleteDisks)
    }

    /// Domain XML for `type` (`kvm`, `qemu` for TCG, `test`). Names are validated to
    /// `[a-z0-9-]`, MACs and pools too, so no value here needs escaping but bridge and pool
    /// names, which are escaped.
    func xml(type: String) -> String {
        var lines = ["<domain type='\(type)'>", "  <name>\(name)</name>"]
        if let uuid { lines.append("  <uuid>\(uuid)</uuid>") }
        lines += [
            "  <metadata>\(Self.metadata(deleteDisks: deleteDisks, seed: seedDigests))</metadata>",
            "  <memory unit='KiB'>\(memoryKiB)</memory>",
            "  <currentMemory unit='KiB'>\(currentMemoryKiB)</currentMemory>",
            "  <vcpu current='\(currentVcpus)'>\(vcpus)</vcpu>",
            "  <os><type arch='x86_64'>hvm</type>" + (disks.isEmpty ? "" : "<boot dev='hd'/>") + "<boot dev='network'/></os>",
            "  <devices>",
        ]
        for (index, disk) in disks.enumerated() {
            let target = "vd" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(index % 26)))
            lines.append("    <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
                         + "<source pool='\(Self.escape(disk.pool))' volume='\(disk.volume)'/><target dev='\(target)' bus='virtio'/></disk>")
        }
        if let seed {
            // IDE: the default machine (pc) has it, and every guest kernel drives it.
            lines.append("    <disk type='volume' device='cdrom'><driver name='qemu' type='raw'/>"
                         + "<source pool='\(Self.escape(seed.pool))' volume='\(seed.volume)'/><target dev='hdc' bus='ide'/><readonly/></disk>")
        }
        for interface in interfaces {
            let parts = interface.source.split(separator: ":", maxSplits: 1).map(String.init)
            let kind = parts.first ?? "network", source = parts.count > 1 ? parts[1] : ""
            lines.append("    <interface type='\(kind)'><mac address='\(interface.mac)'/>"
                         + "<source \(kind)='\(Self.escape(source))'/><model type='virtio'/></interface>")
        }
        if vnc { lines.append("    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>") }
        lines += ["  </devices>", "</domain>"]
        return lines.joined(separator: "\n")
    }

    /// Reads the declared parts back from libvirt's (inactive) XML.
    /// - Parameter volumeAt: the pool and volume of a file disk's path (a domain defined by
    ///   hand names its disks by file); without it only volume disks are read.
    package static func parse(_ xml: String, volumeAt: (String) throws -> (pool: String, volume: String)? = { _ in nil }) throws -> DomainDefinition {
        let document = try XMLDocument(xmlString: xml)
        func text(_ path: String) -> String? { try? document.nodes(forXPath: path).first?.stringValue }
        func values(_ path: String) -> [String] { ((try? document.nodes(forXPath: path)) ?? []).compactMap(\.stringValue) }
        func kibibytes(_ element: String) -> UInt64? {
            guard let value = UInt64(text("/domain/\(element)") ?? "") else { return nil }
            switch text("/domain/\(element)/@unit") ?? "KiB" {
            case "b", "bytes": return value / 1024
            case "MiB", "M": return value << 10
            case "GiB", "G": return value << 20
            case "TiB", "T": return value << 30
            default: return value  // KiB, k
            }
        }
        let memory = kibibytes("memory") ?? 0
        let vcpus = Int(text("/domain/vcpu") ?? "") ?? 0
        let interfaceNodes = (try? document.nodes(forXPath: "/domain/devices/interface")) ?? []
        let interfaces = interfaceNodes.compactMap { node -> Interface? in
            guard let element = node as? XMLElement, let kind = element.attribute(forName: "type")?.stringValue else { return nil }
            let mac = (try? element.nodes(forXPath: "mac/@address").first?.stringValue) ?? nil
            let source = (try? element.nodes(forXPath: "source/@\(kind)").first?.stringValue) ?? nil
            return Interface(mac: (mac ?? "").lowercased(), source: "\(kind):\(source ?? "")")
        }
        let diskNodes = (try? document.nodes(forXPath: "/domain/devices/disk[@device='disk']")) ?? []
        let disks = try diskNodes.compactMap { node -> Disk? in
            if let file = (try? node.nodes(forXPath: "source/@file").first?.stringValue) ?? nil {
                return try volumeAt(file).map { Disk(pool: $0.pool, volume: $0.volume) }
            }
            guard let pool = (try? node.nodes(forXPath: "source/@pool").first?.stringValue) ?? nil,
                  let volume = (try? node.nodes(forXPath: "source/@volume").first?.stringValue) ?? nil else { return nil }
            return Disk(pool: pool, volume: volume)
        }
        // Only a CD-ROM named as reconcile names seeds is one: an ISO attached by hand is not
        // read (nor ever deleted).
        let name = text("/domain/name") ?? ""
        let seed = ((try? document.nodes(forXPath: "/domain/devices/disk[@device='cdrom']/source")) ?? []).lazy
            .compactMap { $0 as? XMLElement }
            .compactMap { source -> Disk? in
                guard let pool = source.attribute(forName: "pool")?.stringValue, let volume = source.attribute(forName: "volume")?.stringValue,
                      volume.hasPrefix("\(name)-cidata-"), volume.hasSuffix(".iso") else { return nil }
                return Disk(pool: pool, volume: volume)
            }.first
        // FoundationXML's XPath has no namespace bindings; the metadata element is found by its URI.
        let metadata = ((try? document.nodes(forXPath: "/domain/metadata/*")) ?? [])
            .compactMap { $0 as? XMLElement }.first { $0.uri == namespace }
        return DomainDefinition(
            name: name, uuid: text("/domain/uuid")?.lowercased(),
            memoryKiB: memory, currentMemoryKiB: kibibytes("currentMemory") ?? memory,
            vcpus: vcpus, currentVcpus: Int(text("/domain/vcpu/@current") ?? "") ?? vcpus,
            interfaces: interfaces, disks: disks, seed: seed, seedDigests: metadata.flatMap(seedDigests),
            vnc: !values("/domain/devices/graphics[@type='vnc']/@type").isEmpty,
            managed: metadata != nil, deleteDisks: metadata?.attribute(forName: "deleteDisks")?.stringValue == "yes"
        )
    }

    /// The seed digests reconcile's metadata element holds, when it holds all three.
    private static func seedDigests(_ element: XMLElement) -> CloudInitSeed.Digests? {
        guard let userData = element.attribute(forName: "userData")?.stringValue,
              let networkConfig = element.attribute(forName: "networkConfig")?.stringValue,
              let metaData = element.attribute(forName: "metaData")?.stringValue else { return nil }
        return CloudInitSeed.Digests(userData: userData, networkConfig: networkConfig, metaData: metaData)
    }

    /// The declared properties of `self` (desired) that differ from `live` (a stored definition).
    func changes(from live: DomainDefinition) -> [PropertyChange] {
        var changes = guestChanges(from: live)
        if let uuid, uuid != live.uuid { changes.insert(PropertyChange("uuid", from: live.uuid, to: uuid), at: 0) }
        if deleteDisks != live.deleteDisks {
            changes.append(PropertyChange("deleteDisks", from: "\(live.deleteDisks)", to: "\(deleteDisks)"))
        }
        return changes
    }

    /// What the guest sees that differs: the properties a running domain can lag behind its
    /// stored definition in, until it restarts.
    func guestChanges(from live: DomainDefinition) -> [PropertyChange] {
        var changes: [PropertyChange] = []
        if memoryKiB != live.memoryKiB || currentMemoryKiB != live.currentMemoryKiB {
            changes.append(PropertyChange("memory", from: live.memoryDescription, to: memoryDescription))
        }
        if vcpus != live.vcpus || currentVcpus != live.currentVcpus {
            changes.append(PropertyChange("vcpus", from: live.vcpusDescription, to: vcpusDescription))
        }
        if interfaces != live.interfaces {
            changes.append(PropertyChange("interfaces", from: Self.describe(live.interfaces), to: Self.describe(interfaces)))
        }
        if disks != live.disks {
            changes.append(PropertyChange("disks", from: live.disks.map { "\($0.pool)/\($0.volume)" }.joined(separator: ", "),
                                          to: disks.map { "\($0.pool)/\($0.volume)" }.joined(separator: ", ")))
        }
        if vnc != live.vnc { changes.append(PropertyChange("vnc", from: "\(live.vnc)", to: "\(vnc)")) }
        return changes + seedChanges(from: live)
    }

    /// The cloud-init parts that differ, each a `cloudInit.*` property (they take effect at
    /// the guest's next boot); a seed whose parts are the same in another place is `cloudInit.seed`.
    private func seedChanges(from live: DomainDefinition) -> [PropertyChange] {
        guard seed != live.seed || seedDigests != live.seedDigests else { return [] }
        let describe = { (seed: Disk?) in seed.map { "\($0.pool)/\($0.volume)" } ?? "none" }
        guard let seedDigests else { return [PropertyChange("cloudInit.seed", from: describe(live.seed), to: "none")] }
        let parts = seedDigests.changes(from: live.seed == nil ? nil : live.seedDigests)
        guard !parts.isEmpty else { return [PropertyChange("cloudInit.seed", from: describe(live.seed), to: describe(seed))] }
        return parts.map { PropertyChange($0.property, from: $0.from, to: $0.to) }
    }

    var memoryDescription: String {
        let current = ByteSize(bytes: currentMemoryKiB * 1024).description
        return currentMemoryKiB == memoryKiB ? current : "\(current) (max \(ByteSize(bytes: memoryKiB * 1024)))"
    }

    var vcpusDescription: String { currentVcpus == vcpus ? "\(vcpus)" : "\(currentVcpus) (max \(vcpus))" }

    private static func describe(_ interfaces: [Interface]) -> String {
        interfaces.isEmpty ? "none" : interfaces.map { "\($0.mac) on \($0.source)" }.joined(separator: ", ")
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "'", with: "&apos;")
            .replacingOccurrences(of: "<", with: "&lt;")
    }
}
