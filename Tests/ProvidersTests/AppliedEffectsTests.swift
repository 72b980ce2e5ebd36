import Basics
import DesiredState
import Engine
import Foundation
import Libvirt
import Providers
import Testing
import TestSupport

/// `--show-commands` is what apply sends: each provider plans against real parts, the plan's
/// effects (``PlanEffects``, what `--show-commands` prints) are kept, then the plan is applied
/// batch by batch as the engine does with every command, file write, control-socket message
/// and libvirt call recorded where it is made. Both must agree byte for byte, in order.
@Suite(.tags(.integration), .serialized) struct AppliedEffectsTests {
    typealias Applied = (shown: [Effect], sent: [Effect], inventory: Set<ResourceID>)

    /// Plans with `providers`, keeps what the plan shows, applies it, and returns both, with
    /// the inventory after it (`owned` is the one before).
    static func showAndApply(_ providers: [any Provider], _ desired: DesiredState, recorder: EffectRecorder,
                             owned: Set<ResourceID> = []) async throws -> Applied {
        var resources: [Resource] = []
        for provider in providers { resources += try await provider.plan(desired, owned: owned) }
        let plan = Plan(resources)
        let shown = PlanEffects(plan: plan, providers: providers).batches.flatMap(\.effects)
        #expect(!PlanRenderer(color: false).commands(PlanEffects(plan: plan, providers: providers)).isEmpty)
        recorder.clear()
        for level in plan.steps {
            for provider in providers {
                let batch = level.filter { $0.needsWork && $0.conflict == nil && provider.resourceTypes.contains($0.id.type) }
                guard !batch.isEmpty else { continue }
                let failed = await provider.converge(batch)
                #expect(failed.isEmpty, "\(failed)")
            }
        }
        let kept = owned.union(resources.filter { $0.isInventoried && $0.action != .delete }.map(\.id))
        return (shown, recorder.effects, kept.subtracting(resources.filter { $0.action == .delete }.map(\.id)))
    }

    /// Whether `sent` is `shown`, in order; effects shown `alongside` the one before run at the
    /// same time, so within such a group the order is free. What an effect replaces is how it
    /// is shown (a diff), not what is sent: not compared.
    static func same(_ shown: [Effect], _ sent: [Effect]) -> Bool {
        func plain(_ effect: Effect) -> Effect { Effect(effect.action, input: effect.input) }
        var groups: [[Effect]] = []
        for effect in shown {
            if effect.alongside, !groups.isEmpty { groups[groups.count - 1].append(plain(effect)) } else { groups.append([plain(effect)]) }
        }
        let sent = sent.map(plain)
        guard groups.joined().count == sent.count else { return false }
        var rest = sent[...]
        for group in groups {
            let taken = rest.prefix(group.count)
            rest = rest.dropFirst(group.count)
            guard taken.sorted(by: { $0.action < $1.action }) == group.sorted(by: { $0.action < $1.action }) else { return false }
        }
        return true
    }

    static func expectSame(_ result: Applied, _ expected: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(same(result.shown, result.sent), "shown:\n\(result.shown.map(\.description).joined(separator: "\n"))\nsent:\n\(result.sent.map(\.description).joined(separator: "\n"))",
                sourceLocation: sourceLocation)
        #expect(result.shown.map(\.action) == expected, sourceLocation: sourceLocation)
    }

    @Test func nftablesDhcpdAndDNSSendWhatThePlanShowed() async throws {
        let lab = try DNSLab()
        try lab.lab.exec(lab.namespace, "ip", "link", "add", "pub0", "type", "veth", "peer", "name", "pub1")
        let dhcp = try DHCPFixture()
        let host = "publicInterface: pub0\nfirewall: {backend: nftables}\n"
            + "dhcp: {config: \(dhcp.config), hostsFile: \(dhcp.hostsFile), restart: [sh, -c, \"echo restarted >> \(dhcp.restartLog)\"]}"
        let recorder = EffectRecorder()
        var inventory: Set<ResourceID> = []
        func apply(ip: String, port: Int) async throws -> Applied {
            let pair = "kind: IPPair\nname: cpro0007\nvm: cpro0007\npublic: 203.0.113.7\nprivate: \(ip)\n---\n"
            try lab.declare(DNSLab.vm("cpro0007", ip) + pair + ProviderIsolationIntegrationTests.rule(port: port),
                            roles: "hypervisor, firewall, dhcp, dns", host: host)
            let desired = try DesiredState.load(directory: lab.root.appendingPathComponent("desired").path)
            let node = desired.hosts[0]
            let runner = CommandRunner(netns: node.netns, recorder: recorder)
            let providers: [any Provider] = [NFTablesProvider(host: node, runner: runner), ISCDHCPProvider(host: node, runner: runner),
                                             DNSProvider(host: node, settings: try #require(node.dns), runner: runner)]
            let applied = try await Self.showAndApply(providers, desired, recorder: recorder, owned: inventory)
            inventory = applied.inventory
            return applied
        }
        let nsupdate = Array(repeating: "nsupdate -k \(lab.path("key.conf"))", count: 2)  // the forward zone, the reverse one
        let created = ["nft -c -f -", "nft -f -", "ip -batch -", "dhcpd -t -cf candidate-configuration.conf", "write \(dhcp.hostsFile)",
                       "append to \(dhcp.config)"] + nsupdate
        Self.expectSame(try await apply(ip: "10.0.0.7", port: 80), created)
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.7"])
        // A change: the pair's connections are forgotten, the hosts file replaced, the records moved.
        let changed = try await apply(ip: "10.0.0.8", port: 8080)
        Self.expectSame(changed, ["nft -c -f -", "nft -f -", "forget tracked connections (netlink)", "dhcpd -t -cf candidate-configuration.conf",
                                  "write \(dhcp.hostsFile)"] + nsupdate)
        #expect(changed.shown.first { $0.action == "forget tracked connections (netlink)" }?.input == "to 203.0.113.7\nfrom 10.0.0.7\n")
        #expect(lab.answer("cpro0007.example.test", "A") == ["10.0.0.8"])
    }

    @Test func iptablesSendsWhatThePlanShowed() async throws {
        let lab = try FirewallLab()
        let recorder = EffectRecorder()
        var inventory: Set<ResourceID> = []
        func apply(_ documents: String) async throws -> Applied {
            try lab.declare(documents)
            let desired = try DesiredState.load(directory: lab.root.appendingPathComponent("desired").path)
            let node = desired.hosts[0]
            let provider = IPTablesProvider(host: node, runner: CommandRunner(netns: node.netns, recorder: recorder))
            let applied = try await Self.showAndApply([provider], desired, recorder: recorder, owned: inventory)
            inventory = applied.inventory
            return applied
        }
        let restore = ["iptables-restore --noflush -w --test", "iptables-restore --noflush -w"]
        Self.expectSame(try await apply(FirewallIntegrationTests.both), restore + ["ip -batch -"])
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == "peer=198.51.100.10")
        let withoutPair = FirewallLab.rules + FirewallLab.vm("cpro0007", "10.0.0.7", mac: "00:25:22:bd:d1:20", pair: nil)
        Self.expectSame(try await apply(withoutPair), restore + ["ip -batch -", "forget tracked connections (netlink)"])
        #expect(lab.probe(from: lab.client, "203.0.113.7", 80) == nil)
    }

    @Test func keaSendsWhatThePlanShowed() async throws {
        let lab = try KeaLab(prefix: "10.61.0")
        let recorder = EffectRecorder()
        try lab.declare("kind: DHCPHost\nname: printer01\nnetwork: private\nmac: 00:25:22:bd:d1:21\nip: 10.61.0.20\n---\n")
        let desired = try DesiredState.load(directory: lab.root.appendingPathComponent("desired").path)
        let provider = KeaProvider(host: desired.hosts[0], runner: CommandRunner(netns: desired.hosts[0].netns, recorder: recorder))
        let result = try await Self.showAndApply([provider], desired, recorder: recorder)
        Self.expectSame(result, ["kea-dhcp4 -t candidate-configuration.conf", "write \(lab.hostsFile)", "kea control \(lab.socket)"])
        #expect(result.shown.last?.input == "{\"command\":\"config-reload\"}")
        #expect(try lab.control("config-get").contains("10.61.0.20"))
    }

    @Test func libvirtSendsWhatThePlanShowedWithAnImageAndASeed() async throws {
        let lab = try LibvirtLab()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-effects-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try await CommandRunner().run(["qemu-img", "create", "-q", "-f", "qcow2", root.appendingPathComponent("base.qcow2").path, "16M"])
        let sha256 = String(try await CommandRunner().run(["sha256sum", root.appendingPathComponent("base.qcow2").path]).prefix(64))
        let vm = "\(lab.prefix)-vm"
        let desired = try desiredState(labHeader(lab).replacingOccurrences(of: "roles: [hypervisor]\n", with: "roles: [hypervisor]\nimageDirectories: [\(root.path)]\n") + """
            kind: Image
            name: base
            source: \(root.appendingPathComponent("base.qcow2").path)
            sha256: "\(sha256)"
            pool: \(lab.pool)
            ---
            kind: VirtualMachine
            name: \(vm)
            host: hv1
            memory: 128MiB
            vcpus: 1
            state: stopped
            disks: [{name: root, pool: \(lab.pool), size: 64MiB, image: base}]
            interfaces: [{network: lab, mac: "00:25:22:77:00:41", ip: 10.77.0.41}]
            cloudInit: {userData: "#cloud-config\\nruncmd: [echo one]\\n"}
            """)
        let recorder = EffectRecorder()
        var options = LibvirtProvider.Options(shutdownTimeout: .seconds(3), progress: { _ in })
        options.recorder = recorder
        var result = try await Self.showAndApply([LibvirtProvider(host: desired.hosts[0], options: options)], desired, recorder: recorder)
        // The overlay names its backing file by the path libvirt gives the Image's volume when it runs.
        let image = try #require(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.first { $0.name.hasPrefix("base") })
        let path = try Connection(uri: lab.uri).volumePath(pool: lab.pool, volume: image.name)
        let placeholder = "<path of \(lab.pool)/\(image.name)>"
        #expect(result.shown.contains { $0.input.contains(placeholder) })
        result.shown = result.shown.map { Effect($0.action, input: $0.input.replacingOccurrences(of: placeholder, with: path), replacing: $0.replacing, alongside: $0.alongside) }
        let seed = try #require(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.first { $0.name.contains("-cidata-") })
        Self.expectSame(result, ["libvirt upload-volume \(lab.pool)/\(image.name)", "libvirt create-volume \(lab.pool)",
                                 "libvirt upload-volume \(lab.pool)/\(seed.name)", "libvirt define", "libvirt autostart \(vm) on"])
        #expect(try lab.virsh("domstate", vm).contains("shut off"))
    }
}
