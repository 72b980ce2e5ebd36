import Basics
import Foundation

/// Writes an executable script to `path`, through a child process: this process never holds
/// the file open for writing. Tests here fork all the time (daemons, `ip netns exec`), a child
/// forked while the file is open inherits the descriptor, and executing a file that any process
/// holds open for writing fails with ETXTBSY ("Text file busy"): a transport script that
/// libvirt could not start made a test fail once in four full runs.
public func writeScript(_ text: String, to path: String) throws {
    _ = try CommandRunner().run(["sh", "-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh", path], input: Data(text.utf8))
}
