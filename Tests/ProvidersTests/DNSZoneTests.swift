@testable import Providers
import Testing

@Suite struct DNSZoneTests {
    @Test func aTransferIsReadByNameAndTypeAndOwnershipIsTheMarkOfEachRecordSet() throws {
        let zone = try DNSZone.parse("""
            example.test.\t\t300\tIN\tSOA\tns.example.test. admin.example.test. 3 3600 600 86400 300
            cpro0007.example.test.\t300\tIN\tA\t10.0.0.7
            cpro0007.example.test.\t60\tIN\tTXT\t"hand  made" "two"
            _reconcile.cpro0007.example.test. 300 IN TXT\t"heritage=reconcile,type=A"
            _reconcile.gone.example.test. 300 IN TXT\t"heritage=reconcile,type=CNAME"
            Hand.example.test.\t300\tIN\tA\t10.0.0.99
            example.test.\t\t300\tIN\tSOA\tns.example.test. admin.example.test. 3 3600 600 86400 300
            """, zone: "example.test")
        let a = DNSZone.Key(name: "cpro0007.example.test.", type: "A"), txt = DNSZone.Key(name: "cpro0007.example.test.", type: "TXT")
        #expect(zone.records[a] == ["10.0.0.7"] && zone.ttls[txt] == 60)
        #expect(zone.records[txt] == ["\"hand  made\" \"two\""])  // the text's own spaces kept
        #expect(zone.owned == [a, DNSZone.Key(name: "gone.example.test.", type: "CNAME")])
        #expect(zone.foreignRecords(at: "cpro0007.example.test.") == [txt])
        #expect(zone.foreignRecords(at: "hand.example.test.") == [DNSZone.Key(name: "hand.example.test.", type: "A")])
    }

    @Test func digExitsZeroOnAFailedTransferSoOnlyAWholeAnswerCounts() {
        #expect(throws: (any Error).self) { try DNSZone.parse("; Transfer failed.\n", zone: "example.test") }
        #expect(throws: (any Error).self) {
            try DNSZone.parse("example.test. 300 IN SOA ns. admin. 1 2 3 4 5\nx.example.test. 300 IN A 10.0.0.1\n", zone: "example.test")
        }
    }

    @Test func anUpdateIsGuardedByTheRecordSetAsReadAndCarriesItsMark() {
        let key = DNSZone.Key(name: "cpro0007.example.test.", type: "A")
        #expect(DNSProvider.lines(for: key, from: nil, to: ["10.0.0.7"], ttl: 300, ours: false) == [
            "prereq nxrrset cpro0007.example.test. A", "update add cpro0007.example.test. 300 A 10.0.0.7",
            "update add _reconcile.cpro0007.example.test. 300 TXT \"heritage=reconcile,type=A\"",
        ])
        #expect(DNSProvider.lines(for: key, from: ["10.0.0.7"], to: ["10.0.0.8"], ttl: 60, ours: true) == [
            "prereq yxrrset cpro0007.example.test. A 10.0.0.7", "update delete cpro0007.example.test. A", "update add cpro0007.example.test. 60 A 10.0.0.8",
        ])
        #expect(DNSProvider.lines(for: key, from: ["10.0.0.8"], to: nil, ttl: 0, ours: true) == [
            "prereq yxrrset cpro0007.example.test. A 10.0.0.8", "update delete cpro0007.example.test. A",
            "update delete _reconcile.cpro0007.example.test. TXT \"heritage=reconcile,type=A\"",
        ])
    }

    @Test func eachAnswerNsupdatePrintsGivesItsMessagesStatus() {
        let output = """
            Answer:
            ;; ->>HEADER<<- opcode: UPDATE, status: NOERROR, id:  46583
            ;; flags: qr; ZONE: 1, PREREQ: 0, UPDATE: 0, ADDITIONAL: 1
            Answer:
            ;; ->>HEADER<<- opcode: UPDATE, status: YXRRSET, id:  55666
            """
        #expect(DNSProvider.statuses(output) == ["NOERROR", "YXRRSET"])
    }
}
