import Basics
import CNetfilter
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a network namespace's netfilter rules stand: nf_tables' generation id (moved by
/// every committed transaction in the namespace, `nft` and iptables-nft alike), with what
/// tells this namespace from any other — its cookie, unique until reboot (a namespace
/// deleted and made again may get the same inode and generation id, never the same cookie),
/// and the boot.
public struct RulesetGeneration: Equatable, Sendable, Codable {
    public var bootID: String
    public var namespaceCookie: UInt64
    public var generation: UInt32

    /// Asks the kernel (NFT_MSG_GETGEN over netlink, through libnftnl and libmnl) from inside
    /// `netns` (empty: this process's namespace), on a thread of its own.
    public static func current(netns: String) throws -> RulesetGeneration {
        let path = "/proc/sys/kernel/random/boot_id"
        let bootID = String(decoding: try BoundedFile.read(path, limit: 64), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard bootID.count == 36 else { throw NetfilterFailure(operation: "read \(path)", code: EIO) }
        let (cookie, generation) = try EarlyRead { try inNamespace(netns) { () throws(NetfilterFailure) in try query() } }.wait()
        return RulesetGeneration(bootID: bootID, namespaceCookie: cookie, generation: generation)
    }

    private static func query() throws(NetfilterFailure) -> (UInt64, UInt32) {
        guard let socket = mnl_socket_open(NETLINK_NETFILTER) else { throw NetfilterFailure(operation: "open a netfilter netlink socket", code: errno) }
        defer { mnl_socket_close(socket) }
        guard mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) >= 0 else { throw NetfilterFailure(operation: "bind the netlink socket", code: errno) }
        var cookie: UInt64 = 0
        var length = socklen_t(MemoryLayout<UInt64>.size)
        guard getsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, reconcile_so_netns_cookie, &cookie, &length) == 0 else {
            throw NetfilterFailure(operation: "read the network namespace's cookie", code: errno)
        }
        var buffer = [CChar](repeating: 0, count: 8192)
        let sequence = UInt32(truncatingIfNeeded: time(nil))
        let sent = buffer.withUnsafeMutableBufferPointer { pointer -> Int in
            guard let header = nftnl_nlmsg_build_hdr(pointer.baseAddress, UInt16(NFT_MSG_GETGEN.rawValue), UInt16(AF_UNSPEC), 0, sequence) else { return -1 }
            return mnl_socket_sendto(socket, header, Int(header.pointee.nlmsg_len))
        }
        guard sent >= 0 else { throw NetfilterFailure(operation: "ask for the nf_tables generation", code: errno) }
        let received = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
        guard received >= 0 else { throw NetfilterFailure(operation: "read the nf_tables generation", code: errno) }
        var generation: UInt32?
        let parsed = withUnsafeMutablePointer(to: &generation) { target in
            buffer.withUnsafeBytes { bytes in
                mnl_cb_run(bytes.baseAddress, received, sequence, mnl_socket_get_portid(socket), { header, data in
                    guard let header, let data, let gen = nftnl_gen_alloc() else { return MNL_CB_ERROR }
                    defer { nftnl_gen_free(gen) }
                    guard nftnl_gen_nlmsg_parse(header, gen) >= 0 else { return MNL_CB_ERROR }
                    data.assumingMemoryBound(to: UInt32?.self).pointee = nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID))
                    return MNL_CB_OK
                }, target)
            }
        }
        guard parsed >= 0, let generation else { throw NetfilterFailure(operation: "parse the nf_tables generation", code: parsed < 0 ? errno : EPROTO) }
        return (cookie, generation)
    }
}
