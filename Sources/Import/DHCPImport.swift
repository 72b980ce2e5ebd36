import Providers
import DesiredState

/// The reservations and subnets of an ISC dhcpd configuration and every file it includes
/// (`reconcile import`): `host { hardware ethernet …; fixed-address …; option host-name …; }`
/// blocks, and `subnet … netmask … { option routers …; }` declarations.
struct DHCPImport {
    struct Reservation {
        var name: String
        var mac: String
        var ip: IPv4Address
        var hostname: String?
        var location: String
    }

    struct Subnet {
        var network: IPv4Network
        var routers: [IPv4Address]
    }

    var reservations: [Reservation] = []
    var subnets: [Subnet] = []
    var unmapped: [ImportedCloud.Unmapped] = []

    static func read(config: String) throws -> DHCPImport {
        var imported = DHCPImport()
        let declarations = try DHCPConfigScanner.scanTree(config, excluding: [])
        for host in declarations.hosts {
            guard let mac = host.mac, host.ips.count == 1, let ip = IPv4Address(host.ips[0]) else {
                let why = host.mac == nil ? "no hardware ethernet" : host.ips.count == 1 ? "fixed-address \(host.ips[0]) is not an IPv4 address"
                    : "\(host.ips.count) fixed-addresses; a reservation holds one"
                imported.unmapped.append(.init(source: host.location, text: "host \(host.name)", why: why))
                continue
            }
            imported.reservations.append(Reservation(name: host.name, mac: mac, ip: ip, hostname: host.hostname, location: host.location))
        }
        for subnet in declarations.subnets {
            guard let address = IPv4Address(subnet.address), let mask = IPv4Address(subnet.netmask),
                  let prefix = prefixLength(mask.rawValue) else {
                imported.unmapped.append(.init(source: "\(subnet.file):\(subnet.line)", text: "subnet \(subnet.address) netmask \(subnet.netmask)",
                                               why: "not an IPv4 network"))
                continue
            }
            imported.subnets.append(Subnet(network: IPv4Network(address: address, prefixLength: prefix), routers: subnet.routers.compactMap(IPv4Address.init)))
        }
        return imported
    }

    /// `255.255.255.0` → 24; nil for a mask whose ones are not contiguous.
    static func prefixLength(_ mask: UInt32) -> Int? {
        let ones = mask.nonzeroBitCount
        return mask == (ones == 0 ? 0 : UInt32.max << (32 - ones)) ? ones : nil
    }
}
