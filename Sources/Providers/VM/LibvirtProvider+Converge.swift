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
        let order: [(String, Resource.Action?)] = [(Self.domainType, .delete), (Self.volumeType, .delete), (Self.imageType, .create),
                                                    (Self.volumeType, .create), (Self.domainType, .create), (Self.domainType, .update),
                                                    (Self.domainType, nil), (Self.imageType, .delete)]
        let ordered = resources.sorted { first, second in
            let rank = { (resource: Resource) in order.firstIndex { $0 == (resource.id.type, resource.action) } ?? order.count }
            return rank(first) < rank(second)
        }
        for resource in ordered {
            do {
                for step in resource.steps { try await run(step) }
            } catch {
                errors[resource.id] = "\(error)"
            }
        }
        return errors
    }

    /// One step: its libvirt calls go to the session's queue; a stop's waits and an upload's
    /// staging suspend between them.
    private func run(_ step: Step) async throws {
        switch step.operation {
        case Self.uploadImage: try await upload(step)
        case Self.stop: try await stop(step.target)
        case Self.restart:
            try await stop(step.target)
            try await session.call { try $0.start(step.target) }
        default:
            try await session.call { [self] connection in try call(step, connection: connection) }
        }
    }

    /// A step made of libvirt calls only.
    private func call(_ step: Step, connection: Connection) throws {
        let input = step.input ?? ""
        switch step.operation {
        case Self.createVolume:
            try connection.createVolume(pool: Self.poolAndVolume(step.target).pool, xml: input)
        case Self.deleteVolume:
            let (pool, volume) = Self.poolAndVolume(step.target)
            try connection.deleteVolume(pool: pool, volume: volume)
        case Self.define: try connection.define(xml: input)
        case Self.createSeed: try createSeed(step, connection: connection)
        case Self.deleteSeed: try deleteSeed(step, connection: connection)
        case Self.createOverlay: try createOverlay(step, connection: connection)
        case Self.autostart: try connection.setAutostart(step.target, input == "true")
        case Self.start: try connection.start(step.target)
        case Self.undefine: try connection.undefine(step.target)
        case Self.adopt:
            // The element without its namespace declaration: libvirt adds it for the key.
            let element = input.replacingOccurrences(of: " xmlns:rc='\(DomainDefinition.namespace)'", with: "").replacingOccurrences(of: "rc:", with: "")
            try connection.setMetadata(step.target, element: element, key: "rc", uri: DomainDefinition.namespace)
        case Self.setMemory:
            guard let kibibytes = UInt64(input) else { throw RunError("\(step.key): not a size in KiB: \(input)") }
            try connection.setLiveMemory(step.target, kibibytes: kibibytes)
        default:
            throw RunError("libvirt has no step \(step.operation)")
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
