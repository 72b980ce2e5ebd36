import Basics
import Foundation

/// `reconcile suspend`: while it holds, the daemon keeps planning (drift stays visible and
/// recorded) but applies nothing. Kept as `suspend.json` in the state directory.
public struct Suspension: Codable, Sendable, Equatable {
    public var reason: String
    public var since: Date
    /// nil: until `reconcile resume`.
    public var until: Date?

    public init(reason: String, since: Date = Date(), until: Date? = nil) {
        self.reason = reason
        self.since = since
        self.until = until
    }

    static func file(_ stateDirectory: String) -> String { stateDirectory + "/suspend.json" }

    /// The suspension in force at `now`, if any (one whose `until` has passed is over).
    public static func current(stateDirectory: String, now: Date = Date()) -> Suspension? {
        guard let data = FileManager.default.contents(atPath: file(stateDirectory)),
              let suspension = try? decoder.decode(Suspension.self, from: data) else { return nil }
        if let until = suspension.until, until <= now { return nil }
        return suspension
    }

    public func save(stateDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        try AtomicFile.write(try encoder.encode(self), to: Self.file(stateDirectory))
    }

    public static func lift(stateDirectory: String) throws {
        if FileManager.default.fileExists(atPath: file(stateDirectory)) {
            try FileManager.default.removeItem(atPath: file(stateDirectory))
        }
    }

    private static let decoder = { let d = JSONDecoder(); d.dateDecodingStrategy = .iso8601; return d }()
    private var encoder: JSONEncoder { let e = JSONEncoder(); e.dateEncodingStrategy = .iso8601; return e }
}
