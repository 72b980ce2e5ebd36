import ArgumentParser

@main
struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Converge libvirt VMs, NAT and firewall rules (nftables or iptables), DHCP reservations (dhcpd or Kea) and DNS records to the state declared in git.",
        discussion: """
            Operators commit YAML describing VirtualMachines (with cloud-init first-boot \
            configuration), Images, IPPairs, FirewallRules, DHCPHosts and DNSRecords; reconcile \
            checks it, shows what differs from the machine and converges.

            Examples:
              reconcile validate desired-state       check the YAML, print what it declares
              reconcile --dry-run                    show the plan, change nothing
              reconcile plan --out p.json            save the plan for review
              reconcile apply p.json                 apply exactly it (exit 3 if stale)
              reconcile                              converge this node now
              reconcile history                      the recorded runs, newest first
              reconcile daemon --repo URL            keep converging (interval, webhook)
              reconcile import --out DIR             a running node's VMs as desired state
              reconcile --adopt                      take such a node over, as planned

            Exit codes: 0 success, 1 a resource failed, 2 dry-run found changes, 3 a saved
            plan is stale, 64 usage, 65 invalid desired state, 69 the desired state could
            not be fetched or read, 75 another run holds the lock, 77 the commit is not
            signed as --verify-signatures asks.
            """,
        version: ReconcileVersion.current,
        subcommands: [RunCommand.self, PlanCommand.self, ApplyCommand.self, ValidateCommand.self, HistoryCommand.self, ShowCommand.self, DaemonCommand.self,
                      SuspendCommand.self, ResumeCommand.self, FetchMirrorCommand.self, ImportCommand.self],
        defaultSubcommand: RunCommand.self
    )
}

/// What `reconcile --version` prints.
enum ReconcileVersion {
    static let current = "0.8.0"
}
