/// One thing apply does to a machine, as it does it: a program run with its standard input,
/// a file written, a message to a server's socket, a library call.
///
/// A provider says which effects a batch of its resources has (`--show-commands` prints
/// them) and performs exactly those, in that order. Where they are performed — the command
/// runner, the file writer, Kea's control socket — an ``EffectRecorder`` can see each one,
/// which is how tests check that what the plan shows is what apply sends.
public struct Effect: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `nft -f -`, `write /etc/dhcp/reconcile-hosts.conf`, `kea config-reload`.
    public var action: String
    /// What it sends: standard input, a file's content, XML ("" for nothing).
    public var input: String
    /// What it replaces, as the plan read it (a file's content, a domain's definition):
    /// `--show-commands` shows the input as a diff against it. How it is shown, not what is
    /// sent: where an effect is recorded it may not be known.
    public var replacing: String?
    /// Performed at the same time as the effect before it (an `ip -batch` beside an `nft -f`).
    public var alongside: Bool

    public init(_ action: String, input: String = "", replacing: String? = nil, alongside: Bool = false) {
        self.action = action
        self.input = input
        self.replacing = replacing
        self.alongside = alongside
    }

    /// A program's effect: its arguments as it is run (the runner's namespace and directory
    /// are not part of it), and its standard input.
    public init(command arguments: [String], input: String = "", alongside: Bool = false) {
        self.init(arguments.joined(separator: " "), input: input, alongside: alongside)
    }

    public var description: String { input.isEmpty ? action : action + "\n" + input }
}

/// Collects effects as they are performed, in order (for tests: see ``Effect``).
public final class EffectRecorder: Sendable {
    private let recorded = Locked<[Effect]>([])

    public init() {}

    public func record(_ effect: Effect) { recorded.withLock { $0.append(effect) } }

    public var effects: [Effect] { recorded.withLock { $0 } }

    public func clear() { recorded.withLock { $0.removeAll() } }
}
