import Foundation
@testable import Providers
import Testing
import TestSupport

/// Kea's control channel against a real unix socket whose peer misbehaves.
@Suite struct KeaControlTests {
    @Test func aPeerThatDripsBytesMeetsTheDeadlineOfTheWholeExchange() async throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("rc-kea-\(UUID().uuidString.prefix(8)).sock").path
        defer { unlink(socket) }
        // Answers every command with one byte every 0.3 s, for ever: no single read waits long.
        let drip = """
            import socket, sys, time
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(sys.argv[1])
            server.listen(1)
            connection, _ = server.accept()
            connection.recv(65536)
            while True:
                connection.send(b' ')
                time.sleep(0.3)
            """
        let peer = try SpawnedProcess(["python3", "-c", drip, socket], log: "/dev/null")
        defer { peer.signal(SIGKILL) }
        #expect(waitUntil(30) { FileManager.default.fileExists(atPath: socket) })
        var failure = "no error"
        do {
            _ = try await KeaControl(socket: socket, deadline: 2).send("config-get")
        } catch {
            failure = "\(error)"
        }
        #expect(failure == "Kea's control socket \(socket) did not complete the exchange within 2 s", "\(failure)")
    }
}
