import Basics
import Netfilter
import Foundation
import Testing
import TestSupport

/// Real tracked connections in a namespace of the test's own, made with the conntrack tool.
@Suite struct ConnectionTableTests {
    @Test func onlyConnectionsToOrFromTheGivenAddressesAreForgotten() async throws {
        let lab = NetworkLab()
        let namespace = try lab.namespace("ct")
        let entries = [("198.51.100.9", "203.0.113.7"), ("10.0.0.7", "198.51.100.9"), ("198.51.100.9", "203.0.113.51"), ("10.0.0.51", "198.51.100.9")]
        // Tracked for a day: a test starved on a loaded machine still finds its entries (under
        // ThreadSanitizer, over 10 minutes once passed between the insert and the listing, and
        // entries made for 600 s were gone); the namespace goes with them at the end.
        let insert = entries.map { "-I -s \($0.0) -d \($0.1) -p tcp --sport 40000 --dport 22 --state ESTABLISHED -t 86400 -u ASSURED" }
        try await CommandRunner(netns: namespace).run(["conntrack", "--load-file", "-"], input: Data((insert.joined(separator: "\n") + "\n").utf8))
        #expect(try tracked(in: namespace).count == 4)

        let forgotten = try await ConnectionTable.forget(destinations: ["203.0.113.7"], sources: ["10.0.0.7"], netns: namespace)
        #expect(forgotten == 2)
        #expect(try tracked(in: namespace) == ["198.51.100.9 → 203.0.113.51", "10.0.0.51 → 198.51.100.9"])

        // Nothing left to match: nothing deleted, no error.
        #expect(try await ConnectionTable.forget(destinations: ["203.0.113.7"], sources: [], netns: namespace) == 0)
        await #expect(throws: NetfilterFailure.self) { try await ConnectionTable.forget(destinations: ["not-an-address"], sources: [], netns: namespace) }
        await #expect(throws: NetfilterFailure.self) { try await ConnectionTable.forget(destinations: [], sources: [], netns: "rctest-no-such-namespace") }
    }

    /// `src → dst` of each tracked connection.
    func tracked(in namespace: String) throws -> Set<String> {
        try CommandRunner(netns: namespace).run(["conntrack", "-L"]).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard let source = fields.first(where: { $0.hasPrefix("src=") }), let destination = fields.first(where: { $0.hasPrefix("dst=") }) else { return nil }
            return "\(source.dropFirst(4)) → \(destination.dropFirst(4))"
        }.reduce(into: []) { $0.insert($1) }
    }
}
