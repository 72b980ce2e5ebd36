/// A libvirt domain reconcile defines and keeps as declared.
public struct VirtualMachine: Sendable, Hashable {
    public enum PowerState: String, Sendable, Hashable, CaseIterable {
        case running, stopped
    }

    /// Whether reconcile may restart the VM to apply a change libvirt cannot make live.
    public enum RestartPolicy: String, Sendable, Hashable, CaseIterable {
        case never, allowed
    }

    public struct Disk: Sendable, Hashable {
        public var name: String
        public var pool: String
        public var size: ByteSize
        /// A volume in the same pool used as the qcow2 backing file.
        public var image: String?
        /// The volume's name in the pool when it is not `<vm>-<name>` (an existing volume
        /// taken over, e.g. from `reconcile import`).
        public var volume: String?
    }

    public struct Interface: Sendable, Hashable {
        public var network: String
        public var mac: MACAddress
        public var ip: IPv4Address?
    }

    public var name: String
    /// The domain UUID, lower case; libvirt picks one when absent.
    public var uuid: String?
    /// The Host this VM runs on; nil only when no Host document exists.
    public var host: String?
    public var memory: ByteSize
    public var vcpus: Int
    public var state: PowerState
    public var autostart: Bool
    public var disks: [Disk]
    public var interfaces: [Interface]
    public var vnc: Bool
    public var restartPolicy: RestartPolicy
    /// Delete the VM's volumes when the VM is removed from the desired state.
    public var deleteDisks: Bool
    /// First-boot configuration; its seed goes into the pool of the first disk.
    public var cloudInit: CloudInit?
    public var location: SourceLocation

    /// The name of `disk`'s volume in its pool: `volume`, or `<vm>-<disk>`.
    public func volumeName(of disk: Disk) -> String { disk.volume ?? "\(name)-\(disk.name)" }
}
