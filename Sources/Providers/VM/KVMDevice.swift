#if canImport(Glibc)
import Glibc
#endif

/// Whether QEMU, which libvirt runs as an unprivileged user, may open `/dev/kvm`: the
/// device exists and is read-write for everyone or for the `kvm` group (Debian's udev rule).
/// A root-only device (as in many containers) means TCG.
enum KVMDevice {
    static var usableByQEMU: Bool {
        var info = stat()
        guard stat("/dev/kvm", &info) == 0 else { return false }
        if info.st_mode & 0o006 == 0o006 { return true }
        guard info.st_mode & 0o060 == 0o060, let group = getgrgid(info.st_gid) else { return false }
        return String(cString: group.pointee.gr_name) == "kvm"
    }
}
