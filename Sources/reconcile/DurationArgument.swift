import ArgumentParser

/// A duration on the command line: a number with a unit (`500ms`, `90s`, `5m`, `1h`), or a
/// bare number of seconds as before (`60`).
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var seconds: Double

    init(seconds: Double) {
        self.seconds = seconds
    }

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        let unit = units.first { argument.hasSuffix($0.suffix) && Double(argument.dropLast($0.suffix.count)) != nil }
        guard let number = Double(unit.map { String(argument.dropLast($0.suffix.count)) } ?? argument),
              number.isFinite, number >= 0 else { return nil }
        seconds = number * (unit?.seconds ?? 1)
    }

    var duration: Duration { .milliseconds(Int64((seconds * 1000).rounded())) }

    var description: String {
        seconds.truncatingRemainder(dividingBy: 60) == 0 && seconds >= 60 ? "\(Int(seconds / 60))m"
            : seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(Int((seconds * 1000).rounded()))ms"
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
