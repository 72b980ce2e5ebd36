import Basics
#if canImport(Glibc)
import Glibc
#endif

/// Whether QEMU, which libvirt runs as an unprivileged user, may open `/dev/kvm`: the
/// device exists and is read-write for everyone or for the `kvm` group (Debian's udev rule).
/// A root-only device (as in many containers) means TCG.
enum KVMDevice {
    static var usableByQEMU: Bool {
        // No device, or one that cannot be looked at: TCG.
        guard let info = try? Syscall.status("/dev/kvm") else { return false }
        if info.st_mode & 0o006 == 0o006 { return true }
        guard info.st_mode & 0o060 == 0o060, let group = getgrgid(info.st_gid) else { return false }
        return String(cString: group.pointee.gr_name) == "kvm"
    }
}
