extension YAMLScalar {
    /// What a scalar means under YAML 1.2's core schema.
    public enum Resolution: Sendable, Equatable {
        case null, bool(Bool), int(Int), float, string
    }

    /// The core-schema type of this scalar. Quoted and `!!str`-tagged scalars are always strings.
    ///
    /// See https://yaml.org/spec/1.2.2/#1032-tag-resolution. Integers that do not fit an
    /// `Int` resolve to `.float`: they are numbers, just not usable ones.
    public var resolved: Resolution {
        guard isPlain else { return .string }
        // Most scalars are names and words: one that starts with a letter no null, bool or
        // number starts with is a string, found without the comparisons below.
        if let first = value.utf8.first, Self.startsOnlyStrings(first) { return .string }
        // The words below have 0, 1, 4 or 5 bytes: other lengths are looked up no further.
        switch value.utf8.count {
        case 0, 1, 4, 5: if let word = Self.words[value] { return word }
        default: break
        }
        var text = value
        return text.withUTF8(Self.number)
    }

    /// An integer (decimal, `0o` octal, `0x` hex), a float, or a string.
    private static func number(_ utf8: UnsafeBufferPointer<UInt8>) -> Resolution {
        if isDecimalInteger(utf8) { return Int(String(decoding: utf8, as: UTF8.self)).map(Resolution.int) ?? .float }
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0") {
            let digits = utf8.dropFirst(2)
            if utf8[1] == UInt8(ascii: "o"), digits.allSatisfy({ (0x30...0x37).contains($0) }) {
                return Int(String(decoding: digits, as: UTF8.self), radix: 8).map(Resolution.int) ?? .float
            }
            if utf8[1] == UInt8(ascii: "x"), digits.allSatisfy(\.isHexDigit) {
                return Int(String(decoding: digits, as: UTF8.self), radix: 16).map(Resolution.int) ?? .float
            }
        }
        return isFloat(utf8) ? .float : .string
    }

    /// The words the core schema reads as null, booleans and the float specials.
    private static let words: [String: Resolution] = {
        var words: [String: Resolution] = ["": .null, "~": .null]
        for word in ["null", "Null", "NULL"] { words[word] = .null }
        for word in ["true", "True", "TRUE"] { words[word] = .bool(true) }
        for word in ["false", "False", "FALSE"] { words[word] = .bool(false) }
        for word in [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"] { words[word] = .float }
        return words
    }()

    /// A letter other than the first ones of `null`, `true`, `false` (any case), or a
    /// character no number and no `~` starts with.
    private static func startsOnlyStrings(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"): false
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "/"), UInt8(ascii: "_"): true
        default: false
        }
    }

    /// `[-+]?[0-9]+`
    private static func isDecimalInteger(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        let digits = s.first == UInt8(ascii: "-") || s.first == UInt8(ascii: "+") ? s.dropFirst() : s[...]
        return !digits.isEmpty && digits.allSatisfy(\.isDigit)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    private static func isFloat(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = s.startIndex
        if i < s.endIndex, s[i] == UInt8(ascii: "-") || s[i] == UInt8(ascii: "+") { i += 1 }
        let integerStart = i
        while i < s.endIndex, s[i].isDigit { i += 1 }
        var mantissaDigits = i - integerStart
        if i < s.endIndex, s[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < s.endIndex, s[i].isDigit { i += 1 }
            // "1." is a float, "." is not, ".5" needs its digits.
            if mantissaDigits == 0 && i == fractionStart { return false }
            mantissaDigits += i - fractionStart + 1
        }
        guard mantissaDigits > 0 else { return false }
        if i < s.endIndex, s[i] == UInt8(ascii: "e") || s[i] == UInt8(ascii: "E") {
            i += 1
            if i < s.endIndex, s[i] == UInt8(ascii: "-") || s[i] == UInt8(ascii: "+") { i += 1 }
            let exponentStart = i
            while i < s.endIndex, s[i].isDigit { i += 1 }
            if i == exponentStart { return false }
        }
        return i == s.endIndex
    }
}

extension UInt8 {
    var isDigit: Bool { (0x30...0x39).contains(self) }
    var isHexDigit: Bool { isDigit || (0x41...0x46).contains(self) || (0x61...0x66).contains(self) }
}
