extension String {
    /// The text with control characters (C0 but tab and newline, DEL, C1) written as `\x1b`:
    /// a YAML value, a commit subject or a tool's stderr must not drive the terminal it is
    /// printed on (escape sequences can rewrite lines, set the title, or worse).
    public var escapingControlCharacters: String { escapingControlCharacters(keepingNewlines: true) }

    /// The same, newlines and tabs escaped too: for one-line messages (`file:line:column: …`),
    /// where a value's newline would start what reads as another message.
    public var escapingEveryControlCharacter: String { escapingControlCharacters(keepingNewlines: false) }

    private func escapingControlCharacters(keepingNewlines: Bool) -> String {
        let unsafe = { (scalar: Unicode.Scalar) in Self.isUnsafe(scalar) || (!keepingNewlines && (scalar == "\n" || scalar == "\t")) }
        guard unicodeScalars.contains(where: unsafe) else { return self }
        var escaped = ""
        for scalar in unicodeScalars {
            if unsafe(scalar) {
                let hex = String(scalar.value, radix: 16)
                escaped += (scalar.value < 0x100 ? "\\x" : "\\u") + String(repeating: "0", count: max(0, 2 - hex.count)) + hex
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    private static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A: false
        case 0x00...0x1F, 0x7F...0x9F: true
        default: false
        }
    }
}
