import YAML

/// The checks that need more than one document: unique names and addresses, addresses
/// inside their networks, and references between documents.
struct CrossDocumentValidator {
    private let objects: [DecodedObject]
    private(set) var diagnostics: [Diagnostic] = []

    /// Who already holds a name, MAC or address, for "already used by" messages. Where it
    /// is written is found only for such a message: 49,000 documents claim without one.
    struct Claim {
        var owner: String
        var object: Document
        var path: [PathStep]
    }

    private var names: [Kind: [String: Claim]] = [:]
    private var macs: [MACAddress: Claim] = [:]
    private var privateIPs: [IPv4Address: Claim] = [:]
    private var publicIPs: [IPv4Address: Claim] = [:]
    private var pairedPrivateIPs: [IPv4Address: Claim] = [:]
    private var uuids: [String: Claim] = [:]
    /// A reservation's block name (a VM's name, `-N` when it has several addresses; a
    /// DHCPHost's name): one block per name in the DHCP file, or one reservation replaces another.
    private var reservationNames: [String: Claim] = [:]
    private var firewallChains: [String: Claim] = [:]
    var dnsRecordSets: [String: Claim] = [:]
    private var volumes: [String: Claim] = [:]
    /// Names of documents that did not decode (already reported): references to them are
    /// not reported again as "not defined".
    private var invalidNames: [Kind: Set<String>] = [:]

    /// A document, as its index in `objects`: claims and lists hold it, not a copy of the
    /// decoded object (copying 49,000 of them retained every string they hold).
    typealias Document = Int

    init(objects: [DecodedObject]) {
        self.objects = objects
    }

    mutating func validate(fileCount: Int) -> DesiredState {
        var hosts: [Node] = [], networks: [Network] = [], vms: [(VirtualMachine, Document)] = []
        var pairs: [(IPPair, Document)] = [], rules: [(FirewallRule, Document)] = []
        var dhcpHosts: [(DHCPHost, Document)] = []
        var dnsRecords: [(DNSRecord, Document)] = []
        var images: [(Image, Document)] = []
        var networkObjects: [(Network, Document)] = []
        for object in objects.indices {
            switch objects[object].value {
            case .host(let host):
                claimName(.Host, host.name, object)
                hosts.append(host)
            case .network(let network):
                claimName(.Network, network.name, object)
                networks.append(network)
                networkObjects.append((network, object))
            case .virtualMachine(let vm): vms.append((vm, object))
            case .ipPair(let pair): pairs.append((pair, object))
            case .firewallRule(let rule): rules.append((rule, object))
            case .dhcpHost(let host): dhcpHosts.append((host, object))
            case .dnsRecord(let record): dnsRecords.append((record, object))
            case .image(let image): images.append((image, object))
            case .invalid(let kind, let name): invalidNames[kind, default: []].insert(name)
            }
        }
        reserveClaims(vms: vms.count, pairs: pairs.count, rules: rules.count, dhcpHosts: dhcpHosts.count)
        let networksByName = Dictionary(networks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let hostsByName = Dictionary(hosts.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        for (network, object) in networkObjects { checkNetwork(network, object) }
        checkOverlaps(networkObjects)
        // With exactly one hypervisor declared, a VM without `host` runs there.
        let hypervisors = hosts.filter { $0.roles.contains(.hypervisor) }
        if hypervisors.count == 1 {
            for index in vms.indices where vms[index].0.host == nil { vms[index].0.host = hypervisors[0].name }
            for index in images.indices where images[index].0.host == nil { images[index].0.host = hypervisors[0].name }
        }
        for (image, object) in images { checkImage(image, object, hosts: hosts.isEmpty ? nil : hostsByName) }
        let imagesByName = Dictionary(images.map { ($0.0.name, $0.0) }, uniquingKeysWith: { first, _ in first })
        for (image, object) in images where image.backingImage != nil { checkBackingImage(image, object, images: imagesByName) }
        let dnsZones = hosts.compactMap(\.dns?.zone)
        for (vm, object) in vms {
            checkVirtualMachine(vm, object, hosts: hosts.isEmpty ? nil : hostsByName, networks: networksByName)
            checkDNSNames(of: vm, object, zones: dnsZones)
            checkImages(of: vm, object, images: imagesByName)
        }
        for (host, object) in dhcpHosts {
            if let zone = dnsZones.first(where: { !Decode.isDomainName("\(host.hostname).\($0)") }) {
                report(object, ["hostname"], "hostname \(host.hostname) in zone \(zone) makes a DNS name over 253 characters or a label over 63")
            }
            let firstOfItsName = names[.DHCPHost]?[host.name] == nil  // a duplicate name is reported once
            claimName(.DHCPHost, host.name, object)
            if firstOfItsName { claim(\.reservationNames, host.name, "the DHCP reservation name \"\(host.name)\"", "DHCPHost \(host.name)", object, ["name"]) }
            claimMAC(host.mac, "DHCPHost \(host.name)", object, ["mac"])
            if checkReference("network", host.network, of: .Network, in: networksByName.keys, object) {
                checkPrivateIP(host.ip, "DHCPHost \(host.name)", in: networksByName[host.network], object, ["ip"])
            }
        }
        let vmsByName = Dictionary(vms.map { ($0.0.name, $0.0) }, uniquingKeysWith: { first, _ in first })
        for (pair, object) in pairs {
            checkIPPair(pair, object, vms: vmsByName, networks: networks)
        }
        for (rule, object) in rules {
            claimName(.FirewallRule, rule.name, object)
            if checkReference("vm", rule.vm, of: .VirtualMachine, in: vmsByName.keys, object),
               let vm = vmsByName[rule.vm], !vm.interfaces.contains(where: { $0.ip != nil }) {
                report(object, ["vm"], "VM \(rule.vm) has no interface with an ip for this rule to protect")
            }
        }

        var state = DesiredState(
            hosts: hosts.isEmpty ? [.implicitLocal] : hosts, hostsDeclared: !hosts.isEmpty, networks: networks,
            virtualMachines: vms.map(\.0), ipPairs: pairs.map(\.0), firewallRules: rules.map(\.0),
            dhcpHosts: dhcpHosts.map(\.0), fileCount: fileCount
        )
        state.dnsRecords = dnsRecords.map(\.0)
        state.images = images.map(\.0)
        checkDNSRecords(dnsRecords, in: state)
        return state
    }

    // MARK: - Per kind

    private mutating func checkNetwork(_ network: Network, _ object: Document) {
        if let gateway = network.gateway {
            if !network.cidr.contains(gateway) {
                report(object, ["gateway"], "gateway \(gateway) is outside cidr \(network.cidr)")
            } else if gateway == network.cidr.networkAddress || gateway == network.cidr.broadcastAddress {
                let which = gateway == network.cidr.networkAddress ? "network" : "broadcast"
                report(object, ["gateway"], "gateway \(gateway) is the \(which) address of \(network.cidr)")
            }
        }
    }

    /// Networks whose CIDRs share addresses, found in one sorted sweep (not every pair: the
    /// time must stay linear-ish in the input). CIDRs nest or are disjoint, so a network that
    /// starts before the furthest end seen so far lies inside the network that reaches it.
    /// Reported on the later document of each pair, naming the earlier.
    private mutating func checkOverlaps(_ networks: [(Network, Document)]) {
        let order = networks.indices.sorted { a, b in
            let (x, y) = (networks[a].0.cidr, networks[b].0.cidr)
            return (x.networkAddress, x.prefixLength, a) < (y.networkAddress, y.prefixLength, b)
        }
        var widest: Int?  // the network reaching furthest so far
        var reported: Set<Int> = []
        for index in order {
            let cidr = networks[index].0.cidr
            if let holder = widest, cidr.networkAddress <= networks[holder].0.cidr.broadcastAddress,
               networks[holder].0.name != networks[index].0.name {
                let (earlier, later) = holder < index ? (holder, index) : (index, holder)
                if reported.insert(later).inserted {
                    let (network, other) = (networks[later].0, networks[earlier].0)
                    report(networks[later].1, ["cidr"], "cidr \(network.cidr) overlaps network \(other.name) (\(other.cidr))")
                }
            }
            if widest.map({ cidr.broadcastAddress > networks[$0].0.cidr.broadcastAddress }) ?? true { widest = index }
        }
    }

    private mutating func checkVirtualMachine(
        _ vm: VirtualMachine, _ object: Document, hosts: [String: Node]?, networks: [String: Network]
    ) {
        claimName(.VirtualMachine, vm.name, object)
        // Long names are shortened to fit iptables; two VMs must never share a policy chain.
        claim(\.firewallChains, vm.firewallChain, "firewall chain \(vm.firewallChain) (from the name \(vm.name))",
              "VirtualMachine \(vm.name)", object, ["name"])
        if let uuid = vm.uuid { claim(\.uuids, uuid, "uuid \(uuid)", "VirtualMachine \(vm.name)", object, ["uuid"]) }
        checkHypervisor(.VirtualMachine, vm.host, hosts: hosts, object)
        var diskNames: Set<String> = []
        for (index, disk) in vm.disks.enumerated() {
            guard diskNames.insert(disk.name).inserted else {
                report(object, ["disks", .index(index), "name"], "duplicate disk name \"\(disk.name)\" in VM \(vm.name)")
                continue
            }
            let volume = vm.volumeName(of: disk)
            claim(\.volumes, "\(disk.pool)/\(volume)", "volume \(volume) in pool \(disk.pool)", "VirtualMachine \(vm.name)", object,
                  ["disks", .index(index), disk.volume == nil ? "name" : "volume"])
        }
        if let cloudInit = vm.cloudInit { checkCloudInit(cloudInit, of: vm, object) }
        let addressed = vm.interfaces.indices.filter { vm.interfaces[$0].ip != nil }
        for (place, index) in addressed.enumerated() {
            let name = addressed.count == 1 ? vm.name : "\(vm.name)-\(place)"
            claim(\.reservationNames, name, "the DHCP reservation name \"\(name)\"", "VirtualMachine \(vm.name)'s reservation", object,
                  ["interfaces", .index(index), "ip"])
        }
        for (index, interface) in vm.interfaces.enumerated() {
            let path: [PathStep] = ["interfaces", .index(index)]
            claimMAC(interface.mac, "VirtualMachine \(vm.name)", object, path + ["mac"])
            guard checkReference("network", interface.network, of: .Network, in: networks.keys, object, path + ["network"]),
                  let ip = interface.ip
            else { continue }
            checkPrivateIP(ip, "VirtualMachine \(vm.name)", in: networks[interface.network], object, path + ["ip"])
        }
    }

    /// The seed goes into the first disk's pool; a static configuration needs every address.
    private mutating func checkCloudInit(_ cloudInit: CloudInit, of vm: VirtualMachine, _ object: Document) {
        if vm.disks.isEmpty {
            report(object, ["cloudInit"], "cloudInit needs a disk: its seed goes into the pool of the VM's first disk")
        }
        if cloudInit.networkConfig == .static, let index = vm.interfaces.firstIndex(where: { $0.ip == nil }) {
            report(object, ["interfaces", .index(index)], "cloudInit.networkConfig is static but this interface has no ip")
        }
    }

    private mutating func checkIPPair(
        _ pair: IPPair, _ object: Document, vms: [String: VirtualMachine], networks: [Network]
    ) {
        claimName(.IPPair, pair.name, object)
        claim(\.publicIPs, pair.publicIP, "public IP \(pair.publicIP)", "IPPair \(pair.name)", object, ["public"])
        if let network = networks.first(where: { $0.cidr.contains(pair.publicIP) }) {
            report(object, ["public"], "public \(pair.publicIP) is inside network \(network.name) (\(network.cidr))")
        }
        if checkReference("vm", pair.vm, of: .VirtualMachine, in: vms.keys, object), let vm = vms[pair.vm],
           !vm.interfaces.contains(where: { $0.ip == pair.privateIP }) {
            report(object, ["private"], "private \(pair.privateIP) is not an address of VM \(pair.vm)")
        }
        claim(\.pairedPrivateIPs, pair.privateIP, "private \(pair.privateIP)", "IPPair \(pair.name)", object, ["private"], verb: "paired")
    }

    private mutating func checkImage(_ image: Image, _ object: Document, hosts: [String: Node]?) {
        claimName(.Image, image.name, object)
        checkHypervisor(.Image, image.host, hosts: hosts, object)
        // A committer must not be able to put any file of the host into a pool (a host key, a
        // shadow file): a local source lies in a directory the Host names for images.
        let directories = hosts.map { hosts in image.host.flatMap { hosts[$0]?.imageDirectories } } ?? Node.defaultImageDirectories
        if !image.isURL, let directories, !directories.contains(where: { image.source.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) {
            report(object, ["source"], "source \(image.source) is outside the directories host \(image.host ?? "local") allows images from "
                   + "(\(directories.joined(separator: ", "))): put the file there, or list its directory in the Host's imageDirectories")
        }
    }

    /// An Image's `backingImage`: a declared Image in the same pool and host, and a chain of
    /// them that ends (no cycle, at most 8 deep).
    private mutating func checkBackingImage(_ image: Image, _ object: Document, images: [String: Image]) {
        guard let name = image.backingImage,
              checkReference("backingImage", name, of: .Image, in: images.keys, object, ["backingImage"]), let backing = images[name] else { return }
        if backing.pool != image.pool || backing.host != image.host {
            report(object, ["backingImage"], "backingImage \(name) goes to pool \(backing.pool) on \(backing.host ?? "local"), not \(image.pool) on \(image.host ?? "local"): "
                   + "an image and its backing share a pool")
            return
        }
        var seen: Set<String> = [image.name], next: String? = name
        while let current = next {
            guard seen.insert(current).inserted, seen.count <= 8 else {
                report(object, ["backingImage"], "the chain of backingImage from \(image.name) loops or is deeper than 8")
                return
            }
            next = images[current]?.backingImage
        }
    }

    /// The `host` of a VM or an Image: a declared Host with the hypervisor role, needed when
    /// Hosts are declared (and filled in before this when exactly one is a hypervisor).
    private mutating func checkHypervisor(_ kind: Kind, _ host: String?, hosts: [String: Node]?, _ object: Document) {
        switch (hosts, host) {
        case (let hosts?, nil):
            let names = hosts.values.filter { $0.roles.contains(.hypervisor) }.map(\.name).sorted()
            report(object, [], names.isEmpty ? "\(kind.rawValue) needs a Host with the hypervisor role; none is declared"
                   : "\(kind.rawValue) needs \"host\": several Hosts have the hypervisor role (\(names.joined(separator: ", ")))")
        case (let hosts?, let name?):
            if checkReference("host", name, of: .Host, in: hosts.keys, object), hosts[name]?.roles.contains(.hypervisor) == false {
                report(object, ["host"], "host \"\(name)\" does not have the hypervisor role")
            }
        case (nil, let name?):
            report(object, ["host"], "host \"\(name)\" is not defined; without Host documents leave \"host\" out")
        case (nil, nil):
            break
        }
    }

    /// A disk whose `image` names a declared Image takes it from the same pool and host.
    private mutating func checkImages(of vm: VirtualMachine, _ object: Document, images: [String: Image]) {
        for (index, disk) in vm.disks.enumerated() {
            guard let name = disk.image, let image = images[name] else { continue }
            if image.pool != disk.pool {
                report(object, ["disks", .index(index), "image"], "image \(name) is in pool \(image.pool), not \(disk.pool): a backing file must be in the disk's pool")
            } else if image.host != vm.host {
                report(object, ["disks", .index(index), "image"], "image \(name) goes to host \(image.host ?? "?"), not \(vm.host ?? "?")")
            }
        }
    }

    // MARK: - Shared checks

    /// Room for every claim at once: 7,000 VMs' tables otherwise grow (rehashing) a dozen times.
    private mutating func reserveClaims(vms: Int, pairs: Int, rules: Int, dhcpHosts: Int) {
        names[.VirtualMachine, default: [:]].reserveCapacity(vms)
        names[.IPPair, default: [:]].reserveCapacity(pairs)
        names[.FirewallRule, default: [:]].reserveCapacity(rules)
        firewallChains.reserveCapacity(vms)
        macs.reserveCapacity(vms + dhcpHosts)
        reservationNames.reserveCapacity(vms + dhcpHosts)
        privateIPs.reserveCapacity(vms + dhcpHosts)
        publicIPs.reserveCapacity(pairs)
        pairedPrivateIPs.reserveCapacity(pairs)
    }

    private mutating func claimName(_ kind: Kind, _ name: String, _ object: Document) {
        if let first = names[kind, default: [:]][name] {
            report(object, ["name"], "duplicate \(kind.rawValue) name \"\(name)\" (first at \(location(first)))")
        } else {
            names[kind, default: [:]][name] = Claim(owner: name, object: object, path: ["name"])
        }
    }

    private mutating func claimMAC(_ mac: MACAddress, _ owner: @autoclosure () -> String, _ object: Document, _ path: [PathStep]) {
        claim(\.macs, mac, "MAC \(mac)", owner(), object, path)
    }

    private mutating func claim<Key: Hashable>(
        _ claims: WritableKeyPath<Self, [Key: Claim]>, _ key: Key, _ what: @autoclosure () -> String, _ owner: @autoclosure () -> String,
        _ object: Document, _ path: [PathStep], verb: String = "used"
    ) {
        if let first = self[keyPath: claims][key] {
            report(object, path, "\(what()) is already \(verb) by \(first.owner) (\(location(first)))")
        } else {
            self[keyPath: claims][key] = Claim(owner: owner(), object: object, path: path)
        }
    }

    /// Checks a private address against its network and claims it; `network` nil means the
    /// reference was already reported.
    private mutating func checkPrivateIP(
        _ ip: IPv4Address, _ owner: @autoclosure () -> String, in network: Network?, _ object: Document, _ path: [PathStep]
    ) {
        guard let network else { return }
        let cidr = network.cidr
        if !cidr.contains(ip) {
            report(object, path, "ip \(ip) is outside network \(network.name) (\(cidr))")
        } else if ip == cidr.networkAddress {
            report(object, path, "ip \(ip) is the network address of \(network.name) (\(cidr))")
        } else if ip == cidr.broadcastAddress {
            report(object, path, "ip \(ip) is the broadcast address of \(network.name) (\(cidr))")
        } else if ip == network.gateway {
            report(object, path, "ip \(ip) is the gateway of network \(network.name)")
        }
        claim(\.privateIPs, ip, "ip \(ip)", owner(), object, path)
    }

    /// Reports `key: name` when no object of that name exists; true when it does. A document
    /// of `kind` with that name that did not decode is not reported twice (false, silently).
    private mutating func checkReference(
        _ key: String, _ name: String, of kind: Kind, in names: some Collection<String>, _ object: Document,
        _ path: [PathStep]? = nil
    ) -> Bool {
        guard !names.contains(name) else { return true }
        guard invalidNames[kind]?.contains(name) != true else { return false }
        let hint = Suggestion.closest(to: name, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
        report(object, path ?? [.key(key)], "\(key) \"\(name)\" is not defined\(hint)")
        return false
    }

    mutating func report(_ object: Document, _ path: [PathStep], _ message: String) {
        diagnostics.append(Diagnostic(location(object, path), message))
    }

    // MARK: - Locations

    enum PathStep: ExpressibleByStringLiteral {
        case key(String)
        case index(Int)

        init(stringLiteral key: String) { self = .key(key) }
    }

    /// Where the value at `path` starts in `object`'s document; the nearest enclosing node
    /// when the path does not exist.
    func location(_ claim: Claim) -> SourceLocation { location(claim.object, claim.path) }

    private func location(_ document: Document, _ path: [PathStep]) -> SourceLocation {
        let object = objects[document]
        var node = YAMLNode.mapping(object.mapping)
        for step in path {
            switch (step, node) {
            case (.key(let key), .mapping(let mapping)):
                let entry = mapping.entries.first { $0.key.scalarValue == key }
                guard let value = entry?.value else { break }
                node = value
            case (.index(let index), .sequence(let sequence)) where sequence.items.indices.contains(index):
                node = sequence.items[index]
            default:
                break
            }
        }
        return SourceLocation(file: object.file, line: node.mark.line, column: node.mark.column)
    }
}
