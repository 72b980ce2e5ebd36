/// A TCP or UDP port, or an inclusive range of them: `443`, `8000-8100`.
public struct PortRange: Sendable, Hashable, CustomStringConvertible {
    public var lower: Int
    public var upper: Int

    public static let valid = 1...65535

    public init(lower: Int, upper: Int) {
        self.lower = lower
        self.upper = upper
    }

    public var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}
