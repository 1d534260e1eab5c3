import Foundation
@testable import MienFiles
import MienTestSupport
import XCTest

extension FileError: PathMessageError {}

/// Untrusted paths: regular files only, never more than the limit, and writes that leave
/// either the whole checked file or nothing.
final class MienFilesTests: XCTestCase {
    func testReadsRegularFilesWithinTheLimit() throws {
        let folder = try makeTemporaryFolder("mien-files")
        let path = folder.appendingPathComponent("a.txt").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try RegularFile.read(path, limit: 5), Array("hello".utf8))
        XCTAssertEqual(try RegularFile.text(path, limit: 100), "hello")
        XCTAssertEqual(try RegularFile.size(path), 5)
        assertError(caught(FileError.self) { try RegularFile.read(path, limit: 4, what: "the note") }, path: path,
                    contains: ["the note has 5 bytes, more than the 4-byte limit"])
        try Data([0xFF, 0xFE]).write(to: URL(fileURLWithPath: path))
        assertError(caught(FileError.self) { try RegularFile.text(path, limit: 100) }, path: path, contains: ["not UTF-8"])
    }

    /// A FIFO, a device, a folder, a missing path: refused at once, never read (a FIFO would
    /// block forever, /dev/zero never ends).
    func testRefusesWhatIsNotARegularFile() throws {
        let folder = try makeTemporaryFolder("mien-files")
        let fifo = folder.appendingPathComponent("pipe.jpg").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let zero = folder.appendingPathComponent("zero.jpg").path
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        for (path, fragment) in [(fifo, "is a FIFO (named pipe), not a regular file"),
                                 (zero, "is a character device, not a regular file"),
                                 (folder.path, "is a directory, not a regular file"),
                                 (folder.appendingPathComponent("none").path, "no such file"),
                                 ("", "empty path")] {
            assertError(caught(FileError.self) { try RegularFile.read(path, limit: 1 << 20) }, path: path, contains: [fragment])
            XCTAssertFalse(RegularFile.exists(path), path)
        }
    }

    /// The check runs on the complete temporary file; if it throws, nothing is left behind
    /// and the old file is untouched.
    func testAtomicWriteChecksBeforeTheRename() throws {
        let folder = try makeTemporaryFolder("mien-files")
        let path = folder.appendingPathComponent("model.bin").path
        try AtomicFile.write(Array("old".utf8), to: path)
        struct Bad: Error {}
        var seen: [UInt8] = []
        XCTAssertThrowsError(try AtomicFile.write(Array("new".utf8), to: path) { temporary in
            seen = try RegularFile.read(temporary, limit: 10)
            throw Bad()
        })
        XCTAssertEqual(seen, Array("new".utf8), "the check sees the whole new file")
        XCTAssertEqual(try RegularFile.read(path, limit: 10), Array("old".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["model.bin"])
        try AtomicFile.write(Array("new".utf8), to: path) { _ in }
        XCTAssertEqual(try RegularFile.read(path, limit: 10), Array("new".utf8))
        assertError(caught(FileError.self) { try AtomicFile.write([], to: folder.path + "/no/such/dir/x") },
                    path: folder.path + "/no/such/dir/x", contains: ["cannot create a temporary file"])
    }

    /// A registered temporary file is what the signal handler removes; a removed
    /// registration is not (the file was renamed into place). The handler itself kills the
    /// process, so the test calls what it calls.
    func testSignalCleanupRemovesRegisteredFilesOnly() throws {
        let folder = try makeTemporaryFolder("mien-files-signal")
        let pending = folder.appendingPathComponent(".m.mien.tmp-1").path
        let done = folder.appendingPathComponent("m.mien").path
        for path in [pending, done] { try Data("x".utf8).write(to: URL(fileURLWithPath: path)) }
        let slot = try XCTUnwrap(TemporaryFiles.register(pending))
        let renamed = TemporaryFiles.register(done)
        TemporaryFiles.remove(renamed)
        TemporaryFiles.unlinkAll()
        TemporaryFiles.remove(slot)
        XCTAssertFalse(FileManager.default.fileExists(atPath: pending))
        XCTAssertTrue(FileManager.default.fileExists(atPath: done))
    }
}
