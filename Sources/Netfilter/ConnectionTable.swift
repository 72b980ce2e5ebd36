import Basics
import CNetfilter
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's table of tracked connections in one network namespace, through
/// libnetfilter_conntrack: one dump, then each matching entry deleted by its tuple.
///
/// The `conntrack` tool dumps the whole table for every `-D` it is given, and the table's
/// hash is shared by every namespace of the host: 1,600 deletions took 23 s that way.
public enum ConnectionTable {
    /// Deletes the IPv4 connections whose original destination is one of `destinations` or
    /// whose original source is one of `sources`, in network namespace `netns` (empty: this
    /// process's); returns how many were deleted.
    ///
    /// Runs on a thread of its own, which enters the namespace (setns(2) changes only the
    /// calling thread) and ends with the work.
    public static func forget(destinations: Set<String>, sources: Set<String>, netns: String = "") async throws -> Int {
        let wanted = try Match(destinations: destinations, sources: sources)
        return try await EarlyRead { try inNamespace(netns) { () throws(NetfilterFailure) -> Int in try delete(wanted) } }.value()
    }

    /// Addresses in network byte order, as the kernel's tuples hold them.
    struct Match {
        var destinations: Set<UInt32> = []
        var sources: Set<UInt32> = []

        init(destinations: Set<String>, sources: Set<String>) throws(NetfilterFailure) {
            for text in destinations { self.destinations.insert(try Self.address(text)) }
            for text in sources { self.sources.insert(try Self.address(text)) }
        }

        static func address(_ text: String) throws(NetfilterFailure) -> UInt32 {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { throw NetfilterFailure(operation: "parse address \(text)", code: EINVAL) }
            return address.s_addr
        }

        func matches(destination: UInt32, source: UInt32) -> Bool {
            destinations.contains(destination) || sources.contains(source)
        }
    }

    /// Collects the matching entries of one dump, then deletes each.
    private final class Collector {
        let match: Match
        var found: [OpaquePointer] = []

        init(_ match: Match) { self.match = match }

        deinit { found.forEach { nfct_destroy($0) } }
    }

    private static func delete(_ match: Match) throws(NetfilterFailure) -> Int {
        guard let handle = nfct_open(UInt8(CONNTRACK), 0) else { throw NetfilterFailure(operation: "open the conntrack netlink socket", code: errno) }
        defer { nfct_close(handle) }
        let collector = Collector(match)
        let callback: @convention(c) (nf_conntrack_msg_type, OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { _, entry, data in
            guard let entry, let data else { return Int32(NFCT_CB_CONTINUE) }
            let collector = Unmanaged<Collector>.fromOpaque(data).takeUnretainedValue()
            let destination = nfct_get_attr_u32(entry, ATTR_ORIG_IPV4_DST)
            let source = nfct_get_attr_u32(entry, ATTR_ORIG_IPV4_SRC)
            if collector.match.matches(destination: destination, source: source), let copy = nfct_clone(entry) {
                collector.found.append(copy)
            }
            return Int32(NFCT_CB_CONTINUE)
        }
        nfct_callback_register(handle, NFCT_T_ALL, callback, Unmanaged.passUnretained(collector).toOpaque())
        var family = UInt32(AF_INET)
        guard nfct_query(handle, NFCT_Q_DUMP, &family) == 0 else { throw NetfilterFailure(operation: "dump the conntrack table", code: errno) }
        nfct_callback_unregister(handle)
        var deleted = 0
        for entry in collector.found {
            if nfct_query(handle, NFCT_Q_DESTROY, UnsafeRawPointer(entry)) == 0 {
                deleted += 1
            } else if errno != ENOENT {  // gone already (it expired): what we wanted
                throw NetfilterFailure(operation: "delete a tracked connection", code: errno)
            }
        }
        return deleted
    }
}
