import Foundation
import XCTest
@testable import MienModelFile
import MienNN
import MienTestSupport

final class SafeTensorsTests: XCTestCase {
    // MARK: - Helpers

    private var tempFolder: String!

    override func setUpWithError() throws {
        tempFolder = NSTemporaryDirectory() + "mien-safetensors-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: tempFolder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: tempFolder)
    }

    private func temp(_ name: String) -> String { tempFolder + "/" + name }

    private func folderContents(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    /// A JSON side file written by tools/make_safetensors_fixtures.py.
    private func sideFile(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("safetensors/" + name)))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// 8-byte little-endian length, header text, data.
    private func rawFile(_ header: String, _ data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let n = length ?? UInt64(headerBytes.count)
        return withUnsafeBytes(of: n.littleEndian, Array.init) + headerBytes + data
    }

    private func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
    }

    private func writeRaw(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = temp(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Opening `path` must fail with `kind`, naming the file (and `tensor` when given).
    @discardableResult
    private func assertRejects(_ path: String, _ kind: SafeTensorsError.Kind, tensor: String? = nil,
                               containing fragment: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) -> SafeTensorsError? {
        do {
            let opened = try SafeTensorsFile(path: path)
            XCTFail("\(path): opened with \(opened.tensors.count) tensors, expected a \(kind) error", file: file, line: line)
            return nil
        } catch let error as SafeTensorsError {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertEqual(error.path, path, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(path + ": "), "\(error)", file: file, line: line)
            XCTAssertEqual(error.tensor, tensor, "\(error)", file: file, line: line)
            if let tensor {
                XCTAssertTrue(error.description.contains("tensor '\(tensor)'"), "\(error)", file: file, line: line)
            }
            if let fragment {
                XCTAssertTrue(error.message.contains(fragment), "'\(fragment)' not in: \(error)", file: file, line: line)
            }
            return error
        } catch {
            XCTFail("not a SafeTensorsError: \(error)", file: file, line: line)
            return nil
        }
    }

    private func assertBitIdentical(_ actual: Tensor, _ expected: Tensor, _ what: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        XCTAssertEqual(actual.scalars.map(\.bitPattern), expected.scalars.map(\.bitPattern), what, file: file, line: line)
    }

    // MARK: - Files written by Python

    func testReadsPythonF32File() throws {
        let path = Fixtures.path("safetensors/python_f32.safetensors")
        let file = try SafeTensorsFile(path: path)
        let side = try sideFile("python_f32.json")
        XCTAssertEqual(file.metadata, side["metadata"] as? [String: String])
        XCTAssertEqual(file.metadata["note"], "héllo")

        let expected = try XCTUnwrap(side["tensors"] as? [[String: Any]])
        XCTAssertEqual(Set(file.tensors.map(\.name)), Set(expected.map { $0["name"] as! String }))
        for entry in expected {
            let name = entry["name"] as! String
            let shape = (entry["shape"] as! [NSNumber]).map(\.intValue)
            let bits = (entry["bits"] as! [NSNumber]).map(\.uint32Value)
            let info = try XCTUnwrap(file.info(name), name)
            XCTAssertEqual(info.dtype, .F32)
            XCTAssertEqual(info.shape, shape, name)
            XCTAssertEqual(info.range.count, bits.count * 4, name)
            let tensor = try file.tensor(name)
            XCTAssertEqual(tensor.shape, shape, name)
            XCTAssertEqual(tensor.scalars.map(\.bitPattern), bits, name)
            // The readable values agree too (exactly: they are the same float32s).
            let values = (entry["values"] as! [NSNumber]).map { Float($0.doubleValue) }
            XCTAssertNil(mismatch(tensor.scalars, values, Tolerance(relative: 0)), name)
        }

        // Scalar and zero-size tensors.
        XCTAssertEqual(try file.tensor("scalar"), Tensor(shape: [], scalars: [3.25]))
        XCTAssertEqual(try file.tensor("empty"), Tensor(shape: [0, 3], scalars: []))

        // `tensors` is in data order and tiles the data buffer.
        var cursor = 0
        for info in file.tensors {
            XCTAssertEqual(info.range.lowerBound, cursor, info.name)
            cursor = info.range.upperBound
        }
        XCTAssertEqual(cursor, 184)
    }

    func testReadsPythonMixedFileExactly() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("safetensors/python_mixed.safetensors"))
        XCTAssertEqual(file.metadata, ["format": "mien-test", "content": "mixed dtypes"])
        let expected = try XCTUnwrap(try sideFile("python_mixed.json")["tensors"] as? [[String: Any]])
        XCTAssertEqual(file.tensors.count, expected.count)
        var dtypesSeen: Set<SafeTensorsDType> = []
        for entry in expected {
            let name = entry["name"] as! String
            let info = try XCTUnwrap(file.info(name), name)
            XCTAssertEqual(info.dtype.rawValue, entry["dtype"] as? String, name)
            XCTAssertEqual(info.shape, (entry["shape"] as! [NSNumber]).map(\.intValue), name)
            dtypesSeen.insert(info.dtype)
            guard let bits = (entry["float32_bits"] as? [NSNumber])?.map(\.uint32Value) else {
                // C64: valid in the file, but has no Float reading.
                XCTAssertThrowsError(try file.tensor(name)) { error in
                    let error = error as? SafeTensorsError
                    XCTAssertEqual(error?.kind, .dtype)
                    XCTAssertEqual(error?.tensor, name)
                }
                continue
            }
            let tensor = try file.tensor(name)
            XCTAssertEqual(tensor.shape, info.shape, name)
            XCTAssertEqual(tensor.count, bits.count, name)
            for (i, (actual, wanted)) in zip(tensor.scalars, bits).enumerated() {
                let wantedFloat = Float(bitPattern: wanted)
                if wantedFloat.isNaN {
                    XCTAssertTrue(actual.isNaN, "\(name)[\(i)]: got \(actual), expected NaN")
                } else {
                    XCTAssertEqual(actual.bitPattern, wanted, "\(name)[\(i)]: got \(actual), expected \(wantedFloat)")
                }
            }
        }
        XCTAssertEqual(dtypesSeen, Set(SafeTensorsDType.allCases).subtracting([.F32]),
                       "with python_f32, the fixtures cover every dtype")
        // F16 and BF16 keep NaN payloads and signed zeros, bit for bit.
        XCTAssertEqual(try file.tensor("bf16").scalars.map(\.bitPattern),
                       [0x3F80, 0xC020, 0x4049, 0x0001, 0x7F7F, 0xFF80, 0x7FC0, 0x8000].map { UInt32($0) << 16 })
    }

    func testHalfConversionMatchesFloat16ForEveryBitPattern() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = halfToFloat(bits)
            if expected.isNaN {
                XCTAssertTrue(actual.isNaN, "0x\(String(bits, radix: 16))")
                XCTAssertEqual(actual.bitPattern & 0x8000_0000, expected.bitPattern & 0x8000_0000)
            } else {
                XCTAssertEqual(actual.bitPattern, expected.bitPattern, "0x\(String(bits, radix: 16))")
            }
        }
    }

    func testE5M2IsTheTopByteOfAHalf() {
        // F8_E5M2 shares F16's exponent, so each byte must read like the half 0xBB00.
        for byte in 0..<256 {
            let expected = halfToFloat(UInt16(byte) << 8)
            let actual = Minifloat.e5m2[byte]
            XCTAssertTrue(actual.bitPattern == expected.bitPattern || (actual.isNaN && expected.isNaN), "0x\(String(byte, radix: 16))")
        }
        XCTAssertEqual(Minifloat.e4m3fn.filter(\.isNaN).count, 2)          // 0x7F, 0xFF
        XCTAssertEqual(Minifloat.e4m3fnuz.filter(\.isNaN).count, 1)        // 0x80
        XCTAssertEqual(Minifloat.e4m3fn.filter(\.isInfinite).count, 0)
        XCTAssertEqual(Minifloat.e4m3fn.filter { !$0.isNaN }.max(), 448)
    }

    func testMissingTensorNamesFileAndTensor() throws {
        let path = Fixtures.path("safetensors/python_f32.safetensors")
        let file = try SafeTensorsFile(path: path)
        XCTAssertNil(file.info("nope"))
        XCTAssertThrowsError(try file.tensor("nope")) { error in
            let error = error as? SafeTensorsError
            XCTAssertEqual(error?.kind, .missingTensor)
            XCTAssertEqual(error?.tensor, "nope")
            XCTAssertTrue(error?.description.hasPrefix(path + ": tensor 'nope': ") ?? false, "\(String(describing: error))")
            XCTAssertTrue(error?.message.contains("'dense/kernel'") ?? false, "lists the names it has")
        }
    }

    // MARK: - Round trip

    private let roundTripTensors: [(name: String, tensor: Tensor)] = [
        ("conv/kernel", Tensor(shape: [3, 3, 2, 4], scalars: (0..<72).map { Float($0) * 0.37 - 9 })),
        ("bias", Tensor(shape: [4], scalars: [1, -2, 0.5, 1e-3])),
        ("scalar", Tensor(shape: [], scalars: [42])),
        ("empty", Tensor(shape: [2, 0], scalars: [])),
        ("specials", Tensor(shape: [7], scalars: [
            -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
            Float(bitPattern: 0x7FC0_1234), Float(bitPattern: 0xFFA0_0001),   // NaNs with payloads
        ])),
        ("zz_last_but_written_first?", Tensor(shape: [1, 1], scalars: [7])),
    ]

    func testRoundTripIsBitIdentical() throws {
        let path = temp("round.safetensors")
        let metadata = ["format": "mien", "note": "héllo \"quoted\" \\ back/slash\nnew line", "empty": ""]
        try SafeTensorsWriter.write(roundTripTensors, metadata: metadata, to: path)

        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.metadata, metadata)
        XCTAssertEqual(file.tensors.map(\.name), roundTripTensors.map(\.name), "data order is the given order")
        for (name, tensor) in roundTripTensors {
            assertBitIdentical(try file.tensor(name), tensor, name)
        }
    }

    func testSwiftFileHasTheReferenceLayout() throws {
        let path = temp("layout.safetensors")
        try SafeTensorsWriter.write(roundTripTensors, metadata: [:], to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(n % 8, 0, "header padded to a multiple of 8")
        let headerBytes = bytes[8..<(8 + n)]
        let header = try XCTUnwrap(String(bytes: headerBytes, encoding: .utf8))
        XCTAssertTrue(header.hasPrefix("{"))
        let trimmed = header.replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        XCTAssertTrue(trimmed.hasSuffix("}"), "only spaces after the JSON")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: [String: Any]])
        XCTAssertNil(json["__metadata__"], "empty metadata is left out, as the reference writer does")
        var cursor = 0
        for (name, tensor) in roundTripTensors {
            let entry = try XCTUnwrap(json[name], name)
            XCTAssertEqual(entry["dtype"] as? String, "F32")
            XCTAssertEqual((entry["shape"] as? [NSNumber])?.map(\.intValue), tensor.shape)
            XCTAssertEqual((entry["data_offsets"] as? [NSNumber])?.map(\.intValue), [cursor, cursor + 4 * tensor.count], name)
            cursor += 4 * tensor.count
        }
        XCTAssertEqual(bytes.count, 8 + n + cursor, "the data buffer is covered exactly")
    }

    func testRoundTripOfPythonFile() throws {
        let source = try SafeTensorsFile(path: Fixtures.path("safetensors/python_f32.safetensors"))
        let tensors = try source.tensors.map { ($0.name, try source.tensor($0.name)) }
        let path = temp("copy.safetensors")
        try SafeTensorsWriter.write(tensors, metadata: source.metadata, to: path)
        let copy = try SafeTensorsFile(path: path)
        XCTAssertEqual(copy.metadata, source.metadata)
        XCTAssertEqual(copy.tensors, source.tensors, "same names, shapes, order and offsets")
        for (name, tensor) in tensors {
            assertBitIdentical(try copy.tensor(name), tensor, name)
        }
        // For `tools/make_safetensors_fixtures.py --check-swift FILE`: Python reads it back.
        if let export = ProcessInfo.processInfo.environment["MIEN_SAFETENSORS_EXPORT"], !export.isEmpty {
            try SafeTensorsWriter.write(tensors, metadata: source.metadata, to: export)
        }
    }

    // MARK: - Atomic writing

    func testWriteIntoMissingFolderFailsAndLeavesNothing() throws {
        let folder = temp("does-not-exist")
        let path = folder + "/model.safetensors"
        XCTAssertThrowsError(try SafeTensorsWriter.write(roundTripTensors, metadata: [:], to: path)) { error in
            let error = error as? SafeTensorsError
            XCTAssertEqual(error?.kind, .io)
            XCTAssertEqual(error?.path, path)
            XCTAssertTrue(error?.description.hasPrefix(path + ": ") ?? false)
            XCTAssertTrue(error?.message.contains("No such file or directory") ?? false, "\(String(describing: error))")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder))
        XCTAssertEqual(try folderContents(tempFolder), [])
    }

    func testSuccessfulWriteLeavesNoTemporaryFiles() throws {
        try SafeTensorsWriter.write(roundTripTensors, metadata: ["a": "b"], to: temp("model.safetensors"))
        XCTAssertEqual(try folderContents(tempFolder), ["model.safetensors"])
    }

    func testOverwriteReplacesTheFile() throws {
        let path = temp("model.safetensors")
        try SafeTensorsWriter.write(roundTripTensors, metadata: ["version": "1"], to: path)
        let replacement = Tensor(shape: [2], scalars: [5, 6])
        try SafeTensorsWriter.write([("only", replacement)], metadata: ["version": "2"], to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["version": "2"])
        XCTAssertEqual(file.tensors.map(\.name), ["only"])
        XCTAssertEqual(try file.tensor("only"), replacement)
        XCTAssertEqual(try folderContents(tempFolder), ["model.safetensors"])
    }

    func testOpenFileKeepsItsContentWhenOverwritten() throws {
        // The rename replaces the directory entry; an open (mapped) file keeps the old inode.
        let path = temp("model.safetensors")
        try SafeTensorsWriter.write([("x", Tensor(shape: [1], scalars: [1]))], metadata: [:], to: path)
        let old = try SafeTensorsFile(path: path)
        try SafeTensorsWriter.write([("x", Tensor(shape: [1], scalars: [2]))], metadata: [:], to: path)
        XCTAssertEqual(try old.tensor("x").scalars, [1])
        XCTAssertEqual(try SafeTensorsFile(path: path).tensor("x").scalars, [2])
    }

    func testFailedRenameRemovesTheTemporaryFile() throws {
        // The destination is a non-empty folder: everything is written, then rename fails.
        let path = temp("occupied")
        try FileManager.default.createDirectory(atPath: path + "/inside", withIntermediateDirectories: true)
        XCTAssertThrowsError(try SafeTensorsWriter.write(roundTripTensors, metadata: [:], to: path)) { error in
            let error = error as? SafeTensorsError
            XCTAssertEqual(error?.kind, .io)
            XCTAssertTrue(error?.message.contains("rename") ?? false, "\(String(describing: error))")
        }
        XCTAssertEqual(try folderContents(tempFolder), ["occupied"])
    }

    func testWriterRejectsBadNamesBeforeWriting() throws {
        let path = temp("model.safetensors")
        let t = Tensor(shape: [1], scalars: [1])
        for (tensors, name) in [([("a", t), ("a", t)], "a"), ([("__metadata__", t)], "__metadata__")] {
            XCTAssertThrowsError(try SafeTensorsWriter.write(tensors, metadata: [:], to: path)) { error in
                let error = error as? SafeTensorsError
                XCTAssertEqual(error?.kind, .header)
                XCTAssertEqual(error?.tensor, name)
            }
        }
        XCTAssertEqual(try folderContents(tempFolder), [])
    }

    func testEmptyFileRoundTrip() throws {
        // No tensors, no metadata: header "{}" padded, data length 0.
        let path = temp("empty.safetensors")
        try SafeTensorsWriter.write([], metadata: [:], to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.tensors, [])
        XCTAssertEqual(file.metadata, [:])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)).count, 16)
    }

    // MARK: - Hostile fixtures

    func testHostileFixtures() {
        let cases: [(String, SafeTensorsError.Kind, String?, String)] = [
            ("truncated", .truncated, "b", "past the end"),
            ("header_past_end", .truncated, nil, "header length 1000"),
            ("overlap", .offsets, "b", "overlap tensor 'a'"),
            ("gap", .offsets, "b", "gap"),
            ("wrong_byte_count", .byteCount, "w", "needs 24 bytes"),
            ("unknown_dtype", .dtype, "x", "'F7'"),
            ("bad_json", .header, nil, "not valid JSON"),
            ("huge_header", .header, nil, "9223372036854775808"),
            ("overflow_shape", .byteCount, "big", "overflows"),
            ("short", .truncated, nil, "3 bytes"),
            ("metadata_not_string", .header, nil, "'epoch'"),
        ]
        for (name, kind, tensor, fragment) in cases {
            assertRejects(Fixtures.path("safetensors/\(name).safetensors"), kind, tensor: tensor, containing: fragment)
        }
    }

    // MARK: - More hostile headers, made here

    private func entry(_ dtype: String = "F32", _ shape: String = "[2]", _ offsets: String = "[0, 8]") -> String {
        #"{"dtype": "\#(dtype)", "shape": \#(shape), "data_offsets": \#(offsets)}"#
    }

    func testRejectsMalformedHeaders() throws {
        let eight = floatBytes([1, 2])
        let cases: [(String, [UInt8], SafeTensorsError.Kind, String?, String)] = [
            ("zero_length", rawFile("", eight, length: 0), .header, nil, "header length is 0"),
            ("array", rawFile("[1, 2]"), .header, nil, "not an object"),
            ("string", rawFile(#""x""#), .header, nil, "not valid JSON"),
            ("not_utf8", rawFile("{\"a\u{1}\": 1}").enumerated().map { $0.offset == 11 ? 0xFF : $0.element }, .header, nil, "UTF-8"),
            ("entry_not_object", rawFile(#"{"a": 3}"#), .header, "a", "not an object"),
            ("no_dtype", rawFile(#"{"a": {"shape": [2], "data_offsets": [0, 8]}}"#, eight), .header, "a", "no 'dtype'"),
            ("no_offsets", rawFile(#"{"a": {"dtype": "F32", "shape": [2]}}"#, eight), .header, "a", "no 'data_offsets'"),
            ("dtype_number", rawFile(#"{"a": \#(entry("F32").replacingOccurrences(of: "\"F32\"", with: "32"))}"#, eight), .header, "a", "dtype is a number"),
            ("lowercase_dtype", rawFile(#"{"a": \#(entry("f32"))}"#, eight), .dtype, "a", "unknown dtype 'f32'"),
            ("sub_byte", rawFile(#"{"a": \#(entry("F4", "[16]"))}"#, eight), .dtype, "a", "several elements per byte"),
            ("negative_dim", rawFile(#"{"a": \#(entry("F32", "[-2]"))}"#, eight), .header, "a", "shape[0] is -2"),
            ("fraction_dim", rawFile(#"{"a": \#(entry("F32", "[2.5]"))}"#, eight), .header, "a", "shape[0] is 2.5"),
            ("float_dim", rawFile(#"{"a": \#(entry("F32", "[2.0]"))}"#, eight), .header, "a", "non-negative integers"),
            ("bool_dim", rawFile(#"{"a": \#(entry("F32", "[true, 2]"))}"#, eight), .header, "a", "shape[0] is true"),
            ("string_dim", rawFile(#"{"a": \#(entry("F32", #"["2"]"#))}"#, eight), .header, "a", #"shape[0] is "2""#),
            ("shape_object", rawFile(#"{"a": \#(entry("F32", "{}"))}"#, eight), .header, "a", "shape is an object"),
            ("huge_dim", rawFile(#"{"a": \#(entry("F32", "[18446744073709551615]"))}"#, eight), .header, "a", "non-negative integers"),
            ("three_offsets", rawFile(#"{"a": \#(entry("F32", "[2]", "[0, 8, 8]"))}"#, eight), .header, "a", "not [begin, end]"),
            ("negative_offset", rawFile(#"{"a": \#(entry("F32", "[2]", "[-8, 0]"))}"#, eight), .header, "a", "non-negative"),
            ("reversed", rawFile(#"{"a": \#(entry("F32", "[2]", "[8, 0]"))}"#, eight), .offsets, "a", "end before they begin"),
            ("byte_overflow", rawFile(#"{"a": \#(entry("F64", "[2305843009213693952]", "[0, 8]"))}"#, eight), .byteCount, "a", "byte count"),
            ("zero_dim_after_overflow", rawFile(#"{"a": \#(entry("F32", "[1099511627776, 1099511627776, 0]", "[0, 0]"))}"#), .byteCount, "a", "overflows"),
            ("past_end", rawFile(#"{"a": \#(entry("F32", "[4]", "[0, 16]"))}"#, eight), .truncated, "a", "past the end"),
            ("far_past_end", rawFile(#"{"a": \#(entry("U8", "[4611686018427387904]", "[0, 4611686018427387904]"))}"#, eight), .truncated, "a", "truncated"),
            ("trailing_bytes", rawFile(#"{"a": \#(entry("F32", "[1]", "[0, 4]"))}"#, eight), .offsets, nil, "4 trailing bytes"),
            ("data_without_tensors", rawFile("{}", eight), .offsets, nil, "belong to no tensor"),
            ("metadata_array", rawFile(#"{"__metadata__": ["a"]}"#), .header, nil, "__metadata__ is an array"),
            ("metadata_nested", rawFile(#"{"__metadata__": {"a": {"b": "c"}}}"#), .header, nil, "'a'"),
            // JSONSerialization keeps the last of duplicate keys; the bytes of the dropped one
            // are then owned by no tensor, so the layout check still refuses the file.
            ("duplicate", rawFile(#"{"a": \#(entry("F32", "[1]", "[0, 4]")), "a": \#(entry("F32", "[1]", "[4, 8]"))}"#, eight),
             .offsets, "a", "gap"),
        ]
        for (name, bytes, kind, tensor, fragment) in cases {
            let path = try writeRaw(bytes, name + ".safetensors")
            assertRejects(path, kind, tensor: tensor, containing: fragment)
        }
    }

    /// The reference reader refuses a byte-order mark before the header; so does Mien.
    func testRejectsAByteOrderMark() throws {
        let header = Array("\u{FEFF}{}".utf8)
        var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        bytes += header
        assertRejects(try writeRaw(bytes, "bom.safetensors"), .header, containing: "byte-order mark")
    }

    func testRejectsWhatIsNotAFile() throws {
        assertRejects(temp("missing.safetensors"), .io, containing: "no such file")
        assertRejects(tempFolder, .io, containing: "not a regular file")
        assertRejects(try writeRaw([], "empty.safetensors"), .truncated, containing: "0 bytes")
        assertRejects(try writeRaw([1, 0, 0, 0, 0, 0, 0], "seven.safetensors"), .truncated, containing: "7 bytes")
    }

    func testAcceptsOddButValidHeaders() throws {
        // Unpadded header of odd length (data not aligned), extra entry fields, null metadata,
        // trailing spaces, an empty tensor in front of another at the same offset.
        let header = #"{"__metadata__": null, "d": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16], "extra": 1}, "#
            + #""e": {"dtype": "I16", "shape": [0], "data_offsets": [16, 16]}, "f": {"dtype": "I16", "shape": [1], "data_offsets": [16, 18]}}   "#
        XCTAssertNotEqual(header.utf8.count % 8, 0)
        let data = withUnsafeBytes(of: (1.5).bitPattern.littleEndian, Array.init)
            + withUnsafeBytes(of: (-0.1).bitPattern.littleEndian, Array.init)
            + withUnsafeBytes(of: Int16(-300).littleEndian, Array.init)
        let path = try writeRaw(rawFile(header, data), "odd.safetensors")
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.metadata, [:])
        XCTAssertEqual(file.tensors.map(\.name), ["d", "e", "f"])
        XCTAssertEqual(try file.tensor("d").scalars, [1.5, Float(-0.1)])
        XCTAssertEqual(try file.tensor("e"), Tensor(shape: [0], scalars: []))
        XCTAssertEqual(try file.tensor("f").scalars, [-300])
    }

    func testConcurrentReads() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("safetensors/python_f32.safetensors"))
        let expected = try file.tensor("conv/kernel")
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            XCTAssertEqual(try? file.tensor("conv/kernel"), expected)
        }
    }
}
