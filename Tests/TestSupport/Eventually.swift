// Polling for a condition, for tests that wait on another thread or process.
import Foundation

/// Polls `condition` every 20 ms until it holds or `timeout` passes; one last
/// look after the deadline. Returns whether it held.
public func eventually(timeout: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}
