@testable import Providers
import Testing

@Suite struct DNSZoneTests {
    @Test func aTransferIsReadByNameAndTypeAndOwnershipIsTheMarkBesideAName() throws {
        let zone = try DNSZone.parse("""
            example.test.\t\t300\tIN\tSOA\tns.example.test. admin.example.test. 3 3600 600 86400 300
            cpro0007.example.test.\t300\tIN\tA\t10.0.0.7
            _reconcile.cpro0007.example.test. 300 IN TXT\t"heritage=reconcile"
            Hand.example.test.\t300\tIN\tA\t10.0.0.99
            example.test.\t\t300\tIN\tSOA\tns.example.test. admin.example.test. 3 3600 600 86400 300
            """, zone: "example.test")
        #expect(zone.records[.init(name: "cpro0007.example.test.", type: "A")] == ["10.0.0.7"])
        #expect(zone.isOurs("cpro0007.example.test.") && !zone.isOurs("hand.example.test."))
        #expect(zone.hasRecords(at: "hand.example.test."))
    }

    @Test func digExitsZeroOnAFailedTransferSoOnlyAWholeAnswerCounts() {
        #expect(throws: (any Error).self) { try DNSZone.parse("; Transfer failed.\n", zone: "example.test") }
        #expect(throws: (any Error).self) {
            try DNSZone.parse("example.test. 300 IN SOA ns. admin. 1 2 3 4 5\nx.example.test. 300 IN A 10.0.0.1\n", zone: "example.test")
        }
    }

    @Test func anUpdateIsGuardedByTheRecordSetAsRead() {
        let key = DNSZone.Key(name: "cpro0007.example.test.", type: "A")
        #expect(DNSProvider.lines(for: key, from: nil, to: ["10.0.0.7"], ours: false) == [
            "prereq nxrrset cpro0007.example.test. A", "update add cpro0007.example.test. 300 A 10.0.0.7",
            "update add _reconcile.cpro0007.example.test. 300 TXT \"heritage=reconcile\"",
        ])
        #expect(DNSProvider.lines(for: key, from: ["10.0.0.7"], to: ["10.0.0.8"], ours: true) == [
            "prereq yxrrset cpro0007.example.test. A 10.0.0.7", "update delete cpro0007.example.test. A", "update add cpro0007.example.test. 300 A 10.0.0.8",
        ])
        #expect(DNSProvider.lines(for: key, from: ["10.0.0.8"], to: nil, ours: true, keepOwnership: false) == [
            "prereq yxrrset cpro0007.example.test. A 10.0.0.8", "update delete cpro0007.example.test. A", "update delete _reconcile.cpro0007.example.test. TXT",
        ])
    }
}
