import DesiredState
import Engine

/// The providers that manage a host's share, by its roles.
enum Providers {
    static func `for`(_ host: Host) -> [any Provider] {
        []
    }
}
