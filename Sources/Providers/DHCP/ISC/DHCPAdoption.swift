import Basics
import Engine
import Foundation

/// With `--adopt`: host blocks in dhcpd.conf or the files it includes that hold a desired
/// reservation as it is (the same MAC and the same single address) move into reconcile's
/// hosts file. Their file is rewritten without the block's lines — every other line kept byte
/// for byte, a backup beside it — in the same run that writes the reservation into
/// reconcile's file, so dhcpd, restarted once at the end, serves the same address from it.
enum DHCPAdoption {
    /// A block that moves, and the step that rewrites its file.
    struct Move {
        var block: DHCPConfigScanner.HostDeclaration
        var step: Step
    }

    /// The blocks that move.
    static func moving(_ plan: [String: Result<Move, RunError>]) -> Set<DHCPConfigScanner.HostDeclaration> {
        Set(plan.values.compactMap { outcome in if case .success(let move) = outcome { move.block } else { nil } })
    }

    /// Per wanted reservation name: its block's move, or why it cannot move. A reservation that
    /// stays in conflict with the blocks that do not move (`conflict`) keeps its block where it
    /// is: its file's rewrite must not take it away.
    static func plan(_ wanted: [DHCPReservation], foreign: [DHCPConfigScanner.HostDeclaration], config: String,
                     conflict: (DHCPReservation, [DHCPConfigScanner.HostDeclaration]) -> String?) throws -> [String: Result<Move, RunError>] {
        let first = try plan(wanted, foreign: foreign, config: config)
        let remaining = foreign.filter { !moving(first).contains($0) }
        let staying = Set(wanted.filter { conflict($0, remaining) != nil }.map(\.name))
        return staying.isDisjoint(with: first.keys) ? first : try plan(wanted.filter { !staying.contains($0.name) }, foreign: foreign, config: config)
    }

    static func plan(_ wanted: [DHCPReservation], foreign: [DHCPConfigScanner.HostDeclaration], config: String) throws -> [String: Result<Move, RunError>] {
        var blocks: [DHCPConfigScanner.HostDeclaration: String] = [:]  // block → the reservation it holds
        var outcome: [String: Result<Move, RunError>] = [:]
        for reservation in wanted {
            guard let block = foreign.first(where: { $0.mac == reservation.mac }) else { continue }
            if block.ips != [reservation.ip] {
                outcome[reservation.name] = .failure(RunError("host \(block.name) at \(block.location) gives \(reservation.mac) \(block.ips.joined(separator: ", ")), not \(reservation.ip); adopting would change the address"))
            } else {
                blocks[block] = reservation.name
            }
        }
        for (file, moving) in Dictionary(grouping: blocks.map { (block: $0.key, name: $0.value) }, by: \.block.file) {
            guard let text = try DHCPConfigScanner.read(file) else { continue }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            var kept = Array(repeating: true, count: lines.count)
            for (block, name) in moving {
                let range = (block.line - 1)...(block.endLine - 1)
                let others = foreign.filter { $0.file == file && $0 != block && ($0.line...$0.endLine).overlaps(block.line...block.endLine) }
                guard block.endLine >= block.line, range.upperBound < lines.count,
                      lines[range.lowerBound].trimmingCharacters(in: .whitespaces).hasPrefix("host"),
                      lines[range.upperBound].trimmingCharacters(in: .whitespaces).hasSuffix("}"), others.isEmpty else {
                    outcome[name] = .failure(RunError("host \(block.name) at \(block.location) shares its lines with other statements; move it by hand"))
                    continue
                }
                for index in range { kept[index] = false }
            }
            let step = Step.dhcpd(.adoptBlocks(FileChange(path: file, content: zip(lines, kept).filter(\.1).map(\.0).joined(separator: "\n"), previous: text)))
            for (block, name) in moving where outcome[name] == nil { outcome[name] = .success(Move(block: block, step: step)) }
        }
        return outcome
    }

    /// dhcpd.conf as it becomes when blocks leave it: the move's text, then the include line
    /// the include step adds (one rewrite of the file, checked as a whole).
    static func mergingInclude(into move: FileChange, include: DHCPDStep?) throws -> FileChange {
        guard let include else { return move }
        guard case .appendInclude(let append) = include else {
            throw RunError("\(move.path) holds host blocks to adopt and include lines to remove; run once without --adopt first")
        }
        let added = append.content.dropFirst((append.previous ?? "").count)
        return FileChange(path: move.path, content: move.content + added, previous: move.previous)
    }

    /// Refuses moves that would drop a reservation: every block leaving its file must be in the
    /// candidate hosts file (by MAC). Checked before anything is written.
    static func checkNothingLost(_ moves: [FileChange], candidate: String, hostsFile: String) throws {
        let arriving = Set(DHCPHostsFile.parse(candidate, file: hostsFile).values.map(\.mac))
        for move in moves {
            let staying = Set(DHCPConfigScanner.scan(move.content, file: move.path).hosts.compactMap(\.mac))
            for block in DHCPConfigScanner.scan(move.previous ?? "", file: move.path).hosts {
                guard let mac = block.mac, !staying.contains(mac), !arriving.contains(mac) else { continue }
                throw RunError("host \(block.name) at \(block.location) would leave \(move.path) without arriving in \(hostsFile); nothing was written")
            }
        }
    }
}
