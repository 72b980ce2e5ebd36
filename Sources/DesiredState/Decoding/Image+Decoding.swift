import YAML

extension Image {
    static func decode(_ reader: FieldReader) -> Image? {
        let name = reader.required("name", Decode.name)
        let source = reader.required("source", Decode.imageSource)
        let sha256 = reader.required("sha256", Decode.sha256)
        let format = reader.optional("format", Decode.oneOf(Format.self))
        let pool = reader.required("pool", Decode.text)
        let host = reader.optional("host", Decode.name)
        let maxSize = reader.optional("maxSize", Decode.size)
        let backingImage = reader.optional("backingImage", Decode.name)
        guard let name, let source, let sha256, let format, let pool, let host, let maxSize, let backingImage else { return nil }
        if backingImage != nil, format == .raw {
            reader.report("backingImage", "a raw image has no backing file: backingImage needs format qcow2")
            return nil
        }
        var image = Image(name: name, source: source, sha256: sha256, format: format ?? .qcow2, pool: pool, maxSize: maxSize ?? defaultMaxSize,
                          host: host, location: reader.location)
        image.backingImage = backingImage
        return image
    }
}

extension Decode {
    /// An absolute path, or an `http://`/`https://` URL with a host.
    static func imageSource(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = text(node, field) else { return nil }
        for scheme in ["http://", "https://"] where text.hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            guard let host = rest.split(separator: "/").first, !host.isEmpty, !text.contains(" "), text.utf8.count <= 2048 else {
                return field.fail(node, "\(field.path) \"\(text)\" is not a URL with a host")
            }
            return text
        }
        guard !text.contains("://") else { return field.fail(node, "\(field.path) \"\(text)\" is neither an absolute path nor an http(s) URL") }
        return absolutePath(node, field).map { _ in text }
    }

    static func sha256(_ node: YAMLNode, _ field: Field) -> String? {
        guard let text = string(node, field) else { return nil }
        guard text.utf8.count == 64, text.utf8.allSatisfy(\.isASCIIHexDigit) else {
            return field.fail(node, "\(field.path) must be a SHA-256 digest: 64 hex digits")
        }
        return text.lowercased()
    }
}
