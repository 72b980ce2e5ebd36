import Basics
import DesiredState
import Engine
import Foundation
import Libvirt

extension LibvirtProvider {
    /// Runs each resource's planned libvirt calls in order: domains are removed before the
    /// volumes they used, volumes created before the domains that use them.
    public func converge(_ resources: [Resource]) async -> [ResourceID: String] {
        var errors: [ResourceID: String] = [:]
        for resource in Self.ordered(resources) {
            do {
                for step in resource.steps { try await run(step) }
            } catch {
                errors[resource.id] = "\(error)"
            }
        }
        return errors
    }

    /// The order a batch runs in: removals first (domains before their volumes), then Images,
    /// volumes and domains as they are created or changed, and unused Images last.
    static func ordered(_ resources: [Resource]) -> [Resource] {
        let order: [(String, Resource.Action?)] = [(domainType, .delete), (volumeType, .delete), (imageType, .create), (volumeType, .create),
                                                    (domainType, .create), (domainType, .update), (domainType, nil), (imageType, .delete)]
        return resources.sorted { first, second in
            let rank = { (resource: Resource) in order.firstIndex { $0 == (resource.id.type, resource.action) } ?? order.count }
            return rank(first) < rank(second)
        }
    }

    /// The libvirt calls of each resource's steps, in ``converge(_:)``'s order. An overlay's
    /// backing path is known only then (libvirt gives it, after the Image's upload): it is
    /// shown by name. A guest that has not shut down by the timeout is then destroyed (a
    /// fallback, not shown).
    public func effects(_ batch: [Resource]) -> [Effect] {
        Self.ordered(batch).flatMap(\.steps).flatMap { step -> [Effect] in
            guard case .libvirt(let step) = step else { return [] }
            switch step {
            case .createVolume(let pool, _, let xml): return [.libvirt("create-volume \(pool)", input: xml)]
            case .deleteVolume(let pool, let volume), .deleteSeed(let pool, let volume): return [.libvirt("delete-volume \(pool)/\(volume)")]
            case .createOverlay(let pool, let volume, let bytes, let backing, let format):
                let xml = Self.overlayXML(volume, bytes: bytes, backingPath: Self.pathShown(pool: pool, volume: backing), format: format)
                return [.libvirt("create-volume \(pool)", input: xml)]
            case .uploadImage(let pool, let volume, _), .createSeed(let pool, let volume, _): return [.libvirt("upload-volume \(pool)/\(volume)")]
            case .define(_, let xml, let previous): return [.libvirt("define", input: xml, replacing: previous)]
            case .autostart(let domain, let on): return [.libvirt("autostart \(domain) \(on ? "on" : "off")")]
            case .start(let domain): return [.libvirt("start \(domain)")]
            case .stop(let domain): return [.libvirt("shutdown \(domain)")]
            case .restart(let domain): return [.libvirt("shutdown \(domain)"), .libvirt("start \(domain)")]
            case .undefine(let domain): return [.libvirt("undefine \(domain)")]
            case .adopt(let domain, let metadata): return [.libvirt("set-metadata \(domain) \(DomainDefinition.namespace)", input: Self.element(metadata))]
            case .setMemory(let domain, let kibibytes): return [.libvirt("set-memory \(domain) \(kibibytes) KiB")]
            }
        }
    }

    /// How ``effects(_:)`` names a volume's path, which libvirt gives when the step runs.
    static func pathShown(pool: String, volume: String) -> String { "<path of \(pool)/\(volume)>" }

    /// reconcile's metadata element without its namespace declaration: libvirt adds it for the key.
    private static func element(_ metadata: String) -> String {
        metadata.replacingOccurrences(of: " xmlns:rc='\(DomainDefinition.namespace)'", with: "").replacingOccurrences(of: "rc:", with: "")
    }

    /// One step: its libvirt calls go to the session's queue; a stop's waits and an upload's
    /// staging suspend between them.
    private func run(_ step: Step) async throws {
        guard case .libvirt(let step) = step else { throw RunError("libvirt has no step \(step.title)") }
        switch step {
        case .uploadImage(let pool, let volume, let request): try await upload(request, pool: pool, volume: volume)
        case .stop(let domain): try await stop(domain)
        case .restart(let domain):
            try await stop(domain)
            try await session.call { try $0.start(domain) }
        default:
            try await session.call { [self] connection in try call(step, connection: connection) }
        }
    }

    /// A step made of libvirt calls only.
    private func call(_ step: LibvirtStep, connection: Connection) throws {
        switch step {
        case .createVolume(let pool, _, let xml): try connection.createVolume(pool: pool, xml: xml)
        case .deleteVolume(let pool, let volume): try connection.deleteVolume(pool: pool, volume: volume)
        case .define(_, let xml, _): try connection.define(xml: xml)
        case .createSeed(let pool, let volume, let files): try createSeed(pool: pool, volume: volume, files: files, connection: connection)
        case .deleteSeed(let pool, let volume): try deleteSeed(pool: pool, volume: volume, connection: connection)
        case .createOverlay(let pool, let volume, let bytes, let backing, let format):
            try createOverlay(pool: pool, volume: volume, bytes: bytes, backing: backing, format: format, connection: connection)
        case .autostart(let domain, let on): try connection.setAutostart(domain, on)
        case .start(let domain): try connection.start(domain)
        case .undefine(let domain): try connection.undefine(domain)
        case .adopt(let domain, let metadata): try connection.setMetadata(domain, element: Self.element(metadata), key: "rc", uri: DomainDefinition.namespace)
        case .setMemory(let domain, let kibibytes): try connection.setLiveMemory(domain, kibibytes: kibibytes)
        case .uploadImage, .stop, .restart: throw RunError("\(step.title) is not one libvirt call")
        }
    }

    /// Asks the guest to shut down and waits up to the timeout; then pulls the plug. A guest
    /// that stops by itself in between is stopped all the same. Waits with `Task.sleep`, each
    /// look at the domain a call of its own.
    private func stop(_ name: String) async throws {
        let running = { [session] in try await session.call { try $0.domain(named: name)?.state == .running } }
        guard try await running() else { return }
        if (try? await session.call { try $0.shutdown(name) }) != nil {
            let deadline = ContinuousClock.now + options.shutdownTimeout
            while ContinuousClock.now < deadline {
                if try await !running() { return }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        // libvirt's destroy gives up when QEMU is slow to die (a loaded host): try again.
        for attempt in 1...3 {
            do {
                try await session.call { try $0.destroy(name) }
                return
            } catch {
                guard try await running() else { return }
                if attempt == 3 { throw error }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
