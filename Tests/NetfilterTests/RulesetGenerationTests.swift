import Basics
import Foundation
import Netfilter
import Testing
import TestSupport

/// nf_tables' generation id, read from inside namespaces of the test's own: it moves with
/// every committed transaction (nft and iptables-nft), stays put otherwise, and a namespace
/// made again under the same name is told apart by its cookie.
@Suite struct RulesetGenerationTests {
    @Test func theGenerationMovesWithEachTransactionAndNamespacesAreToldApart() throws {
        let lab = NetworkLab()
        let namespace = try lab.namespace("gen")
        let first = try RulesetGeneration.current(netns: namespace)
        #expect(try RulesetGeneration.current(netns: namespace) == first)
        let bootID = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(first.bootID == bootID && bootID.count == 36, "\(first.bootID)")

        try CommandRunner(netns: namespace).run(["nft", "add", "table", "inet", "rctest"])
        let afterNFT = try RulesetGeneration.current(netns: namespace)
        #expect(afterNFT.generation != first.generation && afterNFT.namespaceCookie == first.namespaceCookie)
        try CommandRunner(netns: namespace).run(["iptables", "-A", "INPUT", "-s", "192.0.2.1", "-j", "DROP"])
        #expect(try RulesetGeneration.current(netns: namespace).generation != afterNFT.generation)

        // Another namespace, and this one deleted and made again: other cookies.
        let other = try lab.namespace("gen2")
        #expect(try RulesetGeneration.current(netns: other).namespaceCookie != first.namespaceCookie)
        try NetworkLab.ip("netns", "del", namespace)
        try NetworkLab.ip("netns", "add", namespace)
        #expect(try RulesetGeneration.current(netns: namespace).namespaceCookie != first.namespaceCookie)
        #expect(throws: NetfilterFailure.self) { try RulesetGeneration.current(netns: "rctest-no-such-namespace") }
    }
}
