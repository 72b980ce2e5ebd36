import Basics
import DesiredState
import Engine
import Foundation
import Libvirt
import Providers
import RunLog
import Testing
import TestSupport

/// Images into a pool of the real libvirtd through the stream API: from a file and over HTTP,
/// checksums verified on the bytes sent, VM disks made on top of them.
@Suite(.tags(.integration), .serialized) struct ImageIntegrationTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-image-\(UUID().uuidString.prefix(8))")

    /// A small qcow2 image and its SHA-256.
    func makeImage(_ name: String) throws -> (path: String, sha256: String) {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let path = root.appendingPathComponent(name).path
        try CommandRunner().run(["qemu-img", "create", "-q", "-f", "qcow2", path, "16M"])
        let digest = try CommandRunner().run(["sha256sum", path]).prefix(64)
        return (path, String(digest))
    }

    /// The lab's Host, allowing images from this test's directory.
    func state(_ lab: LibvirtLab, images: String, vm: String = "") throws -> DesiredState {
        let header = labHeader(lab).replacingOccurrences(of: "roles: [hypervisor]\n", with: "roles: [hypervisor]\nimageDirectories: [\(root.path)]\n")
        return try desiredState(header + images + vm)
    }

    static func image(_ name: String, _ source: String, _ sha256: String, pool: String) -> String {
        "kind: Image\nname: \(name)\nsource: \(source)\nsha256: \"\(sha256)\"\npool: \(pool)\n---\n"
    }

    func run(_ desired: DesiredState, log: RunLog, dryRun: Bool = false, staging: ImageStaging? = nil) async throws -> RunReport {
        var options = LibvirtProvider.Options(shutdownTimeout: .seconds(3), progress: { _ in })
        options.staging = staging
        return try await Reconciler(node: "hv1", providers: [LibvirtProvider(host: desired.hosts[0], options: options)], recorder: log)
            .run(desired, revision: "test", options: .init(dryRun: dryRun))
    }

    @Test func anImageGoesIntoThePoolOnceAndDisksAreMadeOnTopOfIt() async throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(at: root) }
        let log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        let base = try makeImage("base.qcow2")
        let volume = "debian-\(base.sha256.prefix(12)).qcow2"
        let vm = """
            kind: VirtualMachine
            name: \(lab.prefix)-vm
            host: hv1
            memory: 128MiB
            vcpus: 1
            state: stopped
            disks: [{name: root, pool: \(lab.pool), size: 64MiB, image: debian}]
            interfaces: [{network: lab, mac: "00:25:22:77:00:11"}]
            """
        let desired = try state(lab, images: Self.image("debian", base.path, base.sha256, pool: lab.pool), vm: vm)
        let first = try await run(desired, log: log)
        #expect(first.status == .converged, "\(first.outcomes.filter { $0.outcome == .failed })")
        // The volume holds exactly the image's bytes, and the disk is backed by it.
        let copy = root.appendingPathComponent("downloaded").path
        try lab.virsh("vol-download", "--pool", lab.pool, volume, copy)
        await #expect(try CommandRunner().run(["sha256sum", copy]).prefix(64) == base.sha256)
        let imagePath = try lab.virsh("vol-path", "--pool", lab.pool, volume).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try lab.virsh("vol-dumpxml", "--pool", lab.pool, "\(lab.prefix)-vm-root").contains("<path>\(imagePath)</path>"))
        #expect(try await run(desired, log: log, dryRun: true).status == .noChanges)

        // Taken out of git while a disk is still made from it: it stays, and the plan says why.
        let kept = try await run(try state(lab, images: "", vm: vm), log: log)
        let why = kept.outcomes.first { $0.resource.type == "libvirt_image" }?.error ?? ""
        #expect(why.contains("still the backing file of \(lab.prefix)-vm-root"), "\(why)")
        #expect(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.contains { $0.name == volume } == true)
    }

    /// An overlay Image declares the Image it is made on; its backing file then names that
    /// Image's volume in the pool, whatever its header said. Without the declaration it is refused.
    @Test func anOverlayImageIsBackedByItsDeclaredBackingImageVolume() async throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(at: root) }
        let log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        let base = try makeImage("base.qcow2")
        let overlay = root.appendingPathComponent("overlay.qcow2").path
        try await CommandRunner().run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base.path, overlay, "16M"])
        let overlaySum = await String(try CommandRunner().run(["sha256sum", overlay]).prefix(64))
        let images = Self.image("base", base.path, base.sha256, pool: lab.pool) + Self.image("web", overlay, overlaySum, pool: lab.pool)

        let undeclared = try await run(try state(lab, images: images), log: log)
        let why = undeclared.outcomes.first { $0.resource.name.contains("web-") }?.error ?? ""
        #expect(why.contains("names a backing file (\(base.path)) and declares no backingImage"), "\(why)")

        let declared = images.replacingOccurrences(of: "name: web\n", with: "name: web\nbackingImage: base\n")
        let report = try await run(try state(lab, images: declared), log: log)
        #expect(report.status == .converged, "\(report.outcomes.filter { $0.outcome == .failed })")
        let basePath = try lab.virsh("vol-path", "--pool", lab.pool, "base-\(base.sha256.prefix(12)).qcow2").trimmingCharacters(in: .whitespacesAndNewlines)
        let webXML = try lab.virsh("vol-dumpxml", "--pool", lab.pool, "web-\(overlaySum.prefix(12)).qcow2")
        #expect(webXML.contains("<backingStore>") && webXML.contains("<path>\(basePath)</path>"), "\(webXML)")
        #expect(try await run(try state(lab, images: declared), log: log, dryRun: true).status == .noChanges)
    }

    @Test func aChecksumMismatchFailsAndLeavesNoVolumeAndHTTPSourcesWork() async throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(at: root) }
        let log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        let base = try makeImage("served.qcow2")
        let wrong = String(repeating: "0", count: 64)
        let mismatch = try await run(try state(lab, images: Self.image("bad", base.path, wrong, pool: lab.pool)), log: log)
        let error = mismatch.outcomes.first { $0.resource.type == "libvirt_image" }?.error ?? ""
        #expect(mismatch.status == .failed && error.contains("does not have the declared sha256 \(wrong)"), "\(error)")
        #expect(!error.contains(base.sha256), "a mismatch must not show the digest of what was read: \(error)")
        #expect(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.isEmpty == true)

        // Over HTTP from a server on this machine's loopback.
        let port = LocalPort.unused()
        let server = try SpawnedProcess(["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", root.path], log: "/dev/null")
        defer { _ = server }
        let url = "http://127.0.0.1:\(port)/served.qcow2"
        waitUntil(30) { (try? CommandRunner().run(["curl", "-fsI", url])) != nil }
        let fetched = try await run(try state(lab, images: Self.image("served", url, base.sha256, pool: lab.pool)), log: log)
        #expect(fetched.status == .converged, "\(fetched.outcomes.filter { $0.outcome == .failed })")
        #expect(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.map(\.name) == ["served-\(base.sha256.prefix(12)).qcow2"])
    }
}

/// What a hostile committer or a broken server must not get through an Image: a host file in a
/// pool, a backing chain leading out of the pools, an endless or stalled download.
@Suite(.tags(.integration), .serialized) struct ImageConfinementTests {
    let images = ImageIntegrationTests()
    var root: URL { images.root }

    /// A root-only file standing for a host secret, outside every allowed directory.
    func makeDecoy() throws -> (path: String, sha256: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rc-decoy-\(UUID().uuidString.prefix(8))").path
        try Data("-----BEGIN OPENSSH PRIVATE KEY----- decoy\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return (path, String(try CommandRunner().run(["sha256sum", path]).prefix(64)))
    }

    func ownerAndMode(_ path: String) throws -> String { try CommandRunner().run(["stat", "-c", "%U:%G %a", path]) }

    func imageError(_ report: RunReport) -> String {
        report.outcomes.first { $0.resource.type == "libvirt_image" }?.error ?? ""
    }

    @Test func aHostFileCannotBecomeAnImageNorItsBackingFile() async throws {
        let lab = try LibvirtLab()
        let decoy = try makeDecoy()
        defer { try? FileManager.default.removeItem(at: root); unlink(decoy.path) }
        let before = try ownerAndMode(decoy.path)
        let log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)

        // Named directly: refused when the desired state is read, with file and line.
        #expect(throws: (any Error).self) { try images.state(lab, images: ImageIntegrationTests.image("key", decoy.path, decoy.sha256, pool: lab.pool)) }
        do {
            _ = try images.state(lab, images: ImageIntegrationTests.image("key", decoy.path, decoy.sha256, pool: lab.pool))
        } catch {
            #expect("\(error)".contains("is outside the directories host hv1 allows images from"), "\(error)")
        }

        // Through a symbolic link in the allowed directory: refused when it is read.
        let link = root.appendingPathComponent("innocent.qcow2").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: decoy.path)
        let linked = try await images.run(try images.state(lab, images: ImageIntegrationTests.image("linked", link, decoy.sha256, pool: lab.pool)), log: log)
        #expect(linked.status == .failed && imageError(linked).contains("outside the directories its Host allows images from"), "\(imageError(linked))")

        // A qcow2 whose backing file is the host file: refused, though its own checksum is right.
        let evil = root.appendingPathComponent("evil.qcow2").path
        try await CommandRunner().run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", decoy.path, "-u", evil, "16M"])
        let evilSum = await String(try CommandRunner().run(["sha256sum", evil]).prefix(64))
        let backed = try await images.run(try images.state(lab, images: ImageIntegrationTests.image("evil", evil, evilSum, pool: lab.pool)), log: log)
        #expect(backed.status == .failed && imageError(backed).contains("names a backing file (\(decoy.path))"), "\(imageError(backed))")

        // A FIFO is refused, not waited on.
        let fifo = root.appendingPathComponent("fifo.qcow2").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let piped = try await images.run(try images.state(lab, images: ImageIntegrationTests.image("fifo", fifo, decoy.sha256, pool: lab.pool)), log: log)
        #expect(imageError(piped).contains("is not a regular file"), "\(imageError(piped))")

        for report in [linked, piped] { #expect(!imageError(report).contains(decoy.sha256)) }
        #expect(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.isEmpty == true, "nothing reached the pool")
        #expect(try ownerAndMode(decoy.path) == before)
    }

    /// A file staged for an overlay that declared its backing is checked again when the
    /// declaration is gone: it is never sent with the backing file its header names.
    @Test func aStagedOverlayIsCheckedAgainForTheRequestThatUsesIt() async throws {
        let decoy = try makeDecoy()
        defer { try? FileManager.default.removeItem(at: root); unlink(decoy.path) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let evil = root.appendingPathComponent("evil.qcow2").path
        try await CommandRunner().run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", decoy.path, "-u", evil, "16M"])
        let sum = await String(try CommandRunner().run(["sha256sum", evil]).prefix(64))
        let staging = ImageStaging(directory: root.appendingPathComponent("staging").path, progress: { _ in })
        let image = try #require(try images.state(try LibvirtLab(), images: ImageIntegrationTests.image("evil", evil, sum, pool: "p")).images.first)
        let overlay = ImageStaging.Request(image, backing: image)
        let staged = try await staging.stage(overlay, allowed: [root.path])
        #expect(FileManager.default.fileExists(atPath: staged))
        await #expect(throws: (any Error).self) { _ = try await staging.stage(ImageStaging.Request(image, backing: nil), allowed: [root.path]) }
        #expect(!FileManager.default.fileExists(atPath: staged), "the staged file that failed its check is gone")
    }

    /// A server that sends zeros for ever on /endless and headers then nothing on /stall.
    func startServer() throws -> (SpawnedProcess, Int) {
        let port = LocalPort.unused()
        let script = """
            import http.server, sys, time
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200)
                    self.end_headers()
                    if self.path == '/stall':
                        time.sleep(600)
                    while True:
                        self.wfile.write(bytes(65536))
            http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
            """
        let server = try SpawnedProcess(["python3", "-c", script, "\(port)"], log: "/dev/null")
        #expect(waitUntil(30) { (try? CommandRunner().run(["nc", "-z", "127.0.0.1", "\(port)"])) != nil })
        return (server, port)
    }

    @Test func downloadsStopAtTheImagesSizeAndWhenTheyStall() async throws {
        let lab = try LibvirtLab()
        defer { try? FileManager.default.removeItem(at: root) }
        let log = try RunLog(stateDirectory: root.appendingPathComponent("state").path)
        let (server, port) = try startServer()
        defer { _ = server }
        let staging = ImageStaging(directory: root.appendingPathComponent("staging").path, stallTimeout: 2, progress: { _ in })
        let sum = String(repeating: "ab", count: 32)

        let endless = ImageIntegrationTests.image("endless", "http://127.0.0.1:\(port)/endless", sum, pool: lab.pool)
            .replacingOccurrences(of: "---\n", with: "maxSize: 8MiB\n")
        let big = try await images.run(try images.state(lab, images: endless), log: log, staging: staging)
        #expect(big.status == .failed && imageError(big).contains("is larger than 8 MiB"), "\(imageError(big))")

        let stalled = try await images.run(try images.state(lab, images: ImageIntegrationTests.image("stall", "http://127.0.0.1:\(port)/stall", sum, pool: lab.pool)),
                                           log: log, staging: staging)
        #expect(stalled.status == .failed && imageError(stalled).contains("curl"), "\(imageError(stalled))")

        #expect(try FileManager.default.contentsOfDirectory(atPath: staging.directory).isEmpty, "no partial download is left")
        #expect(try Connection(uri: lab.uri).volumes(pool: lab.pool)?.isEmpty == true)
    }
}
