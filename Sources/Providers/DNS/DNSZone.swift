import DesiredState
import Engine

/// One zone's records as a zone transfer (`dig AXFR`) prints them, by owner name and type,
/// and which record sets are reconcile's: those with an ownership mark.
///
/// Ownership follows external-dns's registry, per record set: a TXT record at
/// `_reconcile.<name>` holding `"heritage=reconcile,type=<TYPE>"` marks `<name>`'s `<TYPE>`
/// records as reconcile's. A record set without its mark was made by someone else and is
/// never changed; the prefix keeps the marks off the name itself, where a TXT may be the
/// operator's.
struct DNSZone {
    struct Key: Hashable, Comparable {
        var name: String
        var type: String

        static func < (a: Key, b: Key) -> Bool { (a.name, a.type) < (b.name, b.type) }
    }

    /// Record data by owner name (absolute, lower-case, with the final dot) and type.
    var records: [Key: Set<String>] = [:]
    var ttls: [Key: Int] = [:]
    /// The types at each name, for ``foreignRecords(at:)`` (a scan of every record per
    /// wanted name made a 7,000-VM plan quadratic).
    var types: [String: Set<String>] = [:]
    /// The record sets marked as reconcile's, whether or not they still hold records.
    var owned: Set<Key> = []

    static let ownershipPrefix = DNSRecord.ownershipLabel + "."
    static let ownershipTTL = DNSRecord.defaultTTL

    /// Where `key`'s mark lives and what it holds.
    static func mark(of key: Key) -> (name: String, value: String) {
        (ownershipPrefix + key.name, "\"heritage=reconcile,type=\(key.type)\"")
    }

    /// The record sets at `name` that are not reconcile's.
    func foreignRecords(at name: String) -> [Key] {
        (types[name] ?? []).map { Key(name: name, type: $0) }.filter { !owned.contains($0) }.sorted()
    }

    /// Parses `dig +noall +answer … AXFR`: `name ttl class type data`, one record a line (the
    /// data keeps its own spaces: a TXT's text). A transfer is whole when it starts and ends
    /// with the SOA; dig exits 0 even when it failed (a refused transfer, a wrong key), so
    /// the answer is the only proof.
    static func parse(_ output: String, zone: String, server: String = "", keyFile: String = "") throws -> DNSZone {
        var parsed = DNSZone()
        var order: [String] = []  // each record's type, in transfer order
        var tsigError: String?
        for line in output.split(separator: "\n") where !line.hasPrefix(";") {
            guard let (fields, data) = Self.fields(line, count: 4), let ttl = Int(fields[1]) else { continue }
            if fields[3] == "TSIG" {
                // `key. 0 ANY TSIG alg. time fudge maclen [mac] id ERROR otherlen`
                tsigError = data.split(separator: " ").first { $0.hasPrefix("BAD") }.map(String.init) ?? tsigError
                continue
            }
            let key = Key(name: fields[0].lowercased(), type: String(fields[3]))
            order.append(key.type)
            parsed.records[key, default: []].insert(String(data))
            parsed.ttls[key] = ttl
            parsed.types[key.name, default: []].insert(key.type)
            if key.type == "TXT", key.name.hasPrefix(ownershipPrefix), data.hasPrefix("\"heritage=reconcile,type="), data.hasSuffix("\"") {
                let type = data.dropFirst("\"heritage=reconcile,type=".count).dropLast()
                parsed.owned.insert(Key(name: String(key.name.dropFirst(ownershipPrefix.count)), type: String(type)))
            }
        }
        guard order.first == "SOA", order.last == "SOA", order.count >= 2 else {
            let from = server.isEmpty ? "" : " from \(server)"
            if let tsigError {
                let meaning = switch tsigError {
                case "BADSIG": "the server has a key of that name with another secret"
                case "BADKEY": "the server knows no key of that name and algorithm"
                case "BADTIME": "the clocks of this machine and the server differ by more than the key's fudge"
                default: "the server refused the signature"
                }
                throw RunError("the zone transfer of \(zone)\(from) failed: TSIG error \(tsigError) (\(meaning); key file \(keyFile))")
            }
            let why = output.split(separator: "\n").first { $0.contains("Transfer failed") || $0.contains("connection refused") || $0.contains("timed out") }
            throw RunError("the zone transfer of \(zone)\(from) failed: \(why.map { String($0).trimmingCharacters(in: .whitespaces) } ?? output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return parsed
    }

    /// The first `count` blank-separated fields of `line` and the rest, as it is.
    private static func fields(_ line: Substring, count: Int) -> ([Substring], Substring)? {
        var fields: [Substring] = []
        var rest = line[...]
        for _ in 0..<count {
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
            fields.append(rest[..<end])
            rest = rest[end...]
        }
        let data = rest.drop { $0 == " " || $0 == "\t" }
        return data.isEmpty ? nil : (fields, data)
    }
}
