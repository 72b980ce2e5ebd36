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
        switch value {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
             ".nan", ".NaN", ".NAN":
            return .float
        default: break
        }
        let utf8 = Array(value.utf8)
        if Self.isDecimalInteger(utf8) { return Int(value).map(Resolution.int) ?? .float }
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0") {
            let digits = utf8.dropFirst(2)
            if utf8[1] == UInt8(ascii: "o"), digits.allSatisfy({ (0x30...0x37).contains($0) }) {
                return Int(String(decoding: digits, as: UTF8.self), radix: 8).map(Resolution.int) ?? .float
            }
            if utf8[1] == UInt8(ascii: "x"), digits.allSatisfy(\.isHexDigit) {
                return Int(String(decoding: digits, as: UTF8.self), radix: 16).map(Resolution.int) ?? .float
            }
        }
        return Self.isFloat(utf8) ? .float : .string
    }

    /// `[-+]?[0-9]+`
    private static func isDecimalInteger(_ s: [UInt8]) -> Bool {
        let digits = s.first == UInt8(ascii: "-") || s.first == UInt8(ascii: "+") ? s.dropFirst() : s[...]
        return !digits.isEmpty && digits.allSatisfy(\.isDigit)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    private static func isFloat(_ s: [UInt8]) -> Bool {
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
