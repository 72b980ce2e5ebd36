import Basics
import Engine
import Foundation

/// What both DHCP servers' providers share about the file reconcile writes their reservations
/// to (dhcpd's hosts file, Kea's reservations list): whose it is, and putting back what it held
/// when the server refuses a change.
struct ReservationsFile {
    let path: String
    /// The type of the file's own resource (`dhcp_hosts_file`, `kea_reservations_file`).
    let type: String

    /// The file as a resource of its own when reconcile may not simply write it: it exists
    /// without reconcile's header (`foreign`: someone else's file). Taken over only with
    /// `adopt`; `entries` names what it holds and becomes reconcile's (`host blocks`), `owner`
    /// whose it was, as the plan shows it.
    func ownership(foreign: Bool, adopt: Bool, entries: String, owner: String = "not reconcile", notifies: [Notify] = []) -> Resource? {
        guard foreign else { return nil }
        let id = ResourceID(type, path)
        guard adopt else {
            return Resource(id, action: .update, conflict: "\(path) exists and was not written by reconcile (it does not start with reconcile's header); "
                                + "choose another hostsFile, or run with --adopt to take it over (its \(entries) become reconcile's)",
                            isInventoried: false)
        }
        return Resource(id, action: .update, changes: [PropertyChange("owner", from: owner, to: "reconcile (adopted)")], notifies: notifies,
                        isInventoried: false)
    }

    /// Puts back what the file held before this run; removes it when there was none (only
    /// "already gone" counts as put back).
    func restore(_ previous: String?) throws {
        if let previous {
            try AtomicFile.write(Data(previous.utf8), to: path)
        } else {
            try Syscall.unlinkIfPresent(path)
        }
    }
}
