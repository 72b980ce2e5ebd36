import Foundation
import YAML

extension CloudInit {
    static func decode(_ node: YAMLNode, _ field: Field) -> CloudInit? {
        let keys = ["userData", "userDataFile", "sshAuthorizedKeys", "networkConfig"]
        guard let reader = FieldReader(node, what: field.path, field: field, keys: keys) else { return nil }
        let userData = reader.optional("userData", Decode.userData)
        let userDataFile = reader.optional("userDataFile", Decode.relativePath)
        let sshKeys = reader.optional("sshAuthorizedKeys", Decode.list(Decode.sshPublicKey))
        let networkConfig = reader.optional("networkConfig", Decode.oneOf(NetworkConfig.self))
        guard let userData, let userDataFile, let sshKeys, let networkConfig else { return nil }
        if let file = userDataFile ?? nil, file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
            reader.report("userDataFile", "\(field.path).userDataFile \"\(file)\" ends in .yaml or .yml, and such files are read as desired state; name it .cfg")
            return nil
        }
        if userData != nil, userDataFile != nil {
            reader.report("userDataFile", "\(field.path) takes userData or userDataFile, not both")
            return nil
        }
        if let sshKeys, sshKeys.count > Limits.keys {
            reader.report("sshAuthorizedKeys", "\(field.path).sshAuthorizedKeys lists \(sshKeys.count) keys; at most \(Limits.keys)")
            return nil
        }
        return CloudInit(userData: userData, userDataFile: userDataFile, sshAuthorizedKeys: sshKeys ?? [], networkConfig: networkConfig,
                         userDataFileLocation: userDataFile.map { _ in field.context.location(reader.mark(of: "userDataFile")) })
    }

    /// What is wrong with user data, and on which of its lines: too large, a first line
    /// cloud-init would not act on, or a `#cloud-config` that is not a YAML mapping.
    public static func problem(inUserData text: String) -> (line: Int, message: String)? {
        guard text.utf8.count <= Limits.userDataBytes else {
            return (1, "user data is \(text.utf8.count) bytes; the limit is \(Limits.userDataBytes)")
        }
        let first = text.prefix { $0 != "\n" && $0 != "\r\n" }
        guard userDataStarts.contains(where: { first.hasPrefix($0) }) else {
            return (1, "user data must begin with #cloud-config (a cloud-config document) or #! (a script); cloud-init ignores anything else")
        }
        guard first.hasPrefix("#cloud-config"), !first.hasPrefix("#cloud-config-archive") else { return nil }
        do {
            let documents = try YAMLParser.parse(Array(text.utf8))
            guard documents.count <= 1 else { return (1, "a #cloud-config must be one YAML document, not \(documents.count)") }
            if let root = documents.first?.root, !root.isNull {
                guard case .mapping = root else { return (root.mark.line, "a #cloud-config must be a YAML mapping, not \(root.typeDescription)") }
            }
        } catch {
            return (error.mark.line, "user data is not valid YAML: \(error.message)")
        }
        return nil
    }
}

extension Decode {
    /// Inline user data: text of any number of lines (tabs allowed), no other control characters.
    static func userData(_ node: YAMLNode, _ field: Field) -> String? {
        guard case .scalar(let scalar) = node, scalar.resolved == .string else {
            return field.fail(node, "\(field.path) must be a string (a block: \"userData: |\"), not \(node.typeDescription)")
        }
        let text = scalar.value
        if let bad = text.unicodeScalars.first(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" }) {
            return field.fail(node, "\(field.path) must not contain the control character U+\(String(bad.value, radix: 16, uppercase: true))")
        }
        if let (line, message) = CloudInit.problem(inUserData: text) {
            return field.fail(node, "\(field.path), its line \(line): \(message)")
        }
        return text
    }

    /// A path below the desired-state directory: relative, no '.', '..' or hidden components.
    static func relativePath(_ node: YAMLNode, _ field: Field) -> String? {
        guard let path = text(node, field) else { return nil }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.hasPrefix("/"), path.utf8.count <= 1024,
              components.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") }) else {
            return field.fail(node, "\(field.path) \"\(path)\" must be a path relative to the desired-state directory, without '..', hidden names or '//'")
        }
        return path
    }

    /// An OpenSSH public key line (`type base64 [comment]`) whose key names its own type.
    static func sshPublicKey(_ node: YAMLNode, _ field: Field) -> String? {
        guard let key = text(node, field) else { return nil }
        let parts = key.split(separator: " ", maxSplits: 2)
        let types = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                     "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com"]
        guard key.utf8.count <= 16 << 10, parts.count >= 2, types.contains(String(parts[0])),
              let blob = Data(base64Encoded: String(parts[1])), blob.count > 4,
              case let length = blob.prefix(4).reduce(0, { $0 << 8 | Int($1) }), blob.count >= 4 + length,
              String(decoding: blob.dropFirst(4).prefix(length), as: UTF8.self) == parts[0]
        else {
            return field.fail(node, "\(field.path) is not an OpenSSH public key (\"ssh-ed25519 AAAA… comment\", one line as in id_ed25519.pub)")
        }
        return key
    }
}
