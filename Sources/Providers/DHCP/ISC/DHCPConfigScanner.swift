import Basics
import Engine
import Foundation

/// Reads ISC dhcpd configuration far enough to find `include` statements, `host`
/// declarations and `subnet` declarations (with their `option routers`), with the line each
/// starts on. See dhcpd.conf(5).
///
/// Tolerant by design: it tokenizes words, quoted strings, braces and semicolons, skips
/// `#` comments, and ignores every statement it does not need.
package struct DHCPConfigScanner {
    /// A `host NAME { … }` declaration.
    package struct HostDeclaration: Hashable, Sendable {
        package var name: String
        package var mac: String?
        package var ips: [String]
        package var hostname: String?
        package var file: String
        package var line: Int
        /// The line of its closing brace.
        package var endLine = 0

        package var location: String { "\(file):\(line)" }
    }

    /// A `subnet ADDRESS netmask MASK { … }` declaration.
    package struct SubnetDeclaration: Equatable, Sendable {
        package var address: String
        package var netmask: String
        package var routers: [String] = []
        package var file: String
        package var line: Int
    }

    /// What one file declares.
    package struct Declarations {
        package var hosts: [HostDeclaration] = []
        package var subnets: [SubnetDeclaration] = []
        package var includes: [String] = []
    }

    private struct Token {
        var text: String
        var isString: Bool
        var line: Int
    }

    /// Every host and subnet declaration in `text`, and the paths of its `include` statements.
    static func scan(_ text: String, file: String) -> Declarations {
        let tokens = tokenize(text)
        var found = Declarations()
        var index = 0
        var blocks: [Int?] = []  // each open `{`: the subnet it opens (an index into found.subnets), or nil
        func word(_ offset: Int) -> String? {
            index + offset < tokens.count && !tokens[index + offset].isString ? tokens[index + offset].text : nil
        }
        while index < tokens.count {
            let token = tokens[index]
            if !token.isString, token.text == "include", index + 1 < tokens.count, tokens[index + 1].isString {
                found.includes.append(tokens[index + 1].text)
                index += 2
            } else if word(0) == "subnet", let address = word(1), word(2) == "netmask", let mask = word(3), word(4) == "{" {
                found.subnets.append(SubnetDeclaration(address: address, netmask: mask, file: file, line: token.line))
                blocks.append(found.subnets.count - 1)
                index += 5
            } else if word(0) == "{" {
                blocks.append(nil)
                index += 1
            } else if word(0) == "}" {
                _ = blocks.popLast()
                index += 1
            } else if word(0) == "option", word(1) == "routers", let subnet = blocks.last(where: { $0 != nil }) ?? nil {
                index += 2
                while let value = word(0), value != ";" {
                    if value != "," { found.subnets[subnet].routers.append(value) }
                    index += 1
                }
            } else if !token.isString, token.text == "host", index + 2 < tokens.count, tokens[index + 2].text == "{" {
                var host = HostDeclaration(name: tokens[index + 1].text, mac: nil, ips: [], hostname: nil, file: file, line: token.line)
                index += 3
                var depth = 1
                var statement: [Token] = []
                while index < tokens.count, depth > 0 {
                    let inner = tokens[index]
                    if !inner.isString, inner.text == "{" { depth += 1 }
                    if !inner.isString, inner.text == "}" {
                        depth -= 1
                        if depth == 0 { host.endLine = inner.line }
                    }
                    if !inner.isString, inner.text == ";" || inner.text == "}" || inner.text == "{" {
                        read(statement, into: &host)
                        statement = []
                    } else {
                        statement.append(inner)
                    }
                    index += 1
                }
                found.hosts.append(host)
            } else {
                index += 1
            }
        }
        return found
    }

    /// Host declarations in `path` and every file it includes, except `excluding` (our own file).
    /// A file that does not exist declares nothing; one that cannot be read stops the scan
    /// (the clash check must not pass on what it could not see).
    static func scanTree(_ path: String, excluding: String) throws -> [HostDeclaration] {
        try scanTree(path, excluding: [excluding]).hosts
    }

    /// The declarations of `path` and every file it includes (a file once), but `excluding`.
    package static func scanTree(_ path: String, excluding: Set<String>) throws -> Declarations {
        var seen = excluding
        var pending = [path]
        var found = Declarations()
        while let file = pending.popLast() {
            guard seen.insert(file).inserted, let text = try read(file) else { continue }
            let result = scan(text, file: file)
            found.hosts += result.hosts
            found.subnets += result.subnets
            pending += result.includes.reversed()
        }
        return found
    }

    /// The largest dhcpd.conf, include or hosts file read (7,000 reservations are ~1 MB).
    static let fileLimit = 64 << 20

    /// A file's text; nil only when it does not exist. Any other failure (permissions, a
    /// directory, invalid UTF-8, too large) stops the plan: absent would be the unsafe answer.
    static func read(_ path: String) throws -> String? {
        let data: Data
        do {
            data = try BoundedFile.read(path, limit: fileLimit)
        } catch let error as SystemError where error.code == ENOENT {
            return nil
        }
        guard let text = String(bytes: data, encoding: .utf8) else { throw RunError("\(path) is not UTF-8 text") }
        return text
    }

    /// A MAC as dhcpd reads it (`52:54:0:77:0:51`, any case) in the form reconcile writes
    /// (`52:54:00:77:00:51`), so that one NIC written two ways still clashes.
    static func normalizedMAC(_ text: String) -> String {
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count == 6, groups.allSatisfy({ (1...2).contains($0.count) && $0.allSatisfy(\.isHexDigit) }) else {
            return text.lowercased()
        }
        return groups.map { $0.count == 1 ? "0" + $0.lowercased() : $0.lowercased() }.joined(separator: ":")
    }

    private static func read(_ statement: [Token], into host: inout HostDeclaration) {
        let words = statement.map(\.text)
        switch words.first {
        case "hardware" where words.count >= 3:
            host.mac = normalizedMAC(words[2])
        case "fixed-address" where words.count >= 2:
            host.ips = words.dropFirst().joined().split(separator: ",").map(String.init)
        case "option" where words.count >= 3 && words[1] == "host-name":
            host.hostname = words[2]
        default:
            break
        }
    }

    private static func tokenize(_ text: String) -> [Token] {
        var tokens: [Token] = []
        var line = 1
        var word = ""
        var wordLine = 1
        var characters = text.makeIterator()
        func flush() {
            if !word.isEmpty { tokens.append(Token(text: word, isString: false, line: wordLine)) }
            word = ""
        }
        while let character = characters.next() {
            switch character {
            case "\n":
                flush()
                line += 1
            case "#":
                flush()
                while let skipped = characters.next(), skipped != "\n" {}
                line += 1
            case "\"":
                flush()
                var string = ""
                let start = line
                while let next = characters.next(), next != "\"" {
                    if next == "\n" { line += 1 }
                    if next == "\\", let escaped = characters.next() { string.append(escaped) } else { string.append(next) }
                }
                tokens.append(Token(text: string, isString: true, line: start))
            case "{", "}", ";", ",":
                flush()
                tokens.append(Token(text: String(character), isString: false, line: line))
            case " ", "\t", "\r":
                flush()
            default:
                if word.isEmpty { wordLine = line }
                word.append(character)
            }
        }
        flush()
        return tokens
    }
}
