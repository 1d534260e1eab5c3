import Foundation
import MienHDF5
import MienTestSupport
import XCTest

/// Files held in memory: `HDF5File(image:name:)` opens the bytes of an HDF5 file (the
/// `model.weights.h5` inside a `.keras` zip) and `HDF5Writer(inMemory:)` builds one, both
/// through libhdf5's core driver, never touching the disk.
final class HDF5ImageTests: XCTestCase {
    private func bytes(_ fixture: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hdf5/\(fixture)"))))
    }

    /// The image reads exactly as the file on disk does.
    func testImageReadsLikeTheFile() throws {
        let onDisk = try HDF5File(path: Fixtures.path("hdf5/types.h5"))
        let image = try bytes("types.h5")
        let inMemory = try HDF5File(image: image, name: "types in memory")
        XCTAssertEqual(inMemory.path, "types in memory")
        XCTAssertEqual(inMemory.fileSize, image.count)
        XCTAssertEqual(try inMemory.root.childNames(), try onDisk.root.childNames())
        for name in try onDisk.group("data").childNames() where onDisk.root.isDataset("data/\(name)") {
            let expected = try onDisk.dataset("data/\(name)")
            guard expected.elementType.isNumeric else { continue }
            XCTAssertEqual(try inMemory.dataset("data/\(name)").shape, expected.shape, name)
            XCTAssertEqual(try inMemory.dataset("data/\(name)").readFloats().map(\.bitPattern),
                           try expected.readFloats().map(\.bitPattern), name)
        }
    }

    /// Two images open at once stay two files (libhdf5 would take two of the same name for
    /// one), and a file on disk whose name an image could have had is not touched.
    func testImagesOpenAtOnceStaySeparate() throws {
        let writerA = try HDF5Writer(inMemory: "a")
        try writerA.root.writeDataset("x", shape: [2], values: [1, 2])
        let writerB = try HDF5Writer(inMemory: "b")
        try writerB.root.writeDataset("x", shape: [3], values: [7, 8, 9])
        let a = try HDF5File(image: try writerA.image(), name: "a")
        let b = try HDF5File(image: try writerB.image(), name: "b")
        XCTAssertEqual(try a.dataset("x").readFloats(), [1, 2])
        XCTAssertEqual(try b.dataset("x").readFloats(), [7, 8, 9])
    }

    /// The image is copied: the caller's buffer may go, or change, once the file is open.
    func testImageIsCopied() throws {
        var image = try bytes("types.h5")
        let file = try HDF5File(image: image, name: "copied")
        for i in image.indices { image[i] = 0 }
        XCTAssertEqual(try file.dataset("data/f32").readFloats(), [1.5, -2.25, 0.125, 1024.0])
    }

    /// Bad images give the same errors as bad files, naming the image.
    func testBadImagesAreClearErrors() throws {
        func message(_ image: [UInt8]) -> String? {
            caught(HDF5Error.self) { try HDF5File(image: image, name: "x.keras/model.weights.h5") }
                .map { XCTAssertEqual($0.file, "x.keras/model.weights.h5"); return $0.message }
        }
        XCTAssertEqual(message([]), "file is empty (0 bytes), not an HDF5 file")
        XCTAssertEqual(message(try bytes("not_hdf5.h5")), "not an HDF5 file (no HDF5 signature found)")
        let truncated = try XCTUnwrap(message(try bytes("truncated.h5")))
        XCTAssertTrue(truncated.hasPrefix("cannot open HDF5 file (truncated or corrupt?): truncated file"), truncated)
        XCTAssertNotNil(message(try bytes("bad_superblock.h5")))
        // A corrupt header that claims huge datasets is refused against the image's size.
        let huge = try HDF5File(image: try bytes("huge_dims.h5"), name: "huge")
        for name in try huge.root.childNames() where huge.root.isDataset(name) {
            XCTAssertNotNil(caught(HDF5Error.self) { try huge.dataset(name).readFloats() }, name)
        }
    }

    /// A file built in memory is a complete HDF5 file: its image opens, and written to disk
    /// it reads as a file; nothing is left on disk by the build itself.
    func testInMemoryWriterBuildsACompleteFile() throws {
        let folder = try makeTemporaryFolder("mien-h5-image")
        let current = FileManager.default.currentDirectoryPath
        let writer = try HDF5Writer(inMemory: "weights")
        let vars = try writer.root.createGroup("layers/dense/vars")
        try vars.setAttribute("name", "dense")
        try vars.writeDataset("0", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        try vars.writeDataset("1", shape: [3], values: [-1, 0, 1])
        let image = try writer.image()
        XCTAssertEqual(Array(image.prefix(8)), [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])
        let path = folder.appendingPathComponent("weights.h5").path
        try Data(image).write(to: URL(fileURLWithPath: path))
        for file in [try HDF5File(image: image, name: "weights"), try HDF5File(path: path)] {
            let group = try file.group("layers/dense/vars")
            XCTAssertEqual(try group.stringAttribute("name"), "dense")
            XCTAssertEqual(try group.dataset("0").shape, [2, 3])
            XCTAssertEqual(try group.dataset("0").readFloats(), [1, 2, 3, 4, 5, 6])
            XCTAssertEqual(try group.dataset("1").readFloats(), [-1, 0, 1])
        }
        XCTAssertEqual(FileManager.default.currentDirectoryPath, current)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: current).contains { $0.contains("mien-image") })
    }

    /// `image()` finishes the file once; `commit()` is for files on disk and vice versa.
    func testImageOnceAndNotCommit() throws {
        let writer = try HDF5Writer(inMemory: "once")
        XCTAssertTrue(caught(HDF5Error.self) { try writer.commit() }?.message.contains("image()") ?? false)
        _ = try writer.image()
        XCTAssertTrue(caught(HDF5Error.self) { try writer.image() }?.message.contains("already committed") ?? false)
        XCTAssertNotNil(caught(HDF5Error.self) { try writer.root.createGroup("late") })

        let folder = try makeTemporaryFolder("mien-h5-image")
        let onDisk = try HDF5Writer(creating: folder.appendingPathComponent("x.h5").path)
        XCTAssertTrue(caught(HDF5Error.self) { try onDisk.image() }?.message.contains("commit()") ?? false)
    }
}
