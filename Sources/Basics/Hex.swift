/// Lower-case hex digits of bytes (a digest); `String(format:)` costs microseconds per byte on Linux.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits: StaticString = "0123456789abcdef"
    var text: [UInt8] = []
    text.reserveCapacity(bytes.underestimatedCount * 2)
    digits.withUTF8Buffer { digits in
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
    }
    return String(decoding: text, as: UTF8.self)
}
