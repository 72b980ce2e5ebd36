@testable import Providers
import Testing

@Suite struct KeaReservationsFileTests {
    static let reservation = DHCPReservation(name: "cpro0007", mac: "00:25:22:bd:d1:20", ip: "10.0.0.7", hostname: "cpro0007",
                                             comment: "cpro0007", source: nil)

    @Test func whatIsWrittenIsReadBackAndAnEmptyListIsEmpty() throws {
        let text = try KeaReservationsFile.render([Self.reservation])
        #expect(text.hasPrefix(KeaReservationsFile.header + "[\n  {"))
        #expect(try KeaReservationsFile.parse(text, file: "/r.json") == ["cpro0007": Self.reservation])
        #expect(try KeaReservationsFile.render([]) == KeaReservationsFile.header + "[\n]\n")
        #expect(try KeaReservationsFile.parse("[]\n", file: "/r.json").isEmpty)
    }

    @Test func anEntryAddedByHandIsNamedByItsPlaceAndABrokenFileIsAnErrorNamingIt() throws {
        let text = try KeaReservationsFile.render([Self.reservation])
            .replacingOccurrences(of: "\n]", with: ",\n  {\"hw-address\": \"00:25:22:bd:d1:21\", \"ip-address\": \"10.0.0.9\"}\n]")
        #expect(try KeaReservationsFile.parse(text, file: "/r.json")["unnamed-2"]?.ip == "10.0.0.9")
        #expect(throws: (any Error).self) { try KeaReservationsFile.parse("[{\"hw-address\": ", file: "/r.json") }
        var message = "no error"
        do { _ = try KeaReservationsFile.parse("{}", file: "/r.json") } catch { message = "\(error)" }
        #expect(message.hasPrefix("/r.json is not the JSON list of reservations reconcile writes"), "\(message)")
    }
}
