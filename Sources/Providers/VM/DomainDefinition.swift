import DesiredState
import Engine
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The parts of a libvirt domain that a VirtualMachine declares, rendered to libvirt XML
/// and read back from it, so that only declared properties are compared.
struct DomainDefinition: Equatable, Sendable {
    struct Interface: Equatable, Sendable {
        var mac: String
        /// `bridge:<name>` or `network:<name>`.
        var source: String
    }

    struct Disk: Equatable, Sendable {
        var pool: String
        var volume: String
    }

    var name: String
    var uuid: String?
    var memoryKiB: UInt64
    var vcpus: Int
    var interfaces: [Interface]
    var disks: [Disk]
    var vnc: Bool
    /// Whether the domain carries reconcile's ownership metadata.
    var managed: Bool

    static let namespace = "urn:reconcile:1"

    /// The definition a VM asks for; `networks` resolves its interfaces' attachments.
    init(_ vm: VirtualMachine, networks: [String: Network]) {
        name = vm.name
        uuid = vm.uuid
        memoryKiB = vm.memory.bytes / 1024
        vcpus = vm.vcpus
        interfaces = vm.interfaces.map { interface in
            let source =
                switch networks[interface.network]?.attachment {
                case .bridge(let bridge)?: "bridge:\(bridge)"
                case .libvirtNetwork(let network)?: "network:\(network)"
                case nil: "network:\(interface.network)"
                }
            return Interface(mac: interface.mac.description, source: source)
        }
        disks = vm.disks.map { Disk(pool: $0.pool, volume: "\(vm.name)-\($0.name)") }
        vnc = vm.vnc
        managed = true
    }

    init(name: String, uuid: String?, memoryKiB: UInt64, vcpus: Int, interfaces: [Interface], disks: [Disk], vnc: Bool, managed: Bool) {
        (self.name, self.uuid, self.memoryKiB, self.vcpus) = (name, uuid, memoryKiB, vcpus)
        (self.interfaces, self.disks, self.vnc, self.managed) = (interfaces, disks, vnc, managed)
    }

    /// Domain XML for `type` (`kvm`, `qemu` for TCG, `test`). Names are validated to
    /// `[a-z0-9-]`, MACs and pools too, so no value here needs escaping but bridge and pool
    /// names, which are escaped.
    func xml(type: String) -> String {
        var lines = ["<domain type='\(type)'>", "  <name>\(name)</name>"]
        if let uuid { lines.append("  <uuid>\(uuid)</uuid>") }
        lines += [
            "  <metadata><rc:managed xmlns:rc='\(Self.namespace)'/></metadata>",
            "  <memory unit='KiB'>\(memoryKiB)</memory>",
            "  <currentMemory unit='KiB'>\(memoryKiB)</currentMemory>",
            "  <vcpu>\(vcpus)</vcpu>",
            "  <os><type arch='x86_64'>hvm</type>" + (disks.isEmpty ? "" : "<boot dev='hd'/>") + "<boot dev='network'/></os>",
            "  <devices>",
        ]
        for (index, disk) in disks.enumerated() {
            let target = "vd" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(index % 26)))
            lines.append("    <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
                         + "<source pool='\(Self.escape(disk.pool))' volume='\(disk.volume)'/><target dev='\(target)' bus='virtio'/></disk>")
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
    static func parse(_ xml: String) throws -> DomainDefinition {
        let document = try XMLDocument(xmlString: xml)
        func text(_ path: String) -> String? { try? document.nodes(forXPath: path).first?.stringValue }
        func values(_ path: String) -> [String] { ((try? document.nodes(forXPath: path)) ?? []).compactMap(\.stringValue) }
        let memory = UInt64(text("/domain/memory") ?? "") ?? 0
        let unit = text("/domain/memory/@unit") ?? "KiB"
        let kib = unit == "KiB" || unit == "k" ? memory : unit == "MiB" || unit == "M" ? memory * 1024 : unit == "GiB" || unit == "G" ? memory << 20 : memory / 1024
        let interfaceNodes = (try? document.nodes(forXPath: "/domain/devices/interface")) ?? []
        let interfaces = interfaceNodes.compactMap { node -> Interface? in
            guard let element = node as? XMLElement, let kind = element.attribute(forName: "type")?.stringValue else { return nil }
            let mac = (try? element.nodes(forXPath: "mac/@address").first?.stringValue) ?? nil
            let source = (try? element.nodes(forXPath: "source/@\(kind)").first?.stringValue) ?? nil
            return Interface(mac: (mac ?? "").lowercased(), source: "\(kind):\(source ?? "")")
        }
        let diskNodes = (try? document.nodes(forXPath: "/domain/devices/disk[@device='disk']")) ?? []
        let disks = diskNodes.compactMap { node -> Disk? in
            guard let pool = (try? node.nodes(forXPath: "source/@pool").first?.stringValue) ?? nil,
                  let volume = (try? node.nodes(forXPath: "source/@volume").first?.stringValue) ?? nil else { return nil }
            return Disk(pool: pool, volume: volume)
        }
        let managed = xml.contains(namespace)
        return DomainDefinition(
            name: text("/domain/name") ?? "", uuid: text("/domain/uuid")?.lowercased(), memoryKiB: kib,
            vcpus: Int(text("/domain/vcpu") ?? "") ?? 0, interfaces: interfaces, disks: disks,
            vnc: !values("/domain/devices/graphics[@type='vnc']/@type").isEmpty, managed: managed
        )
    }

    /// The declared properties of `self` (desired) that differ from `live`.
    func changes(from live: DomainDefinition) -> [PropertyChange] {
        var changes: [PropertyChange] = []
        if memoryKiB != live.memoryKiB {
            changes.append(PropertyChange("memory", from: ByteSize(bytes: live.memoryKiB * 1024).description,
                                          to: ByteSize(bytes: memoryKiB * 1024).description))
        }
        if vcpus != live.vcpus { changes.append(PropertyChange("vcpus", from: "\(live.vcpus)", to: "\(vcpus)")) }
        if let uuid, uuid != live.uuid { changes.append(PropertyChange("uuid", from: live.uuid, to: uuid)) }
        if interfaces != live.interfaces {
            changes.append(PropertyChange("interfaces", from: Self.describe(live.interfaces), to: Self.describe(interfaces)))
        }
        if disks != live.disks {
            changes.append(PropertyChange("disks", from: live.disks.map { "\($0.pool)/\($0.volume)" }.joined(separator: ", "),
                                          to: disks.map { "\($0.pool)/\($0.volume)" }.joined(separator: ", ")))
        }
        if vnc != live.vnc { changes.append(PropertyChange("vnc", from: "\(live.vnc)", to: "\(vnc)")) }
        return changes
    }

    private static func describe(_ interfaces: [Interface]) -> String {
        interfaces.isEmpty ? "none" : interfaces.map { "\($0.mac) on \($0.source)" }.joined(separator: ", ")
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "'", with: "&apos;")
            .replacingOccurrences(of: "<", with: "&lt;")
    }
}
