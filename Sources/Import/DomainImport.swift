import Providers
import DesiredState
import Foundation
import FoundationXML
import Libvirt

/// A libvirt domain as a VirtualMachine document: what reconcile declares of a VM (memory,
/// vCPUs, NICs, disks as pool volumes, VNC, state and autostart), or why it cannot be one.
enum DomainImport {
    static func vm(_ domain: Connection.DomainInfo, volumes: [String: LibvirtInventory.Volume],
                   unmapped: inout [ImportedCloud.Unmapped]) -> ImportedCloud.VM? {
        let source = "libvirt domain \(domain.name)"
        func note(_ text: String, _ why: String) { unmapped.append(.init(source: source, text: text, why: why)) }
        guard Kind.isValidName(domain.name) else {
            note(domain.name, "the name is not a reconcile name (lower-case letters, digits and '-', at most 63): the domain is left out")
            return nil
        }
        let definition: DomainDefinition
        let document: XMLDocument
        do {
            definition = try DomainDefinition.parse(domain.xml)
            document = try XMLDocument(xmlString: domain.xml)
        } catch {
            note("(its XML)", "unreadable: \(error); the domain is left out")
            return nil
        }
        var vm = ImportedCloud.VM(
            name: domain.name, uuid: domain.uuid.lowercased(), memory: mebibytes(kibibytes: definition.memoryKiB),
            vcpus: definition.vcpus, running: domain.state != .stopped, autostart: domain.autostart, vnc: definition.vnc)
        if definition.memoryKiB % 1024 != 0 { note("memory \(definition.memoryKiB) KiB", "not whole MiB: declared as \(vm.memory)") }
        if domain.state == .paused || domain.state == .other { note("state \(domain.state)", "declared running") }
        for interface in definition.interfaces {
            let kind = interface.source.prefix { $0 != ":" }, name = String(interface.source.drop { $0 != ":" }.dropFirst())
            switch kind {
            case "bridge": vm.interfaces.append(.init(source: .bridge(name), mac: interface.mac))
            case "network": vm.interfaces.append(.init(source: .libvirtNetwork(name), mac: interface.mac))
            default: note("interface \(interface.mac) (type \(kind))", "only bridge and network NICs can be declared; left out")
            }
        }
        let disks = (try? document.nodes(forXPath: "/domain/devices/disk")) ?? []
        for case let disk as XMLElement in disks {
            if let imported = self.disk(disk, vm: vm.name, volumes: volumes, note: note) { vm.disks.append(imported) }
        }
        return vm
    }

    /// One `<disk>`: a file or a pool volume of a pool libvirt knows, or a note saying why not.
    private static func disk(_ element: XMLElement, vm: String, volumes: [String: LibvirtInventory.Volume],
                             note: (String, String) -> Void) -> ImportedCloud.Disk? {
        func attribute(_ path: String) -> String? { (try? element.nodes(forXPath: path).first?.stringValue) ?? nil }
        let target = attribute("target/@dev") ?? "?"
        guard attribute("@device") == "disk" else {
            note("\(attribute("@device") ?? "device") \(target)", "only disks are declared (no CD-ROMs or floppies); left out")
            return nil
        }
        let path: String?
        switch attribute("@type") {
        case "file": path = attribute("source/@file")
        case "volume":
            path = volumes.first { $0.value.pool == attribute("source/@pool") && $0.value.details.name == attribute("source/@volume") }?.key
        default: path = nil
        }
        guard let path, let volume = volumes[path] else {
            note("disk \(target) (\(attribute("source/@file") ?? attribute("@type") ?? "?"))", "not a volume of any active storage pool; left out")
            return nil
        }
        let own = volume.details.name.hasPrefix(vm + "-") ? String(volume.details.name.dropFirst(vm.count + 1)) : nil
        let name = own.flatMap { Kind.isValidName($0) ? $0 : nil } ?? (Kind.isValidName(target) ? target : "disk")
        var image: String?
        if let backing = volume.backingPath {
            if let base = volumes[backing], base.pool == volume.pool {
                image = base.details.name
            } else {
                note("disk \(target) backed by \(backing)", "the backing file is not a volume of pool \(volume.pool); declared without image")
            }
        }
        return ImportedCloud.Disk(name: name, pool: volume.pool, size: mebibytes(bytes: volume.details.capacityBytes), image: image,
                                  volume: own == name ? nil : volume.details.name)
    }

    /// Rounded up to whole MiB: sizes are declared in MiB, GiB or TiB.
    static func mebibytes(kibibytes: UInt64) -> ByteSize { ByteSize(bytes: ((kibibytes + 1023) / 1024) << 20) }
    static func mebibytes(bytes: UInt64) -> ByteSize { ByteSize(bytes: ((bytes + (1 << 20) - 1) >> 20) << 20) }
}
