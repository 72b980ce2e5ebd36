/// dhcpd's own words: its `file line N: problem` lines, without banner and advice.
enum DHCPDOutput {
    static func errors(in text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let located = lines.filter { $0.range(of: #" line [0-9]+: "#, options: .regularExpression) != nil }
        if !located.isEmpty { return located.joined(separator: " | ") }
        let banner = ["Internet Systems Consortium", "Copyright", "All rights reserved", "For info, please visit",
                      "If you think you have received", "than a configuration issue", "bugs on either", "before submitting",
                      "process and the information", "exiting."]
        let rest = lines.filter { line in !line.isEmpty && !banner.contains { line.contains($0) } }
        return rest.isEmpty ? text.trimmingCharacters(in: .whitespacesAndNewlines) : rest.joined(separator: " | ")
    }
}
