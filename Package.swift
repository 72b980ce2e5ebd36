// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "reconcile",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "reconcile", targets: ["reconcile"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    ],
    targets: [
        // libyaml's C API (Debian's libyaml-dev); only the YAML module imports it.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // YAML documents as node trees with source marks, parsed with libyaml's event API.
        .target(name: "YAML", dependencies: ["CYAML"]),
        // libgit2's C API (Debian's libgit2-dev); only the Git module imports it.
        .systemLibrary(name: "CLibgit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        // A bare mirror of the desired-state repository: fetch, resolve refs, read trees.
        .target(name: "Git", dependencies: ["CLibgit2", "Basics", .product(name: "Crypto", package: "swift-crypto")]),
        // libvirt's C API (Debian's libvirt-dev); only the Libvirt module imports it.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        // Safe Swift over libvirt: connections, domains; errors read on the failing thread; a
        // session's calls on a queue of their own, off the cooperative pool.
        .target(name: "Libvirt", dependencies: ["CLibvirt", "Basics"]),
        // libnetfilter_conntrack, libnftnl and libmnl (Debian's libnetfilter-conntrack-dev, libnftnl-dev,
        // libmnl-dev); only the Netfilter module imports them.
        .systemLibrary(name: "CNetfilter", pkgConfig: "libnetfilter_conntrack",
                       providers: [.apt(["libnetfilter-conntrack-dev", "libnftnl-dev", "libmnl-dev"])]),
        // Forgetting tracked connections: one dump of a namespace's table, then deletions by tuple.
        .target(name: "Netfilter", dependencies: ["CNetfilter", "Basics"]),
        // glibc's <malloc.h> (malloc_trim), for the daemon's heap between runs.
        .systemLibrary(name: "CMalloc"),
        // Command runner (argument arrays, never a shell), atomic file writes, the state lock.
        .target(name: "Basics", dependencies: ["CMalloc"]),
        // The desired-state model: kinds, loading from a directory, validation with positions.
        .target(name: "DesiredState", dependencies: ["Basics", "YAML", .product(name: "Crypto", package: "swift-crypto")]),
        // Resources, plans, the converge loop, notifications, pruning guards, run reports.
        .target(name: "Engine", dependencies: ["Basics", "DesiredState", .product(name: "Crypto", package: "swift-crypto")]),
        // Run history and the inventory of what reconcile created, in SQLite.
        .target(name: "RunLog", dependencies: ["Basics", "Engine", .product(name: "GRDB", package: "GRDB.swift")]),
        // The providers, by family: VMs with their images and cloud-init seeds (libvirt); firewall
        // rules and NAT (iptables, nftables); reservations (ISC dhcpd, Kea); names (BIND, by
        // RFC 2136 updates).
        .target(name: "Providers", dependencies: ["Basics", "DesiredState", "Netfilter", "Engine", "Libvirt", .product(name: "Crypto", package: "swift-crypto")]),
        // `reconcile import`: a running node's domains, iptables rules and reservations written
        // as desired state (a CLI feature, not part of a run).
        .target(name: "Import", dependencies: ["Basics", "DesiredState", "Engine", "Libvirt", "Providers"]),
        // One run from desired-state source to run record, as the CLI and the daemon start it.
        .target(name: "Runs", dependencies: ["Basics", "DesiredState", "Engine", "Git", "Netfilter", "Providers", "RunLog"]),
        // The daemon: periodic and webhook-triggered runs, metrics, status page.
        .target(
            name: "Daemon",
            dependencies: [
                "Runs", "Engine", "RunLog", "Basics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The command-line tool: parses arguments, prints, hands off to the library modules.
        .executableTarget(
            name: "reconcile",
            dependencies: [
                "Basics", "DesiredState", "Engine", "Git", "Import", "Providers", "RunLog", "Runs", "Daemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        .testTarget(name: "DesiredStateTests", dependencies: ["Basics", "DesiredState"], exclude: ["SchemaCorpus"]),
        .testTarget(name: "BasicsTests", dependencies: ["Basics", "TestSupport"]),
        .testTarget(name: "NetfilterTests", dependencies: ["Netfilter", "Basics", "TestSupport"]),
        .testTarget(name: "GitTests", dependencies: ["Git", "Basics"]),
        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Basics", "Engine", "RunLog"]),
        .testTarget(name: "RunLogTests", dependencies: ["RunLog"]),

        // Namespaces, bridges and storage pools made for one test and removed after it.
        .target(name: "TestSupport", dependencies: ["Basics", "Libvirt"], path: "Tests/TestSupport"),
        .testTarget(name: "ProvidersTests", dependencies: ["Basics", "Providers", "Netfilter", "RunLog", "DesiredState", "Libvirt", "TestSupport"]),
        .testTarget(name: "ImportTests", dependencies: ["Import", "Providers", "TestSupport"]),
        .testTarget(name: "ReconcileTests", dependencies: ["reconcile", "Basics", "Daemon", "Engine", "Libvirt", "RunLog", "Runs", "TestSupport"]),
    ]
)
