import Engine
import Foundation
@testable import Providers
import Testing

/// Which hand-made host blocks `--adopt` moves, and how their file is cut.
@Suite struct DHCPAdoptionTests {
    static func reservation(_ name: String, _ mac: String, _ ip: String) -> DHCPReservation {
        DHCPReservation(name: name, mac: mac, ip: ip, hostname: name, comment: name, source: nil)
    }

    @Test func aBlockMovesOnlyAsItIsAndOnlyOutOfAnIncludedFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-adopt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("dhcpd.conf").path, hosts = directory.appendingPathComponent("hosts.conf").path
        try "subnet 10.0.0.0 netmask 255.255.255.0 { }\nhost inline { hardware ethernet 52:54:00:00:00:03; fixed-address 10.0.0.3; }\ninclude \"\(hosts)\";\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let text = """
            # cpro0007
            host a {
              hardware ethernet 52:54:00:00:00:07;
              fixed-address 10.0.0.7;
            }
            host b { hardware ethernet 52:54:00:00:00:08; fixed-address 10.0.0.99; }
            host c { hardware ethernet 52:54:00:00:00:09; fixed-address 10.0.0.9; } host d { hardware ethernet 52:54:00:00:00:10; fixed-address 10.0.0.10; }
            # kept

            """
        try text.write(toFile: hosts, atomically: true, encoding: .utf8)
        let foreign = try DHCPConfigScanner.scanTree(config, excluding: [directory.appendingPathComponent("ours.conf").path]).hosts
        let plan = try DHCPAdoption.plan([
            Self.reservation("cpro0007", "52:54:00:00:00:07", "10.0.0.7"), Self.reservation("cpro0008", "52:54:00:00:00:08", "10.0.0.8"),
            Self.reservation("cpro0009", "52:54:00:00:00:09", "10.0.0.9"), Self.reservation("cpro0003", "52:54:00:00:00:03", "10.0.0.3"),
        ], foreign: foreign, config: config)
        // Moved: its lines cut, every other line as it was.
        let move = try #require(try plan["cpro0007"]?.get())
        #expect(move.step.body == "# cpro0007\nhost b { hardware ethernet 52:54:00:00:00:08; fixed-address 10.0.0.99; }\n"
                + "host c { hardware ethernet 52:54:00:00:00:09; fixed-address 10.0.0.9; } host d { hardware ethernet 52:54:00:00:00:10; fixed-address 10.0.0.10; }\n# kept\n")
        guard case .dhcpd(.adoptBlocks(let change)) = move.step else { Issue.record("not an adoption: \(move.step)"); return }
        #expect(change.previous == text)
        // Not moved, each saying why.
        func why(_ name: String) -> String {
            guard case .failure(let error)? = plan[name] else { return "moved" }
            return "\(error)"
        }
        #expect(why("cpro0008").contains("gives 52:54:00:00:00:08 10.0.0.99, not 10.0.0.8; adopting would change the address"))
        #expect(why("cpro0009").contains("shares its lines with other statements"))
        // A block in dhcpd.conf itself moves too: its lines cut from dhcpd.conf.
        let inline = try #require(try plan["cpro0003"]?.get())
        #expect(inline.step.title == "dhcpd.adopt-blocks \(config)" && inline.step.body == "subnet 10.0.0.0 netmask 255.255.255.0 { }\ninclude \"\(hosts)\";\n")
    }

    @Test func aMoveThatWouldDropAReservationIsRefusedBeforeAnythingIsWritten() throws {
        let previous = "host a { hardware ethernet 52:54:00:00:00:07; fixed-address 10.0.0.7; }\nhost b { hardware ethernet 52:54:00:00:00:08; fixed-address 10.0.0.8; }\n"
        let move = FileChange(path: "/etc/dhcp/seed.conf", content: "", previous: previous)
        let onlyA = DHCPHostsFile.render([Self.reservation("a", "52:54:00:00:00:07", "10.0.0.7")])
        #expect(throws: (any Error).self) { try DHCPAdoption.checkNothingLost([move], candidate: onlyA, hostsFile: "/etc/dhcp/ours.conf") }
        do {
            try DHCPAdoption.checkNothingLost([move], candidate: onlyA, hostsFile: "/etc/dhcp/ours.conf")
        } catch {
            #expect("\(error)" == "host b at /etc/dhcp/seed.conf:2 would leave /etc/dhcp/seed.conf without arriving in /etc/dhcp/ours.conf; nothing was written")
        }
        let both = DHCPHostsFile.render([Self.reservation("a", "52:54:00:00:00:07", "10.0.0.7"), Self.reservation("b", "52:54:00:00:00:08", "10.0.0.8")])
        try DHCPAdoption.checkNothingLost([move], candidate: both, hostsFile: "/etc/dhcp/ours.conf")
    }
}
