import Foundation

/// Polls `condition` every 50 ms until it holds or `timeout` seconds have passed; returns
/// whether it holds. Tests wait for the state they need, never for a fixed time.
@discardableResult
public func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}
