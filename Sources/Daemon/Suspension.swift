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
    ///
    /// Fails closed: only a missing file means "not suspended". A file that cannot be read or
    /// decoded throws, and the daemon then applies nothing (it once read a corrupt file as
    /// "not suspended" and applied).
    public static func current(stateDirectory: String, now: Date = Date()) throws -> Suspension? {
        let path = file(stateDirectory)
        let data: Data
        do {
            data = try BoundedFile.read(path, limit: 1 << 20)
        } catch let error as SystemError where error.code == ENOENT {
            return nil
        } catch {
            throw SuspensionUnreadable(path: path, why: "\(error)")
        }
        let suspension: Suspension
        do {
            suspension = try decoder.decode(Suspension.self, from: data)
        } catch {
            throw SuspensionUnreadable(path: path, why: "not a suspension record (\(error)); fix or remove it with `reconcile resume`")
        }
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

/// `suspend.json` exists but cannot be read: whether the daemon may apply is unknown.
public struct SuspensionUnreadable: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var why: String

    public var description: String { "cannot tell whether runs are suspended: \(path): \(why)" }
}
