import YAML

/// One decoded document, with its YAML kept so that cross-document checks can point at fields.
struct DecodedObject: Sendable {
    enum Value: Sendable {
        case host(Node)
        case network(Network)
        case image(Image)
        case virtualMachine(VirtualMachine)
        case ipPair(IPPair)
        case firewallRule(FirewallRule)
        case dhcpHost(DHCPHost)
        case dnsRecord(DNSRecord)
        /// A document of `kind` named `name` whose problems are already reported: other
        /// documents may still refer to it without a second, misleading error.
        case invalid(Kind, name: String)
    }

    var value: Value
    var mapping: YAMLMapping
    var file: String
}

/// Turns one YAML document into a typed object by its `kind`.
enum DocumentDecoder {
    static func decode(_ document: YAMLDocument, context: FileContext) -> DecodedObject? {
        var expected: String { Kind.allCases.map(\.rawValue).joined(separator: ", ") }  // for messages only
        // An empty document (`---` alone, or `--- ~`) declares nothing.
        guard let root = document.root, !root.isNull else { return nil }
        guard case .mapping(let mapping) = root else {
            context.report(root.mark, "a document must be a mapping with a \"kind\", not \(root.typeDescription)")
            return nil
        }
        let kindEntry = mapping.entries.first { $0.key.scalarValue == "kind" }
        guard let kindNode = kindEntry?.value else {
            context.report(mapping.mark, "document has no \"kind\"; expected one of \(expected)")
            return nil
        }
        guard let kindName = Decode.string(kindNode, Field(path: "kind", context: context)) else { return nil }
        guard let kind = Kind(rawValue: kindName) else {
            let hint = Suggestion.closest(to: kindName, in: Kind.allCases.map(\.rawValue)).map { "; did you mean \"\($0)\"?" }
            context.report(kindNode.mark, "unknown kind \"\(kindName)\"" + (hint ?? "; expected one of \(expected)"))
            return nil
        }
        let field = Field(path: "", context: context)
        guard let reader = FieldReader(root, what: kind.rawValue, field: field, keys: ["kind"] + kind.keys) else {
            return nil
        }
        let value: DecodedObject.Value? =
            switch kind {
            case .Host: Node.decode(reader).map { .host($0) }
            case .Network: Network.decode(reader).map { .network($0) }
            case .Image: Image.decode(reader).map { .image($0) }
            case .VirtualMachine: VirtualMachine.decode(reader).map { .virtualMachine($0) }
            case .IPPair: IPPair.decode(reader).map { .ipPair($0) }
            case .FirewallRule: FirewallRule.decode(reader).map { .firewallRule($0) }
            case .DHCPHost: DHCPHost.decode(reader).map { .dhcpHost($0) }
            case .DNSRecord: DNSRecord.decode(reader).map { .dnsRecord($0) }
            }
        if let value { return DecodedObject(value: value, mapping: mapping, file: context.path) }
        guard let name = reader.declaredName else { return nil }
        return DecodedObject(value: .invalid(kind, name: name), mapping: mapping, file: context.path)
    }
}
