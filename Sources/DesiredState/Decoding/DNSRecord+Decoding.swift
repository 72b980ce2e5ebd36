import Glibc
import YAML

extension DNSRecord {
    static func decode(_ reader: FieldReader) -> DNSRecord? {
        let name = reader.required("name", Decode.domainName)
        let type = reader.required("type", Decode.oneOf(RecordType.self))
        // The values are read as their type says; without a valid type they cannot be.
        let values = type.flatMap { reader.required("value", Decode.oneOrMore(Decode.recordValue($0))) }
        let ttl = reader.optional("ttl", Decode.integer(in: 0...604_800))
        guard let name, let type, let values, let ttl else { return nil }
        if name.split(separator: ".").first == Substring(ownershipLabel) {
            reader.report("name", "name \"\(name)\": names starting with \(ownershipLabel). hold reconcile's ownership marks")
            return nil
        }
        guard Set(values).count == values.count else {
            reader.report("value", "value lists the same \(type.rawValue) record twice")
            return nil
        }
        // A record set travels in one UPDATE message (64 KiB at most): bounded well below it.
        let size = values.reduce(0) { $0 + $1.utf8.count }
        guard size <= Decode.maxRecordSetBytes else {
            reader.report("value", "value holds \(size) bytes of \(type.rawValue) data; a record set holds at most \(Decode.maxRecordSetBytes) (one DNS message carries it)")
            return nil
        }
        if type == .CNAME, values.count > 1 {
            reader.report("value", "a CNAME has one value, not \(values.count)")
            return nil
        }
        return DNSRecord(name: name, type: type, values: values, ttl: ttl ?? defaultTTL, location: reader.location)
    }
}

extension Decode {
    /// At most this many values in one record set.
    static let maxRecordValues = 64
    /// TXT text: printable ASCII, at most this many bytes (sent as strings of 255).
    static let maxTXTLength = 2048
    /// The data of one record set, in presentation form.
    static let maxRecordSetBytes = 16 << 10

    /// An absolute DNS name (RFC 1035 labels, '_' allowed for service and TXT names, a final
    /// dot optional), lower-case and without the final dot.
    static func domainName(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        let name = text.hasSuffix(".") ? String(text.dropLast()) : text
        guard isDomainName(name) else {
            return field.fail(node, "\(field.path) \"\(text)\" is not a DNS name: labels of letters, digits, '-' and '_' (1-63 each, no '-' at either end) separated by dots, at most 253 characters")
        }
        return name.lowercased()
    }

    static func isDomainName(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return name.utf8.count <= 253 && labels.count >= 2 && labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }

    /// One value, or a list of 1 to ``maxRecordValues``.
    static func oneOrMore<T>(_ element: @escaping (YAMLNode, Field) -> T?) -> (YAMLNode, Field) -> [T]? {
        { node, field in
            guard case .sequence(let sequence) = node else { return element(node, field).map { [$0] } }
            guard (1...maxRecordValues).contains(sequence.items.count) else {
                return field.fail(node, "\(field.path) must list 1 to \(maxRecordValues) values, not \(sequence.items.count)")
            }
            return list(element)(node, field)
        }
    }

    /// A record's value in the form a zone transfer prints it.
    static func recordValue(_ type: DNSRecord.RecordType) -> (YAMLNode, Field) -> String? {
        switch type {
        case .A: { node, field in ipv4(node, field)?.description }
        case .AAAA: ipv6
        case .CNAME: { node, field in domainName(node, field).map { $0 + "." } }
        case .TXT: txt
        case .SRV: srv
        }
    }

    /// An IPv6 address, written as inet_ntop (and BIND) write it: lower-case, zeros compressed.
    static func ipv6(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        var address = in6_addr()
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_pton(AF_INET6, text, &address) == 1, inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else {
            return field.fail(node, "\(field.path) \"\(text)\" is not an IPv6 address")
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Printable ASCII text, quoted as DNS presentation format quotes it: strings of at most
    /// 255 bytes, `"` and `\` escaped.
    static func txt(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        guard !text.isEmpty, text.utf8.count <= maxTXTLength, text.utf8.allSatisfy({ (0x20...0x7e).contains($0) }) else {
            return field.fail(node, "\(field.path) must be 1 to \(maxTXTLength) characters of printable ASCII")
        }
        let bytes = Array(text.utf8)
        return stride(from: 0, to: bytes.count, by: 255).map { start in
            var quoted = "\""
            for byte in bytes[start..<min(start + 255, bytes.count)] {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { quoted.append("\\") }
                quoted.append(Character(Unicode.Scalar(byte)))
            }
            return quoted + "\""
        }.joined(separator: " ")
    }

    /// `PRIORITY WEIGHT PORT TARGET` (RFC 2782).
    static func srv(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        let parts = text.split(separator: " ")
        let numbers = parts.prefix(3).compactMap { $0.allSatisfy(\.isASCIIDigit) && $0.count <= 5 ? Int($0) : nil }.filter { $0 <= 65535 }
        let target = parts.count == 4 ? (parts[3] == "." ? "" : String(parts[3].hasSuffix(".") ? parts[3].dropLast() : parts[3])) : nil
        guard numbers.count == 3, let target, target.isEmpty || isDomainName(target) else {
            return field.fail(node, "\(field.path) \"\(text)\" is not \"PRIORITY WEIGHT PORT TARGET\" (numbers 0-65535 and a DNS name)")
        }
        return numbers.map(String.init).joined(separator: " ") + " " + target.lowercased() + "."
    }
}
