import Foundation
import Providers
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM or SIGINT while a one-shot run stages Images: what the download wrote so far is
/// removed (curl dies with the run by itself), then the process ends with the status a shell
/// gives a process the signal ended (128 + the signal). Children are spawned with these
/// signals at their default (``Basics/Spawn``).
public enum InterruptCleanup {
    /// Installs the handlers for the rest of the process's life; keep what it returns.
    public static func install(stateDirectory: String) -> [any DispatchSourceSignal] {
        let staging = ImageStaging(directory: stateDirectory + "/images", progress: { _ in })
        return [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)  // delivered to the source below instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                staging.removeLeftovers()
                // Not raise(3): the handler's thread (and Dispatch's others) may block it.
                _exit(128 + number)
            }
            source.resume()
            return source
        }
    }
}
