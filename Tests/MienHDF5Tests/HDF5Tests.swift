import Foundation
import MienHDF5
import MienTestSupport
import XCTest

/// Fixtures come from tools/make_hdf5_fixtures.py.
private func fixture(_ name: String) -> String {
    Fixtures.path("hdf5/\(name)")
}

/// The HDF5Error `body` throws, or a test failure. Shared by the reader and writer tests.
func hdf5Error<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> HDF5Error? {
    caught(HDF5Error.self, file: file, line: line, body)
}

/// Asserts the error names the file and (if given) the HDF5 path, and that its
/// description contains each fragment.
private func assertError(_ error: HDF5Error?, file path: String, object: String?, contains fragments: [String],
                         file: StaticString = #filePath, line: UInt = #line) {
    guard let error else { return }
    XCTAssertEqual(error.file, path, file: file, line: line)
    XCTAssertEqual(error.object, object, file: file, line: line)
    XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description, file: file, line: line)
    if let object {
        XCTAssertTrue(error.description.contains(": \(object): "), error.description, file: file, line: line)
    }
    for fragment in fragments {
        XCTAssertTrue(error.description.contains(fragment), "'\(error.description)' lacks '\(fragment)'", file: file, line: line)
    }
}

final class HDF5Tests: XCTestCase {
    var types: HDF5File!

    override func setUpWithError() throws {
        types = try HDF5File(path: fixture("types.h5"))
    }

    override func tearDown() {
        types = nil
    }

    // MARK: - Attributes

    func testStringAttributes() throws {
        let root = types.root
        XCTAssertEqual(try root.attribute("s"), .string("héllo"))
        XCTAssertEqual(try root.attribute("fixed"), .string("fixed"))
        XCTAssertEqual(try root.attribute("fixed_trailing_nul"), .string("ab"))
        XCTAssertEqual(try root.attribute("fixed_utf8"), .string("héllo"))
        XCTAssertEqual(try root.attribute("spacepad"), .string("pad"))
        XCTAssertEqual(try root.attribute("nullterm"), .string("nt"))
        XCTAssertEqual(try root.attribute("fixed_arr"), .strings(["a", "bcd"]))
        XCTAssertEqual(try root.attribute("vlen_arr"), .strings(["x", "yz"]))
        XCTAssertEqual(try root.attribute("one_string_arr"), .strings(["only"]))
    }

    func testNumericAttributes() throws {
        let root = types.root
        XCTAssertEqual(try root.attribute("int_scalar"), .int(42))
        XCTAssertEqual(try root.attribute("int_arr"), .ints([1, -2, 3]))
        XCTAssertEqual(try root.attribute("uint8_scalar"), .int(200))
        XCTAssertEqual(try root.attribute("float_scalar"), .double(2.5))
        XCTAssertEqual(try root.attribute("float32_arr"), .doubles([0.5, -1.25]))
        XCTAssertEqual(try root.attribute("matrix"), .doubles([1, 2, 3, 4]))
        XCTAssertEqual(try root.attribute("flag"), .int(1))
        XCTAssertEqual(try root.attribute("empty"), .doubles([]))
        XCTAssertEqual(try root.attribute("int_scalar").intValue, 42)
        XCTAssertEqual(try root.attribute("float_scalar").doubleValue, 2.5)
    }

    func testUnsupportedAttributeType() {
        let error = hdf5Error { try types.root.attribute("compound") }
        assertError(error, file: types.path, object: "/", contains: ["attribute 'compound'", "unsupported type (compound)"])
    }

    func testStringAttributeConvenience() throws {
        let root = types.root
        XCTAssertEqual(try root.stringAttribute("s"), "héllo")
        XCTAssertEqual(try root.stringAttribute("fixed"), "fixed")
        XCTAssertEqual(try root.stringAttribute("one_string_arr"), "only")
        XCTAssertNil(try root.stringAttribute("missing"))
        let error = hdf5Error { try root.stringAttribute("int_scalar") }
        assertError(error, file: types.path, object: "/", contains: ["attribute 'int_scalar' is an integer, not a string"])
        XCTAssertThrowsError(try root.stringAttribute("vlen_arr"))
    }

    func testStringArrayAttributeConvenience() throws {
        let root = types.root
        XCTAssertEqual(try root.stringArrayAttribute("vlen_arr"), ["x", "yz"])
        XCTAssertEqual(try root.stringArrayAttribute("fixed_arr"), ["a", "bcd"])
        XCTAssertEqual(try root.stringArrayAttribute("s"), ["héllo"])
        XCTAssertEqual(try root.stringArrayAttribute("empty"), [])
        XCTAssertNil(try root.stringArrayAttribute("missing"))
        XCTAssertEqual(try root.group("a").stringArrayAttribute("weight_names"), ["a/b/c/kernel:0"])
        let error = hdf5Error { try root.stringArrayAttribute("float32_arr") }
        assertError(error, file: types.path, object: "/", contains: ["'float32_arr' is a float array, not a string array"])
    }

    func testKerasSplitAttributes() throws {
        let root = types.root
        XCTAssertFalse(root.hasAttribute("names"))
        XCTAssertTrue(root.hasAttribute("names0"))
        XCTAssertEqual(try root.stringArrayAttribute("names"), ["layer_a", "layer_b", "layer_c"])
        // A plain attribute() still refuses the absent joined name.
        XCTAssertThrowsError(try root.attribute("names"))
    }

    func testAttributeNames() throws {
        let names = try types.root.attributeNames()
        XCTAssertEqual(names, names.sorted(), "name order when creation order isn't indexed")
        for expected in ["s", "fixed", "fixed_arr", "vlen_arr", "int_scalar", "empty", "names0", "names1", "compound"] {
            XCTAssertTrue(names.contains(expected), expected)
        }
        XCTAssertEqual(try types.root.group("ordered").attributeNames(), ["z", "a"])
        XCTAssertEqual(try types.root.group("data").attributeNames(), [])
    }

    func testDatasetAttributes() throws {
        let kernel = try types.root.dataset("a/b/c/kernel:0")
        XCTAssertEqual(try kernel.attributeNames(), ["name", "units"])
        XCTAssertTrue(kernel.hasAttribute("units"))
        XCTAssertEqual(try kernel.attribute("units"), .int(3))
        XCTAssertEqual(try kernel.stringAttribute("name"), "kernel")
        let error = hdf5Error { try kernel.attribute("bias") }
        assertError(error, file: types.path, object: "/a/b/c/kernel:0", contains: ["no such attribute 'bias'"])
    }

    func testHasAttributeNeverThrows() {
        let root = types.root
        XCTAssertFalse(root.hasAttribute(""))
        XCTAssertFalse(root.hasAttribute("nope"))
        XCTAssertFalse(root.hasAttribute("a/b"))
        XCTAssertFalse(root.hasAttribute("bad\0name"))
    }

    // MARK: - Datasets

    func testDatasetDtypesExactValues() throws {
        let data = try types.root.group("data")

        let f16 = try data.dataset("f16")
        XCTAssertEqual(f16.shape, [4])
        XCTAssertEqual(f16.elementType, .float(bits: 16))
        XCTAssertEqual(try f16.readFloats(), [0.5, -1.5, 2.0, 65504.0])

        let f32 = try data.dataset("f32")
        XCTAssertEqual(f32.shape, [2, 2])
        XCTAssertEqual(f32.elementType.description, "float32")
        XCTAssertEqual(try f32.readFloats(), [1.5, -2.25, 0.125, 1024.0])

        let f64 = try data.dataset("f64")
        XCTAssertEqual(f64.elementType.description, "float64")
        XCTAssertEqual(try f64.readFloats(), [Float(0.1), -3.0, 1e10])
        XCTAssertEqual(try f64.readDoubles(), [0.1, -3.0, 1e10])

        let i32 = try data.dataset("i32")
        XCTAssertEqual(i32.shape, [2, 3])
        XCTAssertEqual(i32.elementType, .integer(bits: 32, signed: true))
        XCTAssertEqual(try i32.readFloats(), [-3, 0, 7, 100, -100, Float(Int32.max)])

        let u8 = try data.dataset("u8")
        XCTAssertEqual(u8.elementType.description, "uint8")
        XCTAssertEqual(try u8.readFloats(), [0, 1, 255])

        XCTAssertEqual(try data.dataset("i64_be").readFloats(), [-1, 2])
        XCTAssertEqual(try data.dataset("gz").readFloats(), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try data.dataset("unwritten").readFloats(), [7, 7, 7, 7])
    }

    func testScalarAndEmptyDatasets() throws {
        let scalar = try types.dataset("/data/scalar")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.elementCount, 1)
        XCTAssertEqual(try scalar.readFloats(), [3.5])

        let empty = try types.dataset("data/empty")
        XCTAssertEqual(empty.shape, [0, 3])
        XCTAssertEqual(empty.elementCount, 0)
        XCTAssertEqual(try empty.readFloats(), [])
    }

    func testNonNumericDatasetsRefuseReadFloats() throws {
        let strings = try types.dataset("data/strings")
        XCTAssertEqual(strings.elementType, .string)
        assertError(hdf5Error { try strings.readFloats() }, file: types.path, object: "/data/strings",
                    contains: ["cannot read a string dataset as numbers"])
        let compound = try types.dataset("data/compound")
        assertError(hdf5Error { try compound.readFloats() }, file: types.path, object: "/data/compound",
                    contains: ["cannot read a compound dataset as numbers"])
    }

    // MARK: - Paths and children

    func testNestedPathsWithSlashAndColon() throws {
        let root = types.root
        let direct = try root.dataset("a/b/c/kernel:0")
        XCTAssertEqual(direct.path, "/a/b/c/kernel:0")
        XCTAssertEqual(direct.name, "kernel:0")
        XCTAssertEqual(direct.shape, [2, 3])
        XCTAssertEqual(try direct.readFloats(), [1, 2, 3, 4, 5, 6])

        let c = try root.group("a").group("b/c")
        XCTAssertEqual(c.path, "/a/b/c")
        XCTAssertEqual(c.name, "c")
        XCTAssertEqual(try c.dataset("kernel:0").path, "/a/b/c/kernel:0")
        XCTAssertEqual(try c.group("/a").path, "/a", "a leading slash is absolute")
        XCTAssertIdentical(c.file, types)

        XCTAssertTrue(root.contains("a"))
        XCTAssertTrue(root.contains("a/b/c/kernel:0"))
        XCTAssertTrue(try root.group("a").contains("b/c/kernel:0"))
        XCTAssertFalse(root.contains("a/b/x"))
        XCTAssertFalse(root.contains("x/y/z"))
        XCTAssertFalse(root.contains("a/b/c/kernel:0/x"), "path through a dataset")
        XCTAssertFalse(root.contains("dangling"), "dangling soft link")
        XCTAssertFalse(root.contains("a\0b"))

        XCTAssertTrue(root.isGroup("a/b"))
        XCTAssertFalse(root.isDataset("a/b"))
        XCTAssertTrue(root.isDataset("a/b/c/kernel:0"))
        XCTAssertFalse(root.isGroup("a/b/c/kernel:0"))
        XCTAssertFalse(root.isGroup("missing"))
        XCTAssertFalse(root.isDataset("missing"))
    }

    func testChildNames() throws {
        XCTAssertEqual(try types.root.childNames(), ["a", "dangling", "data", "ordered"])
        XCTAssertEqual(try types.root.group("a/b/c").childNames(), ["kernel:0"])
        XCTAssertEqual(try types.root.group("data").childNames(),
                       ["compound", "empty", "f16", "f32", "f64", "gz", "i32", "i64_be", "scalar", "strings", "u8", "unwritten"])
        XCTAssertEqual(try types.root.group("ordered").childNames(), ["zeta", "alpha", "mid"], "creation order")
        XCTAssertEqual(try types.root.group("ordered/mid").childNames(), [])
    }

    func testMissingObjectErrorsNameFileAndPath() {
        let root = types.root
        assertError(hdf5Error { try root.group("a/missing") }, file: types.path, object: "/a/missing",
                    contains: ["types.h5: /a/missing: no such group"])
        assertError(hdf5Error { try root.dataset("data/nope") }, file: types.path, object: "/data/nope",
                    contains: ["no such dataset"])
        assertError(hdf5Error { try root.dataset("a/b/c/kernel:0/deeper") }, file: types.path,
                    object: "/a/b/c/kernel:0/deeper", contains: ["no such dataset"])
        assertError(hdf5Error { try root.group("data/f32") }, file: types.path, object: "/data/f32",
                    contains: ["not a group (it is a dataset)"])
        assertError(hdf5Error { try root.dataset("a/b") }, file: types.path, object: "/a/b",
                    contains: ["not a dataset (it is a group)"])
        assertError(hdf5Error { try root.dataset("dangling") }, file: types.path, object: "/dangling",
                    contains: ["no such dataset"])
        assertError(hdf5Error { try root.attribute("nope") }, file: types.path, object: "/",
                    contains: ["no such attribute 'nope'"])
    }

    // MARK: - Bad files

    func testNonexistentFile() {
        let path = fixture("does_not_exist.h5")
        assertError(hdf5Error { try HDF5File(path: path) }, file: path, object: nil, contains: ["no such file"])
    }

    func testDirectoryIsNotAFile() {
        let path = Fixtures.path("hdf5")
        assertError(hdf5Error { try HDF5File(path: path) }, file: path, object: nil, contains: ["is a directory"])
    }

    func testEmptyFile() {
        let path = fixture("empty.h5")
        assertError(hdf5Error { try HDF5File(path: path) }, file: path, object: nil,
                    contains: ["file is empty (0 bytes), not an HDF5 file"])
    }

    func testNotHDF5File() {
        let path = fixture("not_hdf5.h5")
        assertError(hdf5Error { try HDF5File(path: path) }, file: path, object: nil,
                    contains: ["not an HDF5 file (no HDF5 signature found)"])
    }

    func testTruncatedFile() {
        let path = fixture("truncated.h5")
        let error = hdf5Error { try HDF5File(path: path) }
        assertError(error, file: path, object: nil, contains: ["cannot open HDF5 file (truncated or corrupt?)", "truncated file"])
    }

    func testBadSuperblock() {
        let path = fixture("bad_superblock.h5")
        let error = hdf5Error { try HDF5File(path: path) }
        assertError(error, file: path, object: nil, contains: ["cannot open HDF5 file (truncated or corrupt?): "])
    }

    func testCorruptHeaderClaimingHugeDatasets() throws {
        let file = try HDF5File(path: fixture("huge_dims.h5"))
        // Newer libhdf5 refuses to open this one ("invalid dataset size");
        // 1.10 opens it and our size check refuses the read. Either way: an error.
        assertError(hdf5Error { try file.dataset("contiguous").readFloats() }, file: file.path, object: "/contiguous",
                    contains: ["corrupt"])
        // Chunked storage in the file: more than the file could hold.
        let chunked = try file.dataset("chunked")
        XCTAssertEqual(chunked.shape, [1 << 40])
        assertError(hdf5Error { try chunked.readFloats() }, file: file.path, object: "/chunked",
                    contains: ["more than the \(file.fileSize)-byte file holds (corrupt file?)"])
        // Fill-value only: not in the file, so the global cap applies.
        assertError(hdf5Error { try file.dataset("unwritten").readFloats() }, file: file.path, object: "/unwritten",
                    contains: ["is too large to read"])
    }

    /// libhdf5 prints its error stack to stderr unless silenced; none of the
    /// failures above may print anything.
    func testNothingPrintedToStderr() throws {
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("hdf5-stderr-\(getpid()).txt")
        XCTAssertTrue(FileManager.default.createFile(atPath: capture.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: capture) }
        let captureFD = open(capture.path, O_WRONLY)
        XCTAssertGreaterThanOrEqual(captureFD, 0)
        fflush(nil)  // all C streams (stderr itself is not concurrency-safe to name)
        let savedFD = dup(2)
        dup2(captureFD, 2)

        for name in ["empty.h5", "not_hdf5.h5", "truncated.h5", "bad_superblock.h5", "nope.h5"] {
            _ = try? HDF5File(path: fixture(name))
        }
        let root = types.root
        _ = try? root.group("missing/deeper")
        _ = try? root.dataset("a/b")
        _ = try? root.attribute("missing")
        _ = try? root.attribute("compound")
        _ = root.contains("a/b/c/kernel:0/x")
        _ = root.contains("dangling")
        _ = root.hasAttribute("x")
        _ = try? root.dataset("data/strings").readFloats()
        if let huge = try? HDF5File(path: fixture("huge_dims.h5")) {
            _ = try? huge.dataset("contiguous").readFloats()
            _ = try? huge.dataset("chunked").readFloats()
        }

        fflush(nil)  // all C streams (stderr itself is not concurrency-safe to name)
        dup2(savedFD, 2)
        close(savedFD)
        close(captureFD)
        let printed = try String(contentsOf: capture, encoding: .utf8)
        XCTAssertEqual(printed, "", "libhdf5 printed to stderr")
    }

    // MARK: - Lifetime and concurrency

    func testGroupsKeepTheirFileOpen() throws {
        let group = try HDF5File(path: fixture("types.h5")).root.group("a/b/c")
        // The file value is gone; the group's strong reference keeps it open.
        XCTAssertEqual(try group.dataset("kernel:0").readFloats(), [1, 2, 3, 4, 5, 6])
    }

    func testConcurrentReadsAreSerialized() throws {
        let path = fixture("types.h5")
        let shared = types!
        let failures = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            do {
                // Alternate between a shared file and per-task files.
                let file = i.isMultiple(of: 2) ? shared : try HDF5File(path: path)
                let values = try file.dataset("a/b/c/kernel:0").readFloats()
                let names = try file.root.stringArrayAttribute("names")
                let children = try file.root.childNames()
                if values != [1, 2, 3, 4, 5, 6] || names != ["layer_a", "layer_b", "layer_c"] || children.count != 4 {
                    failures.increment()
                }
                _ = try? file.root.group("missing")
            } catch {
                failures.increment()
            }
        }
        XCTAssertEqual(failures.value, 0)
    }
}

private final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
