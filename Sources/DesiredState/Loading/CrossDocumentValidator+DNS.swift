import Basics

/// The names and records a dns role makes and is asked for.
extension CrossDocumentValidator {
    /// A VM's address names (`NAME`, or `NAME-N` with several addresses) in each zone of a dns role.
    mutating func checkDNSNames(of vm: VirtualMachine, _ object: Document, zones: [String]) {
        guard !zones.isEmpty else { return }
        let count = vm.interfaces.filter { $0.ip != nil }.count
        let longest = count > 1 ? "\(vm.name)-\(count - 1)" : vm.name
        if let zone = zones.first(where: { !Decode.isDomainName("\(longest).\($0)") }) {
            report(object, ["name"], "the DNS name \(longest).\(zone) is over 253 characters or has a label over 63; choose a shorter name")
        }
    }

    /// Each record set once, inside a zone of a dns role, and never beside a CNAME: a name
    /// with a CNAME holds nothing else (RFC 1034 3.6.2), and BIND ignores an update that
    /// would break that instead of refusing it.
    mutating func checkDNSRecords(_ records: [(DNSRecord, Document)], in state: DesiredState) {
        guard !records.isEmpty else { return }
        let settings = state.hosts.compactMap(\.dns)
        var types: [String: [(type: String, owner: String)]] = [:]  // name → what is wanted there
        for dns in settings {
            for name in state.addressNames {
                types["\(name.label).\(dns.zone)", default: []].append(("A", name.owner))
                let reverse = name.ip.description.split(separator: ".").reversed().joined(separator: ".") + ".in-addr.arpa"
                if dns.zone(holding: reverse) != nil { types[reverse, default: []].append(("PTR", name.owner)) }
            }
        }
        for (record, object) in records {
            let what = "\(record.name) \(record.type.rawValue)"
            if let first = dnsRecordSets[what] {
                report(object, ["name"], "duplicate DNSRecord \(what) (first at \(location(first)))")
            } else {
                dnsRecordSets[what] = Claim(owner: what, object: object, path: ["name"])
            }
            types[record.name, default: []].append((record.type.rawValue, "DNSRecord \(what)"))
        }
        let zones = settings.flatMap(\.zones)
        for (record, object) in records {
            if settings.isEmpty {
                report(object, [], "DNSRecord needs a Host with the dns role; none is declared")
            } else if !settings.contains(where: { $0.zone(holding: record.name) != nil }) {
                report(object, ["name"], "\(record.name) is outside every zone of the dns role (\(zones.joined(separator: ", ")))")
            }
            let others = (types[record.name] ?? []).filter { $0.owner != "DNSRecord \(record.name) \(record.type.rawValue)" }
            if let made = others.first(where: { $0.type == record.type.rawValue }) {
                report(object, ["name"], "\(record.name) \(record.type.rawValue) is already made for \(made.owner)")
            } else if let other = others.first(where: { record.type == .CNAME || $0.type == "CNAME" }) {
                report(object, ["name"], "\(record.name) cannot hold a CNAME and other records (\(other.owner))")
            }
        }
    }
}
