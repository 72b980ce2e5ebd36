import Basics
import Netfilter
import DesiredState
import Engine
import Foundation

/// The interfaces of a firewall host (its namespace), and the addresses reconcile added to any
/// of them, labelled `<interface>:rc`: after `publicInterface` changes, the old interface's
/// addresses are still ours to remove. Both firewall backends put pairs' public addresses
/// here, and forget the tracked connections of pairs they change, with the same steps.
struct PublicAddresses: Equatable {
    /// A labelled public address left on an interface without its pair (e.g. after a crash,
    /// or when the public interface changed).
    static let resourceType = "public_address"

    var interfaces: Set<String> = []
    /// Address → the interface it is on.
    var ours: [String: String] = [:]
    /// Addresses someone else put on an interface (without our label) → the interface.
    var others: [String: String] = [:]

    /// Ours on `interface`; nil when there is no such interface.
    func on(_ interface: String) -> Set<String>? {
        guard interfaces.contains(interface) else { return nil }
        return Set(ours.filter { $0.value == interface }.keys)
    }

    /// Every address on `interface`, ours or not: a pair whose public address is already there
    /// (put by hand before reconcile took the firewall over) needs none added. Only ours are
    /// ever removed.
    func present(on interface: String) -> Set<String>? {
        on(interface).map { $0.union(others.filter { $0.value == interface }.keys) }
    }

    /// Every interface and our labelled addresses, from one `ip -batch` (links, then IPv4 addresses).
    static func read(_ runner: CommandRunner) throws -> PublicAddresses {
        parse(try runner.run(["ip", "-o", "-4", "-batch", "-"], input: Data("link show\naddr show\n".utf8)))
    }

    /// Parses `ip -o link show` and `ip -o -4 addr show` lines, as UTF-8 bytes: thousands of
    /// pairs mean thousands of lines. A link line is `N: name[@peer]: <FLAGS> …`; an address
    /// line `N: name    inet A/P … label`, where reconcile's labels end in `:rc` (`ip -o`
    /// may append its line continuation `\`).
    static func parse(_ shown: String) -> PublicAddresses {
        var result = PublicAddresses()
        let suffix = Array(":rc".utf8)
        for line in shown.utf8.split(separator: UInt8(ascii: "\n")) {
            let words = line.split(separator: UInt8(ascii: " "))
            guard words.count >= 3 else { continue }
            if words[2].first == UInt8(ascii: "<") {
                let name = words[1].prefix { $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "@") }
                result.interfaces.insert(String(decoding: name, as: UTF8.self))
                continue
            }
            guard let inet = words.firstIndex(where: { $0.elementsEqual("inet".utf8) }), inet + 1 < words.count else { continue }
            let interface = String(decoding: words[1], as: UTF8.self)
            let address = String(decoding: words[inet + 1].prefix { $0 != UInt8(ascii: "/") }, as: UTF8.self)
            if words[inet + 1].suffix(3).elementsEqual("/32".utf8) { result.others[address] = interface }
            for word in words[(inet + 2)...] {
                let label = word.last == UInt8(ascii: "\\") ? word.dropLast() : word[...]
                guard label.count > suffix.count, label.suffix(suffix.count).elementsEqual(suffix),
                      label.dropLast(suffix.count).elementsEqual(interface.utf8) else { continue }
                result.ours[address] = interface
                result.others[address] = nil
            }
        }
        return result
    }

    enum Placement {
        case present
        /// The address is to be added: the plan's change for it.
        case missing(PropertyChange)
        /// It cannot be placed: why.
        case conflict(String)
    }

    /// Where a pair's public address stands on `node`, given our addresses on its public
    /// interface (nil when that interface does not exist).
    /// - Parameter ours: the addresses on the public interface a pair may count as its own.
    static func placement(of pair: IPPair, on node: Node, ours: Set<String>?) -> Placement {
        guard let interface = node.publicInterface else {
            return .conflict("host \(node.name) has the firewall role but no publicInterface for \(pair.publicIP)")
        }
        guard let ours else { return .conflict("public interface \(interface) does not exist on host \(node.name)") }
        return ours.contains(pair.publicIP.description) ? .present : .missing(PropertyChange("address", from: nil, to: "\(pair.publicIP) on \(interface)"))
    }

    static func addition(_ address: String, on interface: String) -> Step { .address(.add(address: address, interface: interface)) }

    static func removal(_ address: String, on interface: String) -> Step { .address(.remove(address: address, interface: interface)) }

    /// What a pair's resource does beside its NAT, on either backend: its public address added
    /// on `interface` where it is missing, removed with the pair when it is one of ours, and the
    /// connections tracked under the pair's live DNAT (`liveDNAT`: public → private) forgotten
    /// when the pair changes or goes, so that packets follow the new mapping.
    /// - Parameter present: the addresses on the interface (nil: it does not exist).
    /// - Parameter ours: the addresses labelled as reconcile's.
    static func pairSteps(wanted pair: IPPair?, action: Resource.Action, liveDNAT: [(public: String, private: String)],
                          interface: String, present: Set<String>?, ours: Set<String>?) -> [Step] {
        var steps: [Step] = []
        if let address = pair?.publicIP.description, present?.contains(address) == false {
            steps.append(addition(address, on: interface))
        }
        if action == .delete, let address = liveDNAT.first?.public, ours?.contains(address) == true {
            steps.append(removal(address, on: interface))
        }
        if action != .create {
            for mapping in liveDNAT { steps += [.address(.forgetTo(address: mapping.public)), .address(.forgetFrom(address: mapping.private))] }
        }
        return steps
    }

    static let batchCommand = ["ip", "-batch", "-"]

    /// The input of the one `ip -batch` that makes the address steps among `steps` (nil: none):
    /// thousands of pairs must not mean thousands of processes.
    static func batch(_ steps: [Step]) -> String? {
        let lines = steps.compactMap { step -> String? in
            guard case .address(let address) = step else { return nil }
            return address.body
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n") + "\n"
    }

    /// Runs the address steps among `steps` in one `ip -batch`.
    static func change(_ steps: [Step], runner: CommandRunner) async throws {
        guard let input = batch(steps) else { return }
        try await runner.run(batchCommand, input: Data(input.utf8))
    }

    /// The tracked connections the steps say to forget: to public addresses, from private ones.
    static func forgetting(_ steps: [Step]) -> (to: Set<String>, from: Set<String>) {
        var to: Set<String> = [], from: Set<String> = []
        for case .address(let step) in steps {
            switch step {
            case .forgetTo(let address): to.insert(address)
            case .forgetFrom(let address): from.insert(address)
            case .add, .remove: continue
            }
        }
        return (to, from)
    }

    /// Forgetting them, as ``forgetConnections(_:runner:)`` does it (nil: nothing to forget).
    static func forgetEffect(_ steps: [Step]) -> Effect? {
        let (to, from) = forgetting(steps)
        guard !to.isEmpty || !from.isEmpty else { return nil }
        return Effect("forget tracked connections (netlink)", input: (to.sorted().map { "to \($0)\n" } + from.sorted().map { "from \($0)\n" }).joined())
    }

    /// Forgets the tracked connections the steps name, so packets follow the new rules: one
    /// dump of the runner's namespace's table, then each match deleted by its tuple (800 removed
    /// pairs once took 1,600 `conntrack -D` processes and 88 s; one `conntrack --load-file` of
    /// them still 39 s, as the tool dumps the table for each deletion).
    static func forgetConnections(_ steps: [Step], runner: CommandRunner) async throws {
        guard let effect = forgetEffect(steps) else { return }
        runner.recorder?.record(effect)
        let (to, from) = forgetting(steps)
        _ = try await ConnectionTable.forget(destinations: to, sources: from, netns: runner.netns)
    }
}
