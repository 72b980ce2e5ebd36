import YAML

/// Explains libyaml's "found character that cannot start any token" when a tab indents a line.
enum TabIndentation {
    static let message = "tab character in indentation; YAML indents with spaces"

    /// The mark of a tab in the leading whitespace of the lines up to `mark`'s line,
    /// nearest to it first (libyaml may notice a bad indent a line late).
    static func find(in text: [UInt8], near mark: Mark) -> Mark? {
        var lineStarts = [0]
        for (index, byte) in text.enumerated() where byte == UInt8(ascii: "\n") {
            if lineStarts.count >= mark.line { break }
            lineStarts.append(index + 1)
        }
        for line in stride(from: lineStarts.count, to: max(lineStarts.count - 2, 0), by: -1) {
            var index = lineStarts[line - 1]
            while index < text.count, text[index] == UInt8(ascii: " ") || text[index] == UInt8(ascii: "\t") {
                if text[index] == UInt8(ascii: "\t") {
                    return Mark(line: line, column: index - lineStarts[line - 1] + 1)
                }
                index += 1
            }
        }
        return nil
    }
}
