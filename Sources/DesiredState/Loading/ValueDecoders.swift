import Basics
import YAML

/// Decoders from one YAML node to one typed value. Each reports its own problem and returns nil.
enum Decode {
    /// Names of objects: short, lower-case, free of shell and XML metacharacters.
    static let namePattern = "^[a-z0-9][a-z0-9-]{0,62}$"

    static func string(_ node: YAMLNode, _ field: Field) -> String? {
        guard case .scalar(let scalar) = node else {
            return field.fail(node, "\(field.path) must be a string, not \(node.typeDescription)")
        }
        switch scalar.resolved {
        case .string where scalar.value.escapingControlCharacters != scalar.value:
            return field.fail(node, "\(field.path) must not contain control characters (\"\(scalar.value)\")")
        case .string: return scalar.value
        case .null: return field.fail(node, "\(field.path) has no value")
        case .bool, .int, .float:
            return field.fail(node, "\(field.path) must be a string, not \(node.typeDescription); quote it: \"\(scalar.value)\"")
        }
    }

    static func name(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        guard isName(text) else {
            return field.fail(node, "\(field.path) \"\(text)\" must match \(namePattern): lower-case letters, digits and '-', at most 63 characters")
        }
        return text
    }

    static func isName(_ text: String) -> Bool {
        let bytes = text.utf8
        guard let first = bytes.first, bytes.count <= 63 else { return false }
        func allowed(_ c: UInt8) -> Bool { (0x61...0x7a).contains(c) || (0x30...0x39).contains(c) }
        return allowed(first) && bytes.allSatisfy { allowed($0) || $0 == UInt8(ascii: "-") }
    }

    /// A non-empty string without control characters (paths, interface names, URIs).
    static func text(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        guard !text.isEmpty, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return field.fail(node, "\(field.path) must be a non-empty string without control characters")
        }
        return text
    }

    /// An absolute path without `.` or `..` components: what a file reconcile writes is named by.
    static func absolutePath(_ node: YAMLNode, _ field: Field) -> String? {
        guard let path = text(node, field) else { return nil }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.hasPrefix("/"), !components.contains(where: { $0 == "." || $0 == ".." || $0.isEmpty }) else {
            return field.fail(node, "\(field.path) \"\(path)\" must be an absolute path without '.', '..' or '//'")
        }
        return path
    }

    /// A DNS host name (RFC 1123): labels of letters, digits and '-', separated by dots.
    static func hostname(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        let valid = text.utf8.count <= 253 && labels.allSatisfy { label in
            label.utf8.count >= 1 && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
        guard valid else {
            return field.fail(node, "\(field.path) \"\(text)\" is not a host name: letters, digits and '-' in dot-separated labels")
        }
        return text
    }

    /// A storage volume's name: a file name in the pool's directory, so no '/', and no
    /// characters XML or a shell would read.
    static func volumeName(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        guard (1...255).contains(text.utf8.count), text != ".", text != "..",
              text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._+-".contains($0)) }) else {
            return field.fail(node, "\(field.path) \"\(text)\" is not a volume name: letters, digits, '.', '_', '+' and '-', at most 255")
        }
        return text
    }

    static func integer(in range: ClosedRange<Int>) -> (YAMLNode, Field) -> Int? {
        { node, field in
            guard case .scalar(let scalar) = node, case .int(let value) = scalar.resolved else {
                return field.fail(node, "\(field.path) must be an integer, not \(node.typeDescription)")
            }
            guard range.contains(value) else {
                return field.fail(node, "\(field.path) \(value) is outside \(range.lowerBound)-\(range.upperBound)")
            }
            return value
        }
    }

    static func bool(_ node: YAMLNode, _ field: Field) -> Bool? {
        guard case .scalar(let scalar) = node, case .bool(let value) = scalar.resolved else {
            return field.fail(node, "\(field.path) must be true or false, not \(node.typeDescription)")
        }
        return value
    }

    static func oneOf<E: RawRepresentable & CaseIterable>(_: E.Type) -> (YAMLNode, Field) -> E? where E.RawValue == String {
        { node, field in
            guard let text = string(node, field) else { return nil }
            guard let value = E(rawValue: text) else {
                let choices = E.allCases.map(\.rawValue).joined(separator: ", ")
                return field.fail(node, "\(field.path) \"\(text)\" must be one of \(choices)")
            }
            return value
        }
    }

    static func ipv4(_ node: YAMLNode, _ field: Field) -> IPv4Address? {
        guard let text = string(node, field) else { return nil }
        guard let address = IPv4Address(text) else {
            return field.fail(node, "\(field.path) \"\(text)\" is not an IPv4 address")
        }
        return address
    }

    static func cidr(_ node: YAMLNode, _ field: Field) -> IPv4Network? {
        guard let text = string(node, field) else { return nil }
        do {
            return try IPv4Network(parsing: text)
        } catch {
            switch error {
            case .malformed:
                return field.fail(node, "\(field.path) \"\(text)\" is not an IPv4 address or CIDR (a.b.c.d/n)")
            case .hostBitsSet(let suggestion):
                return field.fail(node, "\(field.path) \"\(text)\" has host bits set; did you mean \(suggestion)?")
            }
        }
    }

    static func mac(_ node: YAMLNode, _ field: Field) -> MACAddress? {
        guard let text = string(node, field) else { return nil }
        do {
            return try MACAddress(parsing: text)
        } catch {
            switch error {
            case .malformed:
                return field.fail(node, "\(field.path) \"\(text)\" is not a MAC address (six hex pairs: 52:54:00:11:22:33)")
            case .multicast:
                return field.fail(node, "\(field.path) \"\(text)\" is a multicast MAC address; a NIC needs a unicast one")
            }
        }
    }

    static func uuid(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        let groups = text.utf8.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12], groups.allSatisfy({ $0.allSatisfy(\.isASCIIHexDigit) }) else {
            return field.fail(node, "\(field.path) \"\(text)\" is not a UUID (8-4-4-4-12 hex digits)")
        }
        // ASCII hex digits and dashes: lower-cased byte by byte (`lowercased()` consults Unicode tables).
        return String(decoding: text.utf8.map { (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    static func size(_ node: YAMLNode, _ field: Field) -> ByteSize? {
        if case .scalar(let scalar) = node, case .int(let number) = scalar.resolved {
            return field.fail(node, "\(field.path) \(number) has no unit: write \(number)MiB (or GiB, TiB)")
        }
        guard let text = string(node, field) else { return nil }
        guard let size = ByteSize(text) else {
            return field.fail(node, "\(field.path) \"\(text)\" is not a size: use a positive whole number with MiB, GiB or TiB, e.g. 2GiB")
        }
        return size
    }

    static func port(_ node: YAMLNode, _ field: Field) -> PortRange? {
        guard case .scalar(let scalar) = node else {
            return field.fail(node, "\(field.path) must be a port or a range \"a-b\", not \(node.typeDescription)")
        }
        let bounds: [Substring]
        switch scalar.resolved {
        case .int: bounds = [Substring(scalar.value)]
        case .string: bounds = scalar.value.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        default: return field.fail(node, "\(field.path) must be a port or a range \"a-b\", not \(node.typeDescription)")
        }
        let numbers = bounds.map { $0.allSatisfy(\.isASCIIDigit) && !$0.isEmpty && $0.count <= 6 ? Int($0) : nil }
        guard let lower = numbers.first ?? nil, let upper = numbers.last ?? nil else {
            return field.fail(node, "\(field.path) \"\(scalar.value)\" is not a port or a range \"a-b\"")
        }
        for value in [lower, upper] where !PortRange.valid.contains(value) {
            return field.fail(node, "\(field.path) \(value) is outside 1-65535")
        }
        guard lower <= upper else {
            return field.fail(node, "\(field.path) \"\(scalar.value)\": the range starts after it ends")
        }
        return PortRange(lower: lower, upper: upper)
    }

    static func list<T>(_ element: @escaping (YAMLNode, Field) -> T?) -> (YAMLNode, Field) -> [T]? {
        { node, field in
            guard case .sequence(let sequence) = node else {
                return field.fail(node, "\(field.path) must be a list, not \(node.typeDescription)")
            }
            var values: [T] = []
            var failed = false
            for (index, item) in sequence.items.enumerated() {
                if let value = element(item, field.item(index)) { values.append(value) } else { failed = true }
            }
            return failed ? nil : values
        }
    }
}
