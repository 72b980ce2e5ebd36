import Basics
import Foundation
import Testing

/// Whole-file reads with a limit: regular files by their size, the kernel's files (which say
/// they are empty) to their end.
@Suite struct BoundedFileTests {
    @Test func regularFilesAreReadWithinTheirLimit() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reconcile-bounded-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("twelve bytes".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try BoundedFile.read(path, limit: 12) == Data("twelve bytes".utf8))
        #expect(throws: BoundedFile.TooLarge.self) { try BoundedFile.read(path, limit: 11) }
    }

    @Test func kernelFilesThatSayTheyAreEmptyAreReadToTheirEnd() throws {
        let bootID = try BoundedFile.read("/proc/sys/kernel/random/boot_id", limit: 64)
        #expect(bootID.count == 37 && bootID.last == UInt8(ascii: "\n"))
        #expect(throws: BoundedFile.TooLarge.self) { try BoundedFile.read("/proc/self/status", limit: 16) }
    }
}
