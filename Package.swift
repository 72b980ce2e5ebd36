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
    ],
    targets: [
        // libyaml's C API (Debian's libyaml-dev); only the YAML module imports it.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // YAML documents as node trees with source marks, parsed with libyaml's event API.
        .target(name: "YAML", dependencies: ["CYAML"]),
        // The desired-state model: kinds, loading from a directory, validation with positions.
        .target(name: "DesiredState", dependencies: ["YAML"]),
        // The command-line tool: parses arguments, prints, hands off to the library modules.
        .executableTarget(
            name: "reconcile",
            dependencies: ["DesiredState", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "YAMLTests", dependencies: ["YAML"]),
        .testTarget(name: "DesiredStateTests", dependencies: ["DesiredState"], exclude: ["SchemaCorpus"]),
        .testTarget(name: "ReconcileTests", dependencies: ["reconcile"]),
    ]
)
