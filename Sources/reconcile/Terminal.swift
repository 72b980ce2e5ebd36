import Basics
import Foundation

/// What the standard output is connected to.
enum Terminal {
    /// Colour only on a terminal, and never with NO_COLOR set (https://no-color.org).
    static var wantsColor: Bool {
        isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("reconcile: \(message.escapingControlCharacters)\n".utf8))
    }
}
