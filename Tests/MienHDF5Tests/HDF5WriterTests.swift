import Foundation
import MienHDF5
import MienTestSupport
import XCTest

// Attribute types checked against h5py 3.14 (libhdf5 1.14.6 inside h5py):
// `python3 tools/check_hdf5_written.py FOLDER` on the files this suite leaves
// in FOLDER when run with MIEN_HDF5_WRITER_KEEP=FOLDER. h5py reports, for what
// `HDF5WriteGroup.setAttribute` writes, exactly what it writes itself:
//   String    -> str ('héllo'), dtype object, string_info(encoding='utf-8', length=None),
//                shape () — h5py's `attrs[k] = "héllo"`
//   [String]  -> numpy array dtype object, string_info(encoding='utf-8', length=None),
//                shape (n,) — h5py's `attrs[k] = ["a", "b"]`
//   []        -> numpy array dtype float64, shape (0,) — h5py's `attrs[k] = []`
//   Int64     -> numpy.int64, shape () — h5py's `attrs[k] = 42`
//   Double    -> numpy.float64, shape () — h5py's `attrs[k] = 2.5`
// Datasets are float32 ('<f4'), contiguous, no filters, shapes (), (0,), (3,), (2, 3, 4, 5).
// The same script loads the copied Keras files (see testCopiedKerasFilesReadBackIdentically)
// with keras.models.load_model / tf_keras and compares predictions with the originals.


/// A 1 MB string with multi-byte characters and JSON-ish punctuation, like a large `model_config`.
private let megabyteString: String = {
    let piece = "{\"layer\": \"dense_ü\", \"units\": 12345, \"π\": 3.14159}, "
    var text = ""
    text.reserveCapacity(1 << 20)
    while text.utf8.count < 1 << 20 { text += piece }
    return text
}()

/// Row-major float values with specials, so bitwise comparison means something.
private func values(_ count: Int, seed: Float) -> [Float] {
    let specials: [Float] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                             Float(bitPattern: 0x0001_0000) /* subnormal */, Float(bitPattern: 0x7FC0_1234) /* NaN with payload */]
    return (0..<count).map { i in i < specials.count ? specials[i] : seed * Float(i) - 7.25 / Float(i + 1) }
}

private func assertBitwiseEqual(_ a: [Float], _ b: [Float], _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), message, file: file, line: line)
}

final class HDF5WriterTests: XCTestCase {
    /// A fresh folder per test, so "no files left behind" can be checked exactly.
    var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder("mien-h5w")
    }

    private func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    /// When MIEN_HDF5_WRITER_KEEP names a folder, keep a copy of `path` there
    /// for tools/check_hdf5_written.py.
    private func keep(_ path: String, as name: String) throws {
        guard let keep = ProcessInfo.processInfo.environment["MIEN_HDF5_WRITER_KEEP"], !keep.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
        let target = URL(fileURLWithPath: keep).appendingPathComponent(name)
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.copyItem(atPath: path, toPath: target.path)
    }

    // MARK: - Round trip

    func testRoundTripEverything() throws {
        let path = folder.appendingPathComponent("round.h5").path
        let writer = try HDF5Writer(creating: path)
        let root = writer.root
        XCTAssertEqual(root.path, "/")

        try root.setAttribute("s", "héllo wörld ✓ 日本")
        try root.setAttribute("empty_string", "")
        try root.setAttribute("names", ["a", "bé", "", "dense/kernel:0"])
        try root.setAttribute("one_name", ["only"])
        try root.setAttribute("no_names", [String]())
        try root.setAttribute("i", Int64(42))
        try root.setAttribute("i_min", Int64.min)
        try root.setAttribute("i_max", Int64.max)
        try root.setAttribute("d", 2.5)
        try root.setAttribute("d_tiny", Double.leastNonzeroMagnitude)
        try root.setAttribute("d_neg_inf", -Double.infinity)
        try root.setAttribute("big", megabyteString)

        let weights = try root.createGroup("model_weights")
        XCTAssertEqual(weights.path, "/model_weights")
        try weights.setAttribute("layer_names", ["dense", "flatten"])
        let deep = try weights.createGroup("outer/inner/leaf")  // intermediates created
        XCTAssertEqual(deep.path, "/model_weights/outer/inner/leaf")
        try deep.setAttribute("weight_names", [String]())
        let dense = try weights.createGroup("dense")
        try dense.setAttribute("weight_names", ["dense/kernel:0", "dense/bias:0"])
        let kernel = values(2 * 3 * 4 * 5, seed: 0.37)
        try dense.writeDataset("dense/kernel:0", shape: [2, 3, 4, 5], values: kernel)
        try dense.writeDataset("dense/bias:0", shape: [3], values: [1.5, -2, 0.1])
        try dense.writeDataset("empty", shape: [0], values: [])
        try dense.writeDataset("scalar", shape: [], values: [-3.25])
        try dense.writeDataset("zero_inside", shape: [2, 0, 3], values: [])
        // Through an absolute path and through group(_:) of an intermediate group.
        try root.writeDataset("/model_weights/outer/inner/x:0", shape: [1], values: [7])
        try root.group("model_weights/outer").setAttribute("n", Int64(-1))
        try root.createGroup("ünï/cödé").writeDataset("wëight", shape: [2], values: [1, 2])

        try writer.commit()
        XCTAssertEqual(try contents(), ["round.h5"], "only the committed file, no temporary")
        try keep(path, as: "roundtrip.h5")

        let file = try HDF5File(path: path)
        let r = file.root
        XCTAssertEqual(try r.attribute("s"), .string("héllo wörld ✓ 日本"))
        XCTAssertEqual(try r.attribute("empty_string"), .string(""))
        XCTAssertEqual(try r.attribute("names"), .strings(["a", "bé", "", "dense/kernel:0"]))
        XCTAssertEqual(try r.attribute("one_name"), .strings(["only"]))
        XCTAssertEqual(try r.attribute("no_names"), .doubles([]), "h5py's attrs[k] = []: empty float64")
        XCTAssertEqual(try r.stringArrayAttribute("no_names"), [])
        XCTAssertEqual(try r.attribute("i"), .int(42))
        XCTAssertEqual(try r.attribute("i_min"), .int(.min))
        XCTAssertEqual(try r.attribute("i_max"), .int(.max))
        XCTAssertEqual(try r.attribute("d"), .double(2.5))
        XCTAssertEqual(try r.attribute("d_tiny"), .double(.leastNonzeroMagnitude))
        XCTAssertEqual(try r.attribute("d_neg_inf"), .double(-.infinity))
        let big = try XCTUnwrap(try r.stringAttribute("big"))
        XCTAssertEqual(big.utf8.count, megabyteString.utf8.count)
        XCTAssertTrue(big == megabyteString, "1 MB string attribute differs")
        XCTAssertEqual(Set(try r.attributeNames()),
                       ["s", "empty_string", "names", "one_name", "no_names", "i", "i_min", "i_max", "d", "d_tiny", "d_neg_inf", "big"])

        XCTAssertEqual(Set(try r.childNames()), ["model_weights", "ünï"])
        let w = try file.group("model_weights")
        XCTAssertEqual(try w.stringArrayAttribute("layer_names"), ["dense", "flatten"])
        XCTAssertEqual(Set(try w.childNames()), ["outer", "dense"])
        XCTAssertEqual(try w.group("outer").attribute("n"), .int(-1))
        XCTAssertEqual(try w.group("outer").attributeNames(), ["n"])
        XCTAssertEqual(try w.group("outer/inner").childNames().sorted(), ["leaf", "x:0"])
        XCTAssertEqual(try w.group("outer/inner/leaf").attribute("weight_names"), .doubles([]))
        XCTAssertEqual(try w.group("outer/inner/leaf").childNames(), [])
        XCTAssertEqual(try w.dataset("outer/inner/x:0").readFloats(), [7])

        let d = try w.group("dense")
        XCTAssertEqual(try d.stringArrayAttribute("weight_names"), ["dense/kernel:0", "dense/bias:0"])
        XCTAssertEqual(Set(try d.childNames()), ["dense", "empty", "scalar", "zero_inside"])
        XCTAssertEqual(try d.group("dense").childNames().sorted(), ["bias:0", "kernel:0"])
        for name in try d.stringArrayAttribute("weight_names") ?? [] {
            XCTAssertTrue(d.isDataset(name), name)  // Keras looks weights up exactly like this
        }

        let k = try d.dataset("dense/kernel:0")
        XCTAssertEqual(k.shape, [2, 3, 4, 5])
        XCTAssertEqual(k.elementType, .float(bits: 32))
        assertBitwiseEqual(try k.readFloats(), kernel)
        XCTAssertEqual(try k.attributeNames(), [])
        let b = try d.dataset("dense/bias:0")
        XCTAssertEqual(b.shape, [3])
        assertBitwiseEqual(try b.readFloats(), [1.5, -2, 0.1])
        let e = try d.dataset("empty")
        XCTAssertEqual(e.shape, [0])
        XCTAssertEqual(e.elementCount, 0)
        XCTAssertEqual(try e.readFloats(), [])
        let s = try d.dataset("scalar")
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.elementCount, 1)
        XCTAssertEqual(try s.readFloats(), [-3.25])
        let z = try d.dataset("zero_inside")
        XCTAssertEqual(z.shape, [2, 0, 3])
        XCTAssertEqual(try z.readFloats(), [])
        XCTAssertEqual(try file.dataset("ünï/cödé/wëight").readFloats(), [1, 2])
    }

    func testSetAttributeReplacesAndGroupReopens() throws {
        let path = folder.appendingPathComponent("replace.h5").path
        let writer = try HDF5Writer(creating: path)
        try writer.root.setAttribute("x", "first")
        try writer.root.setAttribute("x", ["now", "a list"])
        try writer.root.setAttribute("y", Int64(1))
        try writer.root.setAttribute("y", 1.5)
        _ = try writer.root.createGroup("g")
        try writer.root.group("g").setAttribute("z", Int64(3))
        try writer.root.group("/g").setAttribute("z", [String]())
        try writer.commit()

        let file = try HDF5File(path: path)
        XCTAssertEqual(try file.root.attribute("x"), .strings(["now", "a list"]))
        XCTAssertEqual(try file.root.attribute("y"), .double(1.5))
        XCTAssertEqual(try file.group("g").attribute("z"), .doubles([]))
        XCTAssertEqual(Set(try file.root.attributeNames()), ["x", "y"])
    }

    /// Copies real Keras legacy files attribute by attribute and dataset by
    /// dataset, and reads the copy back identically. With MIEN_HDF5_WRITER_KEEP
    /// the copies are kept so tools/check_hdf5_written.py can load them with Keras.
    func testCopiedKerasFilesReadBackIdentically() throws {
        for name in ["dense_mlp.k2.h5", "nested_mixed.k2.h5", "nested_deep.k3.h5", "xception.k3.h5",
                     "functional_branches.k2.savedweights.h5"] {
            let source = try HDF5File(path: Fixtures.path("keras/\(name)"))
            let path = folder.appendingPathComponent(name).path
            let writer = try HDF5Writer(creating: path)
            try copy(source.root, to: writer.root)
            try writer.commit()
            try keep(path, as: name)
            try assertSame(source.root, try HDF5File(path: path).root)
        }
    }

    private func copy(_ from: HDF5Group, to: HDF5WriteGroup) throws {
        for name in try from.attributeNames() {
            switch try from.attribute(name) {
            case .string(let s): try to.setAttribute(name, s)
            case .strings(let a): try to.setAttribute(name, a)
            case .int(let v): try to.setAttribute(name, v)
            case .double(let v): try to.setAttribute(name, v)
            case .doubles(let a) where a.isEmpty: try to.setAttribute(name, [String]())
            case let other: XCTFail("\(from.path): attribute '\(name)' is \(other), not writable")
            }
        }
        for child in try from.childNames() {
            if from.isGroup(child) {
                try copy(try from.group(child), to: try to.createGroup(child))
            } else {
                let dataset = try from.dataset(child)
                XCTAssertEqual(dataset.elementType, .float(bits: 32), dataset.path)
                XCTAssertEqual(try dataset.attributeNames(), [], dataset.path)
                try to.writeDataset(child, shape: dataset.shape, values: try dataset.readFloats())
            }
        }
    }

    private func assertSame(_ a: HDF5Group, _ b: HDF5Group) throws {
        XCTAssertEqual(try a.attributeNames().sorted(), try b.attributeNames().sorted(), a.path)
        for name in try a.attributeNames() {
            XCTAssertEqual(try a.attribute(name), try b.attribute(name), "\(a.path) @\(name)")
        }
        XCTAssertEqual(try a.childNames().sorted(), try b.childNames().sorted(), a.path)
        for child in try a.childNames() {
            if a.isGroup(child) {
                try assertSame(try a.group(child), try b.group(child))
            } else {
                let (da, db) = (try a.dataset(child), try b.dataset(child))
                XCTAssertEqual(da.shape, db.shape, da.path)
                XCTAssertEqual(db.elementType, .float(bits: 32), db.path)
                assertBitwiseEqual(try da.readFloats(), try db.readFloats(), da.path)
            }
        }
    }

    // MARK: - Atomicity

    func testDroppedWriterLeavesNothing() throws {
        let path = folder.appendingPathComponent("dropped.h5").path
        do {
            let writer = try HDF5Writer(creating: path)
            try writer.root.setAttribute("model_config", megabyteString)
            try writer.root.createGroup("g").writeDataset("w", shape: [1000], values: values(1000, seed: 1))
            let during = try contents()
            XCTAssertEqual(during.count, 1, "the temporary file exists while writing")
            XCTAssertTrue(during.first?.hasPrefix(".dropped.h5.tmp-") ?? false, "\(during)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing under the real name before commit")
        }
        XCTAssertEqual(try contents(), [], "no file at path and no temporary file")
    }

    func testDroppedWriterKeepsTheExistingFile() throws {
        let path = folder.appendingPathComponent("model.h5").path
        let old = try HDF5Writer(creating: path)
        try old.root.setAttribute("version", Int64(1))
        try old.commit()
        do {
            let writer = try HDF5Writer(creating: path)
            try writer.root.setAttribute("version", Int64(2))
        }
        XCTAssertEqual(try contents(), ["model.h5"])
        XCTAssertEqual(try HDF5File(path: path).root.attribute("version"), .int(1))
    }

    func testCommitReplacesAnExistingFile() throws {
        let path = folder.appendingPathComponent("model.h5").path
        // An unrelated, larger file first: the replacement must not keep any of it.
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(repeating: 0xAB, count: 100_000)))
        let first = try HDF5Writer(creating: path)
        try first.root.setAttribute("version", Int64(1))
        try first.root.writeDataset("w", shape: [2], values: [1, 2])
        try first.commit()

        let second = try HDF5Writer(creating: path)
        try second.root.setAttribute("version", Int64(2))
        try second.root.writeDataset("v", shape: [1], values: [3])
        // A reader holding the old file open keeps reading the old contents
        // (the rename swaps the name, not the data).
        let reader = try HDF5File(path: path)
        try second.commit()
        XCTAssertEqual(try reader.root.attribute("version"), .int(1))
        XCTAssertEqual(try reader.dataset("w").readFloats(), [1, 2])

        let file = try HDF5File(path: path)
        XCTAssertEqual(try file.root.attribute("version"), .int(2))
        XCTAssertEqual(try file.root.childNames(), ["v"])
        XCTAssertEqual(try contents(), ["model.h5"])
    }

    func testMissingFolderErrorNamesThePath() {
        let path = folder.appendingPathComponent("no/such/folder/model.h5").path
        let error = hdf5Error { try HDF5Writer(creating: path) }
        XCTAssertEqual(error?.file, path)
        XCTAssertNil(error?.object)
        XCTAssertEqual(error?.description,
                       "\(path): cannot create: folder '\(folder.appendingPathComponent("no/such/folder").path)' does not exist")
    }

    func testUnusablePathsErrorNameThePath() throws {
        let sub = folder.appendingPathComponent("sub").path
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        let error = hdf5Error { try HDF5Writer(creating: sub) }
        XCTAssertEqual(error?.description, "\(sub): cannot create: is a directory")

        let plain = folder.appendingPathComponent("plain").path
        XCTAssertTrue(FileManager.default.createFile(atPath: plain, contents: Data()))
        let inside = plain + "/model.h5"
        let notFolder = hdf5Error { try HDF5Writer(creating: inside) }
        XCTAssertEqual(notFolder?.file, inside)
        XCTAssertEqual(notFolder?.description, "\(inside): cannot create: '\(plain)' is not a folder")
        XCTAssertNotNil(hdf5Error { try HDF5Writer(creating: "") })

        // Permissions don't apply to root, so only check when they do.
        let locked = folder.appendingPathComponent("locked").path
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o500])
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: locked) }
        if getuid() != 0 {
            let denied = hdf5Error { try HDF5Writer(creating: locked + "/model.h5") }
            XCTAssertEqual(denied?.file, locked + "/model.h5")
            XCTAssertTrue(denied?.message.contains("not writable") ?? false, "\(String(describing: denied))")
        }
    }

    func testUseAfterCommitAndDoubleCommitThrow() throws {
        let path = folder.appendingPathComponent("once.h5").path
        let writer = try HDF5Writer(creating: path)
        let group = try writer.root.createGroup("g")
        try writer.commit()
        let again = hdf5Error { try writer.commit() }
        XCTAssertEqual(again?.file, path)
        XCTAssertTrue(again?.message.contains("already committed") ?? false, "\(String(describing: again))")
        XCTAssertNotNil(hdf5Error { try group.setAttribute("x", Int64(1)) })
        XCTAssertNotNil(hdf5Error { try group.writeDataset("d", shape: [1], values: [1]) })
        XCTAssertNotNil(hdf5Error { try writer.root.group("g") })
        XCTAssertEqual(try HDF5File(path: path).root.childNames(), ["g"])
        XCTAssertEqual(try contents(), ["once.h5"])
    }

    // MARK: - Rejected writes

    /// Mistakes caught before the file is touched throw clear errors naming
    /// the object and leave the writer usable.
    func testRejectedWritesKeepTheWriterUsable() throws {
        let path = folder.appendingPathComponent("rejects.h5").path
        let writer = try HDF5Writer(creating: path)
        let root = writer.root
        let g = try root.createGroup("g")
        try g.writeDataset("kernel:0", shape: [2], values: [1, 2])

        func check(_ error: HDF5Error?, object: String, _ fragment: String, line: UInt = #line) {
            XCTAssertEqual(error?.file, path, line: line)
            XCTAssertEqual(error?.object, object, line: line)
            XCTAssertTrue(error?.description.contains(fragment) ?? false, "\(String(describing: error)) lacks '\(fragment)'", line: line)
        }
        check(hdf5Error { try root.createGroup("g") }, object: "/g", "already exists")
        check(hdf5Error { try g.createGroup("kernel:0") }, object: "/g/kernel:0", "already exists")
        check(hdf5Error { try g.writeDataset("kernel:0", shape: [1], values: [1]) }, object: "/g/kernel:0", "already exists")
        check(hdf5Error { try g.createGroup("kernel:0/x") }, object: "/g/kernel:0/x", "'/g/kernel:0' is a dataset, not a group")
        check(hdf5Error { try g.writeDataset("kernel:0/x/y", shape: [], values: [1]) }, object: "/g/kernel:0/x/y",
              "'/g/kernel:0' is a dataset, not a group")
        check(hdf5Error { try g.writeDataset("w", shape: [2, 3], values: [1, 2]) }, object: "/g/w", "shape [2, 3] needs 6 values, got 2")
        check(hdf5Error { try g.writeDataset("w", shape: [], values: []) }, object: "/g/w", "shape [] needs 1 values, got 0")
        check(hdf5Error { try g.writeDataset("w", shape: [-1], values: []) }, object: "/g/w", "invalid shape [-1]")
        check(hdf5Error { try g.writeDataset("w", shape: [Int.max, 2], values: []) }, object: "/g/w", "needs too many values")
        check(hdf5Error { try g.writeDataset("", shape: [], values: [1]) }, object: "/g", "invalid dataset name")
        check(hdf5Error { try root.createGroup("/") }, object: "/", "invalid group name")
        check(hdf5Error { try g.createGroup("./.") }, object: "/g", "invalid group name")
        check(hdf5Error { try root.createGroup("a\0b") }, object: "/", "NUL")
        check(hdf5Error { try g.setAttribute("", "x") }, object: "/g", "invalid attribute name")
        check(hdf5Error { try g.setAttribute("s", "a\0b") }, object: "/g", "NUL character")
        check(hdf5Error { try root.group("missing") }, object: "/missing", "no such group")
        check(hdf5Error { try root.group("g/kernel:0") }, object: "/g/kernel:0", "not a group (it is a dataset)")
        let tooMany = (0...HDF5WriteGroup.maxStringArrayCount).map { "layer_\($0)" }
        check(hdf5Error { try g.setAttribute("layer_names", tooMany) }, object: "/g",
              "4001 strings are more than one attribute holds (4000); split the list into 'layer_names0'")

        // Still usable, and none of the rejects left a trace.
        try g.setAttribute("layer_names", Array(tooMany.prefix(HDF5WriteGroup.maxStringArrayCount)))
        try g.writeDataset("w", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        try writer.commit()
        let file = try HDF5File(path: path)
        XCTAssertEqual(try file.root.childNames(), ["g"])
        XCTAssertEqual(try file.group("g").childNames().sorted(), ["kernel:0", "w"])
        XCTAssertEqual(try file.group("g").attributeNames(), ["layer_names"])
        XCTAssertEqual(try file.group("g").stringArrayAttribute("layer_names")?.count, 4000)
    }

    /// A string array too long for one attribute's header, but under the
    /// count limit because of a long attribute name: libhdf5 refuses it, and
    /// that abandons the export (temporary file removed at once).
    func testLibraryFailureAbandonsTheExport() throws {
        let path = folder.appendingPathComponent("abandoned.h5").path
        let writer = try HDF5Writer(creating: path)
        try writer.root.setAttribute("ok", Int64(1))
        let longName = String(repeating: "n", count: 2000)
        let error = hdf5Error { try writer.root.setAttribute(longName, (0..<4000).map { "\($0)" }) }
        XCTAssertEqual(error?.file, path)
        XCTAssertEqual(error?.object, "/")
        XCTAssertTrue(error?.message.contains("object header message is too large") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.message.contains("split long lists") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try contents(), [], "temporary file removed at once")
        let later = hdf5Error { try writer.root.setAttribute("x", Int64(1)) }
        XCTAssertTrue(later?.message.contains("abandoned after an earlier failure") ?? false, "\(String(describing: later))")
        let commit = hdf5Error { try writer.commit() }
        XCTAssertTrue(commit?.message.contains("object header message is too large") ?? false, "\(String(describing: commit))")
        XCTAssertEqual(try contents(), [])
    }

    func testNothingPrintedToStderr() throws {
        let capture = folder.appendingPathComponent("stderr.txt")
        XCTAssertTrue(FileManager.default.createFile(atPath: capture.path, contents: nil))
        let captureFD = open(capture.path, O_WRONLY)
        XCTAssertGreaterThanOrEqual(captureFD, 0)
        fflush(nil)
        let savedFD = dup(2)
        dup2(captureFD, 2)

        _ = try? HDF5Writer(creating: folder.appendingPathComponent("missing/x.h5").path)
        if let writer = try? HDF5Writer(creating: folder.appendingPathComponent("x.h5").path) {
            _ = try? writer.root.createGroup("g")
            _ = try? writer.root.createGroup("g")
            _ = try? writer.root.group("nope")
            _ = try? writer.root.setAttribute(String(repeating: "n", count: 2000), (0..<4000).map { "\($0)" })
            _ = try? writer.commit()
        }

        fflush(nil)
        dup2(savedFD, 2)
        close(savedFD)
        close(captureFD)
        XCTAssertEqual(try String(contentsOf: capture, encoding: .utf8), "", "libhdf5 printed to stderr")
    }

    // MARK: - Concurrency

    func testConcurrentWritersAreSerialized() throws {
        let base = folder!
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            do {
                let path = base.appendingPathComponent("c\(i).h5").path
                let writer = try HDF5Writer(creating: path)
                let g = try writer.root.createGroup("layer_\(i)")
                try g.setAttribute("weight_names", ["layer_\(i)/kernel:0"])
                try g.writeDataset("layer_\(i)/kernel:0", shape: [4, 4], values: (0..<16).map { Float($0 + i) })
                if i.isMultiple(of: 4) { return }  // dropped without commit
                try writer.commit()
                let back = try HDF5File(path: path).dataset("layer_\(i)/layer_\(i)/kernel:0").readFloats()
                if back != (0..<16).map({ Float($0 + i) }) { failures.increment() }
            } catch {
                failures.increment()
            }
        }
        XCTAssertEqual(failures.value, 0)
        XCTAssertEqual(try contents(), (0..<16).filter { !$0.isMultiple(of: 4) }.map { "c\($0).h5" }.sorted())
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
