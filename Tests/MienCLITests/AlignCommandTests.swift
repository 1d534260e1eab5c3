import Foundation
import MienImages
import MienTestSupport
import XCTest

/// `mien align`: a tree of face crops written again, realigned, with the same tree; a rerun
/// goes on where the last stopped; bad input is one line and writes nothing.
final class AlignCommandTests: XCTestCase {
    /// Two class folders of FER-2013 test faces (the photos fixture's originals).
    func dataset() throws -> URL {
        let root = try makeTemporaryFolder("mien-align")
        let source = root.appendingPathComponent("faces")
        for (label, names) in [("angry", ["face_00_0", "face_01_0", "face_01_1"]), ("happy", ["face_02_0", "face_02_1"])] {
            let folder = source.appendingPathComponent(label)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for name in names {
                try FileManager.default.copyItem(atPath: Fixtures.path("mtcnn/photos/\(name).png"),
                                                 toPath: folder.appendingPathComponent(name + ".png").path)
            }
        }
        return source
    }

    func testTreeIsRealignedAndARerunGoesOn() throws {
        let source = try dataset()
        let output = source.deletingLastPathComponent().appendingPathComponent("aligned")
        let first = try runMien(["align", source.path, "--output", output.path, "--size", "40"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("of 5 faces realigned into \(output.path)"), first.stdout)
        for (label, name) in [("angry", "face_00_0"), ("angry", "face_01_1"), ("happy", "face_02_1")] {
            let image = try ImageDecoder.decode(contentsOf: output.appendingPathComponent("\(label)/\(name).png").path)
            XCTAssertEqual([image.width, image.height, image.channels], [40, 40, 1], name)
        }
        let written = try FileManager.default.subpathsOfDirectory(atPath: output.path).filter { $0.hasSuffix(".png") }
        XCTAssertEqual(written.count, 5, "\(written)")
        XCTAssertFalse(written.contains { $0.contains(".tmp") }, "no temporary file left: \(written)")

        // One output removed: the rerun writes only it.
        try FileManager.default.removeItem(at: output.appendingPathComponent("happy/face_02_0.png"))
        let second = try runMien(["align", source.path, "-o", output.path, "--size", "40"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("4 of 5 faces already in"), second.stderr)
        XCTAssertTrue(second.stdout.contains("of 1 faces realigned"), second.stdout)
    }

    /// An unreadable image is skipped with a warning naming it (--strict: an error); the
    /// wrong folders and options are refused in one line, before anything is written.
    func testBadInput() throws {
        let source = try dataset()
        let output = source.deletingLastPathComponent().appendingPathComponent("aligned")
        let broken = source.appendingPathComponent("happy/broken.png").path
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: broken))
        let skipped = try runMien(["align", source.path, "-o", output.path])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("warning: \(broken): "), skipped.stderr)
        XCTAssertTrue(skipped.stdout.contains("1 unreadable, skipped"), skipped.stdout)

        let strictOutput = source.deletingLastPathComponent().appendingPathComponent("strict")
        let strict = try runMien(["align", source.path, "-o", strictOutput.path, "--strict"])
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.stderr.hasPrefix("error: \(broken): "), strict.stderr)

        let fifo = source.appendingPathComponent("angry/pipe.png").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        try FileManager.default.removeItem(atPath: broken)
        let piped = try runMien(["align", source.path, "-o", strictOutput.path, "--strict"])
        XCTAssertNotEqual(piped.status, 0)
        XCTAssertTrue(piped.stderr.contains("\(fifo): ") && piped.stderr.contains("FIFO"), piped.stderr)
        try FileManager.default.removeItem(atPath: fifo)

        let empty = source.deletingLastPathComponent().appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: false)
        for (arguments, message) in [
            (["align", empty.path, "-o", output.path], "holds no .jpg, .jpeg or .png images"),
            (["align", source.appendingPathComponent("missing").path, "-o", output.path], "not a folder"),
            (["align", source.path, "-o", source.appendingPathComponent("angry/out").path], "lies inside"),
            (["align", source.path, "-o", output.path, "--size", "4"], "--size"),
            (["align", source.path, "-o", output.path, "--unfound", "maybe"], "--unfound"),
        ] {
            let result = try runMien(arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: source.appendingPathComponent("angry/out").path))
    }
}
