import Basics
import Engine
import Foundation

/// With `--adopt`: host blocks in files dhcpd.conf includes that hold a desired reservation as
/// it is (the same MAC and the same single address) move into reconcile's hosts file. Their
/// file is rewritten without the block's lines — every other line kept byte for byte, a
/// backup beside it — in the same run that writes the reservation into reconcile's file, so
/// dhcpd, restarted once at the end, serves the same address from it.
enum DHCPAdoption {
    static let moveBlocks = "dhcpd.adopt-blocks"

    /// A block that moves, and the step that rewrites its file.
    struct Move {
        var block: DHCPConfigScanner.HostDeclaration
        var step: Step
    }

    /// Per wanted reservation name: its block's move, or why it cannot move.
    static func plan(_ wanted: [DHCPReservation], foreign: [DHCPConfigScanner.HostDeclaration], config: String) throws -> [String: Result<Move, RunError>] {
        var blocks: [DHCPConfigScanner.HostDeclaration: String] = [:]  // block → the reservation it holds
        var outcome: [String: Result<Move, RunError>] = [:]
        for reservation in wanted {
            guard let block = foreign.first(where: { $0.mac == reservation.mac }) else { continue }
            if block.ips != [reservation.ip] {
                outcome[reservation.name] = .failure(RunError("host \(block.name) at \(block.location) gives \(reservation.mac) \(block.ips.joined(separator: ", ")), not \(reservation.ip); adopting would change the address"))
            } else if block.file == config {
                outcome[reservation.name] = .failure(RunError("host \(block.name) is in \(config) itself; --adopt moves blocks out of the files it includes (move it into one first)"))
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
            let step = Step(moveBlocks, file, input: zip(lines, kept).filter(\.1).map(\.0).joined(separator: "\n"), previous: text)
            for (block, name) in moving where outcome[name] == nil { outcome[name] = .success(Move(block: block, step: step)) }
        }
        return outcome
    }

    /// Writes each file's planned text after a copy of what it held (`<file>.reconcile-backup-<time>`).
    static func apply(_ steps: [Step]) throws {
        let stamp = Int(Date().timeIntervalSince1970)
        for step in steps {
            try AtomicFile.write(Data((step.previous ?? "").utf8), to: "\(step.target).reconcile-backup-\(stamp)", mode: 0o600)
            var info = stat()
            let mode = stat(step.target, &info) == 0 ? info.st_mode & 0o7777 : 0o644
            try AtomicFile.write(Data((step.input ?? "").utf8), to: step.target, mode: mode)
        }
    }
}
