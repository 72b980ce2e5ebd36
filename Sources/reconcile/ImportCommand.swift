import ArgumentParser
import DesiredState
import Engine
import Foundation
import Import
import Providers
import Runs

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write the desired state of a node that already runs: its VMs, pairs, rules and reservations.",
        discussion: """
            Reads, once each and as the node's Host says, its libvirt domains, its iptables \
            rules and NAT (iptables-save in the Host's namespace) and its dhcpd.conf with every \
            file it includes, and writes a desired state to --out: hosts.yaml (the node's \
            Host), networks.yaml (a Network per bridge, CIDR and gateway from dhcpd's subnet), \
            vms/NAME.yaml per domain (the VM with its NICs — each address from its MAC's \
            reservation — disks as pool volumes, its IP pairs and firewall rules) and \
            dhcp-hosts.yaml (reservations no VM holds). It understands per-VM chains reached \
            by `-d VM -j CHAIN`, ACCEPT rules with -d in FORWARD, DNAT/SNAT pairs and host \
            blocks. Whatever it cannot map is listed with where it was; nothing is dropped \
            silently. Nothing on the node is changed. The output is checked as `reconcile \
            validate` would check it.

            The node's Host comes the usual way (--dir or --repo): a desired state holding \
            only Hosts is enough. Review the files, commit them, then take the node over \
            with `reconcile --adopt`.

            Examples:
              reconcile import --dir bootstrap --node hv1 --out imported
              reconcile import --dir bootstrap --node hv1 --match '^cpro' --out imported --output json

            Exits 0 when written, 64 when --out is not empty or --node unknown, 65 when the \
            node's state does not make a valid desired state (the errors say why), 69 when \
            the desired state or the node cannot be read.
            """
    )

    @OptionGroup var source: SourceOptions
    @OptionGroup var state: StateOptions

    @Option(help: "The declared Host to import (needed when several are declared).")
    var node: String?

    @Option(help: "The directory to write; it must be empty or not exist.")
    var out: String

    @Option(help: "Only domains whose name this regular expression matches (anywhere in it: anchor with ^ and $).")
    var match: String?

    @Option(help: "text or json.")
    var output: OutputFormat = .text

    func run() async throws {
        let matcher = try ExitStatus.usageOnFailure { try match.map { try Regex($0) } }
        try ExitStatus.usageOnFailure { try Self.checkEmpty(out) }
        let loaded: DesiredStateSource.Loaded
        do {
            let (lock, _) = try await state.open(lockTimeout: 30)
            defer { _ = lock }
            loaded = try source.source().load(stateDirectory: state.stateDir)
        } catch let failure as DesiredStateSource.Failure {
            Terminal.printError(failure.description)
            throw failure.invalid == nil ? ExitStatus.sourceUnavailable : ExitStatus.invalidDesiredState
        }
        let host = try ExitStatus.usageOnFailure { try NodeSelection.host(named: node, in: loaded.state) }
        let pattern = matcher.map { UncheckedSendableRegex(regex: $0) }
        let importer = CloudImporter(node: host, includes: { name in pattern.map { (try? $0.regex.firstMatch(in: name)) != nil } ?? true })
        let cloud: ImportedCloud
        do {
            cloud = try await importer.run()
        } catch {
            Terminal.printError("cannot read \(host.name): \(error)")
            throw ExitStatus.sourceUnavailable
        }
        let written = try cloud.write(to: out)
        switch output {
        case .text:
            print(cloud.summary(out))
            for item in cloud.unmapped { print("  \(item.source): \(item.text)\n      \(item.why)") }
            if !cloud.renamed.isEmpty { print("renamed, so that no two objects of a kind share a name:") }
            for item in cloud.renamed { print("  \(item.kind) \(item.from) → \(item.to): \(item.why)") }
        case .json:
            printJSON(ImportReport(directory: out, files: written, vms: cloud.vms.count, unmapped: cloud.unmapped, renamed: cloud.renamed))
        }
        // The output must be a desired state reconcile accepts as it is.
        do {
            _ = try DesiredState.load(directory: out)
        } catch let invalid as InvalidDesiredState {
            Terminal.printError(invalid.diagnostics.map(\.description).joined(separator: "\n")
                                + "\n\(out): the imported state is not valid as written; fix the node or the files before committing them")
            throw ExitStatus.invalidDesiredState
        }
    }

    static func checkEmpty(_ directory: String) throws {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard entries.isEmpty else { throw RunError("--out \(directory) is not empty; import writes into an empty or new directory") }
    }
}

/// A compiled `--match`, read from one task at a time.
private struct UncheckedSendableRegex: @unchecked Sendable {
    var regex: Regex<AnyRegexOutput>
}

/// `reconcile import --output json`.
struct ImportReport: Encodable {
    var directory: String
    var files: [String]
    var vms: Int
    var unmapped: [ImportedCloud.Unmapped]
    var renamed: [ImportedCloud.Renamed]
}
