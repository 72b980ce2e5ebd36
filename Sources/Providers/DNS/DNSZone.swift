import DesiredState
import Engine

/// One zone's records as a zone transfer (`dig AXFR`) prints them, by owner name and type,
/// and which names are reconcile's: those with an ownership record beside them.
///
/// Ownership follows external-dns's registry: a TXT record `_reconcile.<name>` holding
/// `"heritage=reconcile"` marks `<name>` as reconcile's. A record at a name without it was
/// made by someone else and is never changed.
struct DNSZone {
    struct Key: Hashable, Comparable {
        var name: String
        var type: String

        static func < (a: Key, b: Key) -> Bool { (a.name, a.type) < (b.name, b.type) }
    }

    /// Record data by owner name (absolute, lower-case, with the final dot) and type.
    var records: [Key: Set<String>] = [:]

    static let ownershipPrefix = "_reconcile."
    static let ownershipValue = "\"heritage=reconcile\""

    static func ownershipName(of name: String) -> String { ownershipPrefix + name }

    func isOurs(_ name: String) -> Bool {
        records[Key(name: Self.ownershipName(of: name), type: "TXT")]?.contains(Self.ownershipValue) == true
    }

    /// Whether any record is at `name` (its mark lives at another name).
    func hasRecords(at name: String) -> Bool {
        records.keys.contains { $0.name == name }
    }

    /// Parses `dig +noall +answer … AXFR`: `name ttl class type data…`, one record a line. A
    /// transfer is whole when it starts and ends with the SOA; dig exits 0 even when it
    /// failed (a refused transfer, a wrong key), so the answer is the only proof.
    static func parse(_ output: String, zone: String) throws -> DNSZone {
        var parsed = DNSZone()
        var types: [String] = []
        for line in output.split(separator: "\n") where !line.hasPrefix(";") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 5 else { continue }
            let key = Key(name: fields[0].lowercased(), type: String(fields[3]))
            types.append(key.type)
            parsed.records[key, default: []].insert(fields[4...].joined(separator: " "))
        }
        guard types.first == "SOA", types.last == "SOA", types.count >= 2 else {
            let why = output.split(separator: "\n").first { $0.contains("Transfer failed") || $0.contains("connection refused") || $0.contains("timed out") }
            throw RunError("the zone transfer of \(zone) failed: \(why.map { String($0).trimmingCharacters(in: .whitespaces) } ?? output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return parsed
    }
}
