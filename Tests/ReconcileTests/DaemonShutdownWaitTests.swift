import Basics
import Foundation
import Libvirt
import Testing
import TestSupport

/// The daemon's HTTP side keeps answering while a run waits for a real QEMU guest to shut
/// down: that wait sleeps with `Task.sleep`, never blocking the threads the server shares.
@Suite struct DaemonShutdownWaitTests {
    func declare(_ fixture: DaemonFixture, _ lab: LibvirtLab, state: String) throws {
        try """
            kind: Host
            name: hv1
            roles: [hypervisor]
            libvirt: \(lab.uri)
            virtType: qemu
            ---
            kind: Network
            name: lab
            cidr: 10.78.0.0/24
            bridge: \(lab.bridge)
            ---
            kind: VirtualMachine
            name: \(lab.prefix)-vm
            memory: 128MiB
            vcpus: 1
            state: \(state)
            interfaces: [{network: lab, mac: "00:25:22:78:00:07"}]

            """.write(toFile: fixture.path("repo/cloud.yaml"), atomically: true, encoding: .utf8)
        try fixture.git("add", "-A")
        try fixture.git("commit", "-q", "-m", "the VM \(state)")
    }

    @Test func healthAnswersWhileARunWaitsForAGuestToShutDown() throws {
        let lab = try LibvirtLab()
        let fixture = try DaemonFixture()
        let vm = "\(lab.prefix)-vm"
        try declare(fixture, lab, state: "running")
        // The guest network-boots iPXE, which ignores the ACPI shutdown request: the run
        // waits the whole --shutdown-timeout before pulling the plug.
        try fixture.start(interval: 600, ["--shutdown-timeout", "20s"])
        try #require(fixture.waitUntil(DaemonFixture.patience * 3) { fixture.runs().first?.status == .converged },
                     "\(fixture.runs().map { "\($0.status): \($0.error ?? "")" }) \((try? String(contentsOfFile: fixture.path("daemon.log"), encoding: .utf8)) ?? "")")
        #expect(try lab.virsh("domstate", vm).hasPrefix("running"))

        try declare(fixture, lab, state: "stopped")
        let head = fixture.head
        let body = "{\"ref\": \"refs/heads/main\"}"
        #expect(try fixture.http("POST", "/hooks/git", body: body, signature: try fixture.signature(body)).status == 202)
        #expect(fixture.waitUntil(DaemonFixture.patience * 3) {
            fixture.runs().first.map { $0.revision == head && $0.status == .running } == true
        })
        // Asked while the run is in progress and the guest still runs: each answers.
        var answered: [Double] = []
        while try lab.virsh("domstate", vm).hasPrefix("running"), fixture.runs().first?.status == .running {
            let output = try CommandRunner().run(["curl", "-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                                                  "http://127.0.0.1:\(fixture.port)/healthz"])
            let parts = output.split(separator: " ")
            #expect(parts.first == "200", "\(output)")
            if let seconds = parts.last.flatMap({ Double($0) }) { answered.append(seconds) }
            usleep(200_000)
        }
        #expect(answered.count >= 5, "only \(answered.count) answers during the shutdown wait")
        let sorted = answered.sorted()
        print("healthz during the shutdown wait: \(answered.count) answers, median \(sorted.isEmpty ? 0 : sorted[sorted.count / 2] * 1000) ms, max \((sorted.last ?? 0) * 1000) ms")
        #expect(fixture.waitUntil(DaemonFixture.patience * 3) { fixture.runs().first?.status == .converged })
        #expect(try lab.virsh("domstate", vm).hasPrefix("shut off"))
    }
}
