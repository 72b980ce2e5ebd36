import Basics
import Foundation

/// A read of a namespace's netfilter state (`nft list table …`, `iptables-save`) kept in a
/// file of the state directory and used again while the namespace's ruleset generation is
/// the one it was read at: nothing was committed there since, so the text is still what the
/// kernel holds. Anything that cannot be told for sure — the generation unreadable, the file
/// missing, damaged or from another namespace or boot — means reading afresh.
public struct GenerationCache: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// What the file holds besides the text.
    struct Header: Codable, Equatable {
        var generation: RulesetGeneration
        /// False when the read found nothing (no table): `read` returned nil.
        var present: Bool
    }

    /// A cached read larger than this is not kept (7,000 VMs' table is ~4 MB).
    static let limit = 256 << 20

    /// `read()`'s result for `key` in `netns`: the cached one when the generation has not
    /// moved since it was stored; otherwise read now, and stored when the generation did not
    /// move while it was read.
    public func read(_ key: String, netns: String, _ read: () throws -> String?) throws -> String? {
        let path = file(key, netns: netns)
        guard let before = try? RulesetGeneration.current(netns: netns) else { return try read() }
        if let (header, text) = load(path), header.generation == before {
            return header.present ? text : nil
        }
        let text = try read()
        if let after = try? RulesetGeneration.current(netns: netns), after == before {
            store(Header(generation: before, present: text != nil), text ?? "", at: path)
        }
        return text
    }

    /// The file holding `key`'s read in `netns`.
    public func file(_ key: String, netns: String) -> String {
        let safe = { (text: String) in String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") ? $0 : "_" }) }
        return "\(directory)/live-\(safe(key))-\(netns.isEmpty ? "host" : safe(netns)).cache"
    }

    /// The header line (JSON) and the text after it.
    private func load(_ path: String) -> (Header, String)? {
        guard let data = try? BoundedFile.read(path, limit: Self.limit), let newline = data.firstIndex(of: UInt8(ascii: "\n")),
              let header = try? JSONDecoder().decode(Header.self, from: data[..<newline]) else { return nil }
        return (header, String(decoding: data[(newline + 1)...], as: UTF8.self))
    }

    /// Best effort: a cache that cannot be written is read afresh next time.
    private func store(_ header: Header, _ text: String, at path: String) {
        guard text.utf8.count < Self.limit, var data = try? JSONEncoder().encode(header) else { return }
        data.append(UInt8(ascii: "\n"))
        data.append(contentsOf: text.utf8)
        try? AtomicFile.write(data, to: path, mode: 0o600)
    }
}
