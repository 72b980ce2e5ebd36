import Basics
import CLibvirt
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One connection to a libvirt daemon (`qemu:///system`, `qemu+ssh://root@hv1/system`) or
/// to the in-process test driver (`test:///default`).
///
/// Owns the C handle: closed in `deinit`, not `Sendable`. Every call reads libvirt's error
/// on the thread that failed.
public final class Connection {
    let handle: OpaquePointer
    public let uri: String
    /// Sees each call that changes something (tests), named as ``Effect/libvirt(_:_:input:)`` names it.
    public var recorder: EffectRecorder?

    /// A domain as listed: what the plan compares.
    public struct DomainInfo: Sendable, Equatable {
        public enum State: String, Sendable {
            case running, stopped, paused, other
        }

        public var name: String
        public var uuid: String
        public var state: State
        public var autostart: Bool
        /// The persistent (inactive) definition, as libvirt stores it.
        public var xml: String
        /// The running definition, for a domain that runs: it differs from `xml` while a
        /// change waits for a restart.
        public var liveXML: String?
    }

    /// Opens `uri`. A remote connection gets keepalive probes (every 5 s, 3 missed closes
    /// it), so a dead host fails the next call with a clear error instead of hanging.
    public init(uri: String) throws(LibvirtError) {
        _ = Self.prepared
        guard let handle = virConnectOpen(uri) else { throw LibvirtError.last("connect to \(uri)") }
        self.handle = handle
        self.uri = uri
        if isRemote, virConnectSetKeepAlive(handle, 5, 3) < 0 {
            let error = LibvirtError.last("enable keepalive on \(uri)")
            virConnectClose(handle)
            throw error
        }
    }

    deinit { virConnectClose(handle) }

    /// Whether the connection goes over the network (`qemu+ssh://`, `qemu+tcp://`, `qemu://host/`).
    public var isRemote: Bool { Self.isRemote(uri) }

    public static func isRemote(_ uri: String) -> Bool {
        guard let range = uri.range(of: "://") else { return false }
        let transport = uri[..<range.lowerBound].split(separator: "+").dropFirst().first
        let host = uri[range.upperBound...].prefix { $0 != "/" }
        return !host.isEmpty || (transport != nil && transport != "unix")
    }

    /// The libvirt library's version as major * 1,000,000 + minor * 1,000 + micro.
    public static var libraryVersion: UInt {
        var version: UInt = 0
        _ = virGetVersion(&version, nil, nil)
        return version
    }

    /// Errors are thrown, not printed (libvirt prints every error to stderr unless told
    /// otherwise); SIGPIPE is ignored, as libvirt asks of its clients (a remote transport
    /// whose ssh process died would otherwise kill us on the next write); libvirt's default
    /// event loop runs on its own thread: keepalive needs it.
    private static let prepared: Void = {
        virSetErrorFunc(nil) { _, _ in }
        signal(SIGPIPE, SIG_IGN)
        guard virEventRegisterDefaultImpl() == 0 else { return }
        let loop = Thread {
            while virEventRunDefaultImpl() == 0 {}
        }
        loop.name = "libvirt-events"
        loop.start()
    }()

    /// libvirt's last error; when the connection itself died, the error says so.
    func failure(_ operation: String) -> LibvirtError {
        var error = LibvirtError.last(operation)
        if virConnectIsAlive(handle) == 0 {
            error.message = "the connection to \(uri) was lost (\(error.message)); is the host up and libvirtd running?"
        }
        return error
    }

    func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(LibvirtError) {
        if code < 0 { throw failure(operation()) }
    }

    /// Every domain, active or not, with state, autostart and inactive XML: one pass.
    /// A domain undefined by someone else between the listing and its reading is left out.
    public func domains() throws(LibvirtError) -> [DomainInfo] {
        try listAll("list domains on \(uri)", { virConnectListAllDomains(handle, $0, 0) }, free: virDomainFree) {
            (domain) throws(LibvirtError) -> DomainInfo? in
            do throws(LibvirtError) {
                return try info(domain)
            } catch where error.isNotFound {
                return nil
            }
        }.compactMap { $0 }.sorted { $0.name < $1.name }
    }

    /// One domain by name, or nil when there is none (and only then).
    public func domain(named name: String) throws(LibvirtError) -> DomainInfo? {
        guard let domain = virDomainLookupByName(handle, name) else {
            let error = failure("find domain \(name)")
            if error.isNotFound { return nil }
            throw error
        }
        defer { virDomainFree(domain) }
        return try info(domain)
    }

    /// Defines (or redefines) a persistent domain from its XML.
    public func define(xml: String) throws(LibvirtError) {
        recorder?.record(.libvirt("define", input: xml))
        guard let domain = virDomainDefineXML(handle, xml) else { throw failure("define domain") }
        virDomainFree(domain)
    }

    public func start(_ name: String) throws(LibvirtError) {
        recorder?.record(.libvirt("start \(name)"))
        try withDomain(name, "start") { virDomainCreate($0) }
    }

    /// Stops at once, like pulling the plug.
    public func destroy(_ name: String) throws(LibvirtError) {
        recorder?.record(.libvirt("destroy \(name)"))
        try withDomain(name, "destroy") { virDomainDestroy($0) }
    }

    /// Asks the guest to shut down (ACPI); returns at once. See ``destroy(_:)``.
    public func shutdown(_ name: String) throws(LibvirtError) {
        recorder?.record(.libvirt("shutdown \(name)"))
        try withDomain(name, "shut down") { virDomainShutdown($0) }
    }

    /// Sets the running domain's current memory (the balloon); at most its maximum.
    public func setLiveMemory(_ name: String, kibibytes: UInt64) throws(LibvirtError) {
        recorder?.record(.libvirt("set-memory \(name) \(kibibytes) KiB"))
        try withDomain(name, "set the live memory of") {
            virDomainSetMemoryFlags($0, UInt(kibibytes), VIR_DOMAIN_AFFECT_LIVE.rawValue)
        }
    }

    public func setAutostart(_ name: String, _ autostart: Bool) throws(LibvirtError) {
        recorder?.record(.libvirt("autostart \(name) \(autostart ? "on" : "off")"))
        try withDomain(name, "set autostart of") { virDomainSetAutostart($0, autostart ? 1 : 0) }
    }

    /// Removes the definition with its managed save image and snapshot metadata, and its
    /// NVRAM (libvirt ≥ 1.2.9) and checkpoint metadata (≥ 5.6.0). A driver that refuses
    /// those flags (the test driver) gets the first two only.
    public func undefine(_ name: String) throws(LibvirtError) {
        recorder?.record(.libvirt("undefine \(name)"))
        let basic = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue
        var flags = basic
        if Self.libraryVersion >= 1_002_009 { flags |= VIR_DOMAIN_UNDEFINE_NVRAM.rawValue }
        if Self.libraryVersion >= 5_006_000 { flags |= VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA.rawValue }
        do {
            try withDomain(name, "undefine") { virDomainUndefineFlags($0, flags) }
        } catch where error.message.contains("unsupported flags") {
            try withDomain(name, "undefine") { virDomainUndefineFlags($0, basic) }
        }
    }

    /// Sets a domain's metadata element in namespace `uri` (prefix `key`), in its stored
    /// definition and, when it runs, in the running one: no restart.
    public func setMetadata(_ name: String, element: String, key: String, uri namespace: String) throws(LibvirtError) {
        recorder?.record(.libvirt("set-metadata \(name) \(namespace)", input: element))
        let running = try domain(named: name)?.state == .running
        let flags = VIR_DOMAIN_AFFECT_CONFIG.rawValue | (running ? VIR_DOMAIN_AFFECT_LIVE.rawValue : 0)
        try withDomain(name, "set the metadata of") {
            virDomainSetMetadata($0, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), element, key, namespace, flags)
        }
    }

    // MARK: - Host interfaces and networks

    /// The names of the host's network interfaces (bridges among them), active or not.
    public func interfaceNames() throws(LibvirtError) -> Set<String> {
        Set(try listAll("list the interfaces of \(uri)", { virConnectListAllInterfaces(handle, $0, 0) }, free: virInterfaceFree) {
            virInterfaceGetName($0).map { String(cString: $0) } ?? ""
        })
    }

    /// The names of libvirt's virtual networks, active or not.
    public func networkNames() throws(LibvirtError) -> Set<String> {
        Set(try listAll("list the networks of \(uri)", { virConnectListAllNetworks(handle, $0, 0) }, free: virNetworkFree) {
            virNetworkGetName($0).map { String(cString: $0) } ?? ""
        })
    }

    /// Runs one of libvirt's `virConnectListAll…` calls, reads each object, frees them all.
    func listAll<Item>(
        _ operation: @autoclosure () -> String, _ list: (UnsafeMutablePointer<UnsafeMutablePointer<OpaquePointer?>?>) -> Int32,
        free release: (OpaquePointer?) -> Int32, _ read: (OpaquePointer) throws(LibvirtError) -> Item
    ) throws(LibvirtError) -> [Item] {
        var objects: UnsafeMutablePointer<OpaquePointer?>?
        let count = list(&objects)
        try check(count, operation())
        defer {
            for index in 0..<Int(count) { _ = release(objects?[index]) }
            free(objects)
        }
        var items: [Item] = []
        for index in 0..<Int(count) {
            guard let object = objects?[index] else { continue }
            items.append(try read(object))
        }
        return items
    }

    private func withDomain(_ name: String, _ verb: String, _ call: (OpaquePointer) -> Int32) throws(LibvirtError) {
        guard let domain = virDomainLookupByName(handle, name) else { throw failure("\(verb) domain \(name)") }
        defer { virDomainFree(domain) }
        try check(call(domain), "\(verb) domain \(name)")
    }

    private func info(_ domain: OpaquePointer) throws(LibvirtError) -> DomainInfo {
        let name = virDomainGetName(domain).map { String(cString: $0) } ?? ""
        var uuid = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        try check(virDomainGetUUIDString(domain, &uuid), "read the uuid of \(name)")
        var state: Int32 = 0, reason: Int32 = 0
        try check(virDomainGetState(domain, &state, &reason, 0), "read the state of \(name)")
        var autostart: Int32 = 0
        try check(virDomainGetAutostart(domain, &autostart), "read autostart of \(name)")
        guard let xml = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE.rawValue) else {
            throw failure("read the definition of \(name)")
        }
        defer { free(xml) }
        let mapped: DomainInfo.State =
            switch UInt32(state) {
            case VIR_DOMAIN_RUNNING.rawValue, VIR_DOMAIN_BLOCKED.rawValue: .running
            case VIR_DOMAIN_SHUTOFF.rawValue, VIR_DOMAIN_SHUTDOWN.rawValue, VIR_DOMAIN_CRASHED.rawValue: .stopped
            case VIR_DOMAIN_PAUSED.rawValue, VIR_DOMAIN_PMSUSPENDED.rawValue: .paused
            default: .other
            }
        var liveXML: String?
        if mapped != .stopped, let live = virDomainGetXMLDesc(domain, 0) {
            liveXML = String(cString: live)
            free(live)
        }
        return DomainInfo(name: name, uuid: String(cString: uuid), state: mapped, autostart: autostart != 0,
                          xml: String(cString: xml), liveXML: liveXML)
    }
}
