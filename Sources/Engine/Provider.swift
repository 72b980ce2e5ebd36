import Basics
import DesiredState

/// One kind of machine state reconcile manages (libvirt, iptables, dhcpd), for one host.
///
/// Contract:
/// - ``plan(_:owned:)`` reads live state in one batch (never one process per object) and
///   changes nothing. It returns a resource for every desired object of its kind, with
///   `action == nil` when the object is as declared, and a `.delete` for every resource of
///   `owned` that is no longer desired and still exists. Each resource with an action carries
///   its exact ``Resource/steps`` and every resource the ``Resource/fingerprint`` of the live
///   state it was computed from. It throws only when the live state cannot be read at all; a
///   problem with one object is that resource's `conflict`. A throw fails only this
///   provider's resources (``declared(_:)`` and its inventory) and those waiting on them; the
///   other providers' go on.
/// - ``converge(_:)`` gets only this provider's resources that need work and whose
///   dependencies succeeded, in dependency order, possibly from a saved plan. It executes
///   their typed ``Step``s (each shared step once) and nothing else: it does not read the
///   desired state, and it keeps nothing for a later call. It reports the error of each
///   resource it could not converge; the rest count as converged.
/// - What a provider may hold across calls is the means to reach the machine (libvirt's
///   session: its connection and queue) and a read ``prefetch()`` started for the next plan;
///   never what a plan read or decided.
/// - ``effects(_:)`` says, without reading anything, what ``converge(_:)`` of a batch sends to
///   the machine, in order; converge sends exactly that (a recording test holds each provider
///   to it). `--show-commands` prints it.
/// - The engine verifies by calling ``plan(_:owned:)`` again: a converged resource that still
///   has an action has failed.
/// - `plan` and `converge` are called from async code that shares the cooperative pool with
///   the daemon's HTTP side: a provider never blocks one of its threads. Commands go through
///   `CommandRunner`'s async methods, libvirt through its `LibvirtSession`, other blocking
///   work through `EarlyRead`; waits are `Task.sleep`.
public protocol Provider: Sendable {
    /// Short name for messages: `libvirt`, `iptables`, `dhcpd`.
    var name: String { get }

    /// The resource types this provider plans and converges, and the handler types it runs.
    var resourceTypes: Set<String> { get }

    func plan(_ desired: DesiredState, owned: Set<ResourceID>) async throws -> [Resource]

    /// The resources ``plan(_:owned:)`` plans for the objects users declare (a VM's domain, a
    /// rule, a reservation, a record set), named from the desired state alone: when live
    /// state cannot be read, each of these is failed with the reason.
    func declared(_ desired: DesiredState) -> [ResourceID]

    /// - Returns: the error text of each resource that failed.
    func converge(_ resources: [Resource]) async -> [ResourceID: String]

    /// What ``converge(_:)`` of this batch does to the machine, in order, byte for byte: the
    /// programs it runs with their input, the files it writes, the messages it sends.
    /// `--show-commands` prints it. Pure: it reads nothing. Only a fallback after a failure
    /// (a file put back, a refused DNS message sent again a set at a time) is not in it.
    func effects(_ batch: [Resource]) -> [Effect]

    /// Runs a handler named by a notification, e.g. `service[dhcpd]`; `notifiedBy` holds the
    /// resources of this run that asked (empty for a handler an earlier run left pending).
    func trigger(_ handler: ResourceID, notifiedBy: [Resource]) async throws

    /// Starts reading live state before the desired state is loaded; the next
    /// ``plan(_:owned:)`` uses that read. Optional: by default, nothing.
    func prefetch()

    /// Whether this provider's changes wait for every change of the providers before it in
    /// the run, and are skipped if one of those fails: a firewall backend being retired
    /// removes its rules only once the new backend's are in place. Default: false.
    var waitsForEarlierProviders: Bool { get }
}

extension Provider {
    public func prefetch() {}
    public var waitsForEarlierProviders: Bool { false }
}
