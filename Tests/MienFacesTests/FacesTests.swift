import MienFaces
import Foundation
import MienNN
import MienTestSupport
import XCTest

/// Fixtures come from tools/make_faces_fixtures.py (see Tests/Fixtures/README.md, "faces/").
private func fixture(_ name: String) -> String {
    Fixtures.path("faces/\(name)")
}

private func faceError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> FaceDataError? {
    caught(FaceDataError.self, file: file, line: line, body)
}

extension FaceDataError: PathMessageError {}


/// A fresh temporary folder, removed after the test.
private func temporaryFolder(_ test: XCTestCase) throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("FacesTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.path
}

private func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
}

/// `folder_expected.json`.
private struct FolderExpected: Decodable {
    struct Entry: Decodable {
        var file: String
        var label: Int
    }
    var classes: [String]
    var faces: [Entry]
    var skipped: [String]

    static func load() throws -> (FolderExpected, [UInt8]) {
        let json = try Data(contentsOf: URL(fileURLWithPath: fixture("folder_expected.json")))
        let raw = try Data(contentsOf: URL(fileURLWithPath: fixture("folder_expected.raw")))
        return (try JSONDecoder().decode(FolderExpected.self, from: json), [UInt8](raw))
    }
}

/// `fer2013_expected.json`.
private struct CSVExpected: Decodable {
    struct Row: Decodable {
        var line: Int
        var emotion: Int
        var usage: String
        var pixel_sum: Int
        var first_pixels: [Int]
    }
    var rows: [Row]
    var malformed_line: Int

    static func load() throws -> CSVExpected {
        let json = try Data(contentsOf: URL(fileURLWithPath: fixture("fer2013_expected.json")))
        return try JSONDecoder().decode(CSVExpected.self, from: json)
    }
}

/// A synthetic data set: `counts[c]` faces of class c, each with a unique source.
private func syntheticDataset(_ counts: [Int]) -> FaceDataset {
    var faces: [Face] = []
    for (label, count) in counts.enumerated() {
        for i in 0..<count {
            let value = UInt8(truncatingIfNeeded: label * 31 + i)
            faces.append(Face(pixels: [UInt8](repeating: value, count: 48 * 48), label: label,
                              source: "synthetic/\(label)/\(i)"))
        }
    }
    return FaceDataset(classes: counts.indices.map { "class\($0)" }, faces: faces)
}

final class FaceLoadingTests: XCTestCase {
    let folder = fixture("folder/train")

    func testFolderLoadsClassesLabelsOrderAndPixels() throws {
        let (expected, raw) = try FolderExpected.load()
        let data = try FaceDataset.load(folder)
        XCTAssertEqual(data.classes, expected.classes)
        XCTAssertEqual(data.faces.map(\.source), expected.faces.map { "\(folder)/\($0.file)" })
        XCTAssertEqual(data.faces.map(\.label), expected.faces.map(\.label))
        XCTAssertEqual(data.counts, [4, 5])
        XCTAssertEqual(data.count, 9)
        for (i, face) in data.faces.enumerated() {
            XCTAssertEqual(face.pixels.count, 48 * 48)
            XCTAssertEqual(face.pixels, Array(raw[i * 2304..<(i + 1) * 2304]),
                           "pixels of \(face.source) differ from Pillow's (+ Keras's Resizing)")
        }
    }

    /// The 64×64 colour JPEG becomes Pillow's luminance, then Keras's bilinear Resizing to 48×48;
    /// the 40×40 PNG is upsampled the same way.
    func testColourAndSizeConversions() throws {
        let (expected, raw) = try FolderExpected.load()
        let data = try FaceDataset.load(folder)
        for name in ["angry/color_64.jpg", "happy/small_40.png", "happy/face.png"] {
            let index = try XCTUnwrap(expected.faces.firstIndex { $0.file == name })
            let face = try XCTUnwrap(data.faces.first { $0.source == "\(folder)/\(name)" }, name)
            XCTAssertEqual(face.pixels, Array(raw[index * 2304..<(index + 1) * 2304]), name)
        }
    }

    func testTruncatedImageIsSkippedWithAWarningOrRefusedWhenStrict() throws {
        let truncated = "\(folder)/angry/truncated.jpg"
        let data = try FaceDataset.load(folder)
        XCTAssertEqual(data.warnings.count, 1)
        let warning = try XCTUnwrap(data.warnings.first)
        XCTAssertTrue(warning.hasPrefix("\(truncated): truncated JPEG data"), warning)
        XCTAssertFalse(data.faces.contains { $0.source == truncated })

        let error = faceError { try FaceDataset.load(folder, strict: true) }
        assertError(error, path: truncated, contains: ["truncated JPEG data"])
    }

    func testClassSelectionPicksClassesAndLabelOrder() throws {
        let all = try FaceDataset.load(folder)
        let swapped = try FaceDataset.load(folder, classes: ["happy", "angry"])
        XCTAssertEqual(swapped.classes, ["happy", "angry"])
        XCTAssertEqual(swapped.counts, [5, 4])
        XCTAssertEqual(swapped.faces.map(\.source),
                       all.faces.filter { $0.label == 1 }.map(\.source) + all.faces.filter { $0.label == 0 }.map(\.source))
        XCTAssertEqual(swapped.faces.map(\.label), [0, 0, 0, 0, 0, 1, 1, 1, 1])
        for face in swapped.faces {
            let original = try XCTUnwrap(all.faces.first { $0.source == face.source })
            XCTAssertEqual(face.pixels, original.pixels)
            XCTAssertEqual(swapped.classes[face.label], all.classes[original.label])
        }

        let happyOnly = try FaceDataset.load(folder, classes: ["happy"])
        XCTAssertEqual(happyOnly.classes, ["happy"])
        XCTAssertEqual(happyOnly.counts, [5])
        XCTAssertTrue(happyOnly.warnings.isEmpty, "the truncated angry file is not read")
    }

    func testLoadingIsDeterministic() throws {
        let a = try FaceDataset.load(folder)
        let b = try FaceDataset.load(folder)
        XCTAssertEqual(a.faces, b.faces)
        XCTAssertEqual(a.warnings, b.warnings)
    }

    func testCSVLoadsEveryRowInClassThenLineOrder() throws {
        let path = fixture("fer2013.csv")
        let expected = try CSVExpected.load()
        let data = try FaceDataset.load(path)
        XCTAssertEqual(data.classes, FaceDataset.fer2013Classes)
        XCTAssertTrue(data.warnings.isEmpty)
        let order = expected.rows.sorted { ($0.emotion, $0.line) < ($1.emotion, $1.line) }
        XCTAssertEqual(data.faces.map(\.source), order.map { "\(path):\($0.line)" })
        XCTAssertEqual(data.faces.map(\.label), order.map(\.emotion))
        XCTAssertEqual(data.counts, [3, 1, 1, 3, 0, 1, 1])
        for (face, row) in zip(data.faces, order) {
            XCTAssertEqual(face.pixels.count, 2304)
            XCTAssertEqual(face.pixels.reduce(0) { $0 + Int($1) }, row.pixel_sum, face.source)
            XCTAssertEqual(face.pixels.prefix(4).map(Int.init), row.first_pixels, face.source)
        }
    }

    func testCSVUsageFilter() throws {
        let path = fixture("fer2013.csv")
        let expected = try CSVExpected.load()
        for usage in FaceDataset.fer2013Usages {
            let data = try FaceDataset.load(path, usage: usage)
            let rows = expected.rows.filter { $0.usage == usage }
                .sorted { ($0.emotion, $0.line) < ($1.emotion, $1.line) }
            XCTAssertEqual(data.faces.map(\.source), rows.map { "\(path):\($0.line)" }, usage)
            XCTAssertEqual(data.faces.map(\.label), rows.map(\.emotion), usage)
        }
        XCTAssertEqual(try FaceDataset.load(path, usage: "Training").count, 6)
        XCTAssertEqual(try FaceDataset.load(path, usage: "PublicTest").count, 2)
        XCTAssertEqual(try FaceDataset.load(path, usage: "PrivateTest").count, 2)
    }

    func testCSVClassSelectionRemapsLabels() throws {
        let path = fixture("fer2013.csv")
        let expected = try CSVExpected.load()
        let data = try FaceDataset.load(path, classes: ["happy", "angry"])
        XCTAssertEqual(data.classes, ["happy", "angry"])
        XCTAssertEqual(data.counts, [3, 3])
        let happy = expected.rows.filter { $0.emotion == 3 }.map { "\(path):\($0.line)" }
        let angry = expected.rows.filter { $0.emotion == 0 }.map { "\(path):\($0.line)" }
        XCTAssertEqual(data.faces.map(\.source), happy + angry)
        XCTAssertEqual(data.faces.map(\.label), [0, 0, 0, 1, 1, 1])

        let training = try FaceDataset.load(path, classes: ["angry", "happy"], usage: "Training")
        XCTAssertEqual(training.counts, [2, 2])
    }

    /// The same faces from a folder and from a CSV built from them.
    func testCSVAndFolderAgree() throws {
        let folderData = try FaceDataset.load(folder, classes: ["angry", "happy"])
        let dir = try temporaryFolder(self)
        var lines = ["emotion,pixels,Usage"]
        for face in folderData.faces {
            let emotion = FaceDataset.fer2013Classes.firstIndex(of: folderData.classes[face.label])!
            lines.append("\(emotion),\(face.pixels.map(String.init).joined(separator: " ")),Training")
        }
        let csv = dir + "/fer2013.csv"
        try write(lines.joined(separator: "\r\n") + "\r\n", to: csv)      // CRLF, as on Windows
        let csvData = try FaceDataset.load(csv, classes: ["angry", "happy"], usage: "Training")
        XCTAssertEqual(csvData.faces.map(\.pixels), folderData.faces.map(\.pixels))
        XCTAssertEqual(csvData.faces.map(\.label), folderData.faces.map(\.label))
    }
}

final class FaceLoadingErrorTests: XCTestCase {
    func testMissingFolderAndFile() {
        let folder = fixture("no_such_folder")
        assertError(faceError { try FaceDataset.load(folder) }, path: folder, contains: ["no such file or folder"])
        let csv = fixture("no_such.csv")
        assertError(faceError { try FaceDataset.load(csv) }, path: csv, contains: ["no such file or folder"])
        let image = fixture("folder/train/happy/face.png")
        assertError(faceError { try FaceDataset.load(image) }, path: image, contains: ["is an image", "fer2013.csv"])
    }

    func testRequestedClassWithoutFolder() {
        let folder = fixture("folder/train")
        let error = faceError { try FaceDataset.load(folder, classes: ["angry", "sad"]) }
        assertError(error, path: folder, contains: ["no class folder 'sad'", "found: angry, happy"])
    }

    func testEmptyClassFolder() {
        let root = fixture("empty_class")
        assertError(faceError { try FaceDataset.load(root) }, path: "\(root)/angry",
                    contains: ["class folder 'angry' has no .jpg, .jpeg or .png images"])
        // Without the empty class, the rest loads.
        XCTAssertEqual(try FaceDataset.load(root, classes: ["happy"]).counts, [1])
    }

    func testFolderWithoutClassFoldersAndLayoutRootHint() throws {
        let dir = try temporaryFolder(self)
        assertError(faceError { try FaceDataset.load(dir) }, path: dir, contains: ["no class folders"])
        // Passing the data set's root (train/, test/) instead of train/ names the class folders.
        let root = fixture("folder")
        assertError(faceError { try FaceDataset.load(root) }, path: "\(root)/train",
                    contains: ["no .jpg, .jpeg or .png images", "angry, happy", "pass \(root)/train itself?"])
    }

    func testNoReadableFaces() throws {
        let dir = try temporaryFolder(self)
        try FileManager.default.createDirectory(atPath: dir + "/angry", withIntermediateDirectories: true)
        let bad = dir + "/angry/bad.jpg"
        try write("not a JPEG", to: bad)
        assertError(faceError { try FaceDataset.load(dir) }, path: dir, contains: ["no faces could be read"])
        assertError(faceError { try FaceDataset.load(dir, strict: true) }, path: bad, contains: ["not a JPEG or PNG file"])
    }

    func testCSVClassNotInFER() {
        let csv = fixture("fer2013.csv")
        let error = faceError { try FaceDataset.load(csv, classes: ["happy", "sadness"]) }
        assertError(error, path: csv, contains: ["class 'sadness' is not one of the FER-2013 classes",
                                                 "angry, disgust, fear, happy, sad, surprise, neutral"])
    }

    func testCSVNoFaces() {
        let csv = fixture("fer2013.csv")
        let error = faceError { try FaceDataset.load(csv, classes: ["sad"]) }
        assertError(error, path: csv, contains: ["no faces", "sad"])
        let filtered = faceError { try FaceDataset.load(csv, classes: ["disgust"], usage: "PublicTest") }
        assertError(filtered, path: csv, contains: ["no faces with usage 'PublicTest'"])
    }

    func testMalformedCSVRowNamesItsLine() throws {
        let csv = fixture("fer2013_malformed.csv")
        let line = try CSVExpected.load().malformed_line
        assertError(faceError { try FaceDataset.load(csv) }, path: csv,
                    contains: ["line \(line):", "expected 2304 pixel values (48×48), found 2303"])
    }

    func testOtherMalformedCSVs() throws {
        let dir = try temporaryFolder(self)
        let pixels = [String](repeating: "7", count: 2304).joined(separator: " ")
        let cases: [(name: String, text: String, fragments: [String])] = [
            ("bad_emotion", "emotion,pixels,Usage\n0,\(pixels),Training\n7,\(pixels),Training\n",
             ["line 3:", "emotion '7' is not a FER-2013 label 0...6"]),
            ("bad_pixel", "emotion,pixels,Usage\n0,256 \(pixels.dropFirst(2)),Training\n",
             ["line 2:", "pixel value 256 is out of 0...255"]),
            ("bad_character", "emotion,pixels,Usage\n0,\(pixels.dropLast()) x,Training\n",
             ["line 2:", "'x'"]),
            ("fields", "emotion,pixels,Usage\n0,\(pixels),Training\n3,\(pixels)\n",
             ["line 3:", "expected 3 fields", "found 2"]),
            ("usage", "emotion,pixels,Usage\n0,\(pixels),Validation\n",
             ["line 2:", "Usage 'Validation' is not one of Training, PublicTest, PrivateTest"]),
            ("header", "label,image\n0,\(pixels)\n", ["line 1:", "unexpected column 'label'"]),
            ("no_pixels", "emotion,Usage\n0,Training\n", ["line 1:", "expected the header 'emotion,pixels,Usage'"]),
            ("extra", "emotion,pixels,Usage,extra\n0,\(pixels),Training,1\n", ["line 1:", "unexpected column 'extra'"]),
            ("twice", "emotion,pixels,pixels\n0,\(pixels),\(pixels)\n", ["line 1:", "unexpected column 'pixels'"]),
            ("empty", "", ["empty file"]),
        ]
        for c in cases {
            let path = "\(dir)/\(c.name).csv"
            try write(c.text, to: path)
            assertError(faceError { try FaceDataset.load(path) }, path: path, contains: c.fragments)
        }
        // Every row is checked, also those of another usage than the one asked for.
        let otherUsage = "\(dir)/other_usage.csv"
        try write("emotion,pixels,Usage\n0,\(pixels),Training\n3,\(pixels) 9,PublicTest\n", to: otherUsage)
        assertError(faceError { try FaceDataset.load(otherUsage, usage: "Training") }, path: otherUsage,
                    contains: ["line 3:", "found 2305"])
        // The same checks on a CSV held in memory (what the fuzz target drives).
        assertError(faceError { try FaceDataset.loadCSV(bytes: Array("emotion,pixels,Usage\n9,1,Training\n".utf8), path: "mem") },
                    path: "mem", contains: ["line 2:", "emotion '9'"])
        XCTAssertEqual(try FaceDataset.loadCSV(bytes: Array("emotion,pixels,Usage\n3,\(pixels),Training\n".utf8)).counts,
                       [0, 0, 0, 1, 0, 0, 0])
        // Without a Usage column the file loads, but cannot be filtered by usage.
        let noUsage = "\(dir)/no_usage.csv"
        try write("emotion,pixels\n3,\(pixels)\n\n", to: noUsage)
        XCTAssertEqual(try FaceDataset.load(noUsage).counts, [0, 0, 0, 1, 0, 0, 0])
        assertError(faceError { try FaceDataset.load(noUsage, usage: "Training") }, path: noUsage,
                    contains: ["no 'Usage' column"])
    }

    /// Not a regular file: a FIFO would block the reader forever.
    func testFIFOsAreRefusedNotRead() throws {
        let dir = try temporaryFolder(self)
        XCTAssertEqual(mkfifo("\(dir)/faces.csv", 0o644), 0)
        assertError(faceError { try FaceDataset.load("\(dir)/faces.csv") }, path: "\(dir)/faces.csv",
                    contains: ["FIFO", "not a regular file"])
        // In a class folder: skipped with a warning naming it, or an error with `strict`.
        for (name, face) in [("angry", "Training_10118481.jpg"), ("happy", "Training_10019449.jpg")] {
            try FileManager.default.createDirectory(atPath: "\(dir)/data/\(name)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: fixture("folder/train/\(name)/\(face)"), toPath: "\(dir)/data/\(name)/a.jpg")
        }
        XCTAssertEqual(mkfifo("\(dir)/data/happy/b.jpg", 0o644), 0)
        let loaded = try FaceDataset.load("\(dir)/data")
        XCTAssertEqual(loaded.counts, [1, 1])
        XCTAssertTrue(loaded.warnings.first?.contains("b.jpg") ?? false, "\(loaded.warnings)")
        assertError(faceError { try FaceDataset.load("\(dir)/data", strict: true) }, path: "\(dir)/data/happy/b.jpg",
                    contains: ["FIFO"])
    }

    func testBadArguments() {
        let csv = fixture("fer2013.csv")
        assertError(faceError { try FaceDataset.load(csv, usage: "Train") }, path: csv,
                    contains: ["unknown usage 'Train'", "Training, PublicTest, PrivateTest"])
        let folder = fixture("folder/train")
        assertError(faceError { try FaceDataset.load(folder, usage: "Training") }, path: folder,
                    contains: ["only applies to a fer2013.csv file"])
        assertError(faceError { try FaceDataset.load(folder, classes: ["happy", "happy"]) }, path: folder,
                    contains: ["class 'happy' is requested twice"])
        assertError(faceError { try FaceDataset.load(folder, classes: []) }, path: folder,
                    contains: ["no classes requested"])
    }
}

final class FaceSplitTests: XCTestCase {
    func testStratifiedCounts() {
        let data = syntheticDataset([100, 37, 5, 1])
        let (train, validation) = data.split(validationFraction: 0.2, seed: 7)
        // round(0.2 · n): 20, 7 (7.4), 1 (1.0), 0 (0.2).
        XCTAssertEqual(validation.counts, [20, 7, 1, 0])
        XCTAssertEqual(train.counts, [80, 30, 4, 1])
        XCTAssertEqual(train.classes, data.classes)
        XCTAssertEqual(validation.classes, data.classes)
        // Halves round up: 0.5 · 5 = 2.5 -> 3.
        XCTAssertEqual(syntheticDataset([5]).split(validationFraction: 0.5, seed: 1).validation.count, 3)
    }

    func testDisjointCoveringAndOrderKept() {
        let data = syntheticDataset([50, 20, 9])
        let (train, validation) = data.split(validationFraction: 0.3, seed: 99)
        let trainSources = Set(train.faces.map(\.source)), validationSources = Set(validation.faces.map(\.source))
        XCTAssertTrue(trainSources.isDisjoint(with: validationSources))
        XCTAssertEqual(trainSources.union(validationSources), Set(data.faces.map(\.source)))
        XCTAssertEqual(train.count + validation.count, data.count)
        let position = Dictionary(uniqueKeysWithValues: data.faces.enumerated().map { ($1.source, $0) })
        for part in [train, validation] {
            let positions = part.faces.map { position[$0.source]! }
            XCTAssertEqual(positions, positions.sorted(), "a split keeps the data set's order")
        }
    }

    func testReproducibleAndSeedDependent() {
        let data = syntheticDataset([60, 40])
        let a = data.split(validationFraction: 0.25, seed: 2024)
        let b = data.split(validationFraction: 0.25, seed: 2024)
        let c = data.split(validationFraction: 0.25, seed: 2025)
        XCTAssertEqual(a.validation.faces, b.validation.faces)
        XCTAssertEqual(a.train.faces, b.train.faces)
        XCTAssertNotEqual(a.validation.faces.map(\.source), c.validation.faces.map(\.source))
        // A class's split does not depend on the other classes.
        let alone = syntheticDataset([60]).split(validationFraction: 0.25, seed: 2024)
        XCTAssertEqual(alone.validation.faces.map(\.source),
                       a.validation.faces.filter { $0.label == 0 }.map(\.source))
    }

    func testEdgeFractionsAndSubset() {
        let data = syntheticDataset([10, 3])
        XCTAssertEqual(data.split(validationFraction: 0, seed: 1).validation.count, 0)
        XCTAssertEqual(data.split(validationFraction: 1, seed: 1).train.count, 0)
        let subset = data.subset([12, 0, 5])
        XCTAssertEqual(subset.faces.map(\.source), ["synthetic/1/2", "synthetic/0/0", "synthetic/0/5"])
        XCTAssertEqual(subset.counts, [2, 1])
    }

    /// `mien train --realigned`: a face's other framing is found by class folder and file
    /// name whatever the extension, in this set's order; one held unchanged or missing is left out.
    func testReframedMatchesByClassAndNameAndSkipsCopies() {
        func face(_ label: Int, _ source: String, _ value: UInt8) -> Face {
            Face(pixels: [UInt8](repeating: value, count: 4), label: label, source: source)
        }
        let data = FaceDataset(classes: ["angry", "happy"], faces: [
            face(0, "fer/angry/a.jpg", 1), face(0, "fer/angry/b.jpg", 2), face(1, "fer/happy/a.jpg", 3),
            face(1, "fer/happy/c.jpg", 4)])
        let aligned = FaceDataset(classes: ["angry", "happy"], faces: [
            face(0, "al/angry/b.png", 20), face(0, "al/angry/a.png", 10),   // another order
            face(1, "al/happy/a.png", 3),                                     // kept as it was
            face(1, "al/happy/z.png", 9)],                                    // not in `data`
            warnings: ["al/happy/bad.png: truncated"])
        let twins = data.reframed(by: aligned)
        XCTAssertEqual(twins.faces.map(\.source), ["al/angry/a.png", "al/angry/b.png"])
        XCTAssertEqual(twins.faces.map(\.label), [0, 0])
        XCTAssertEqual(twins.warnings, [], "the other set's warnings are reported where it is loaded")
        let both = data.appending(twins)
        XCTAssertEqual(both.counts, [4, 2])
        XCTAssertEqual(both.faces.suffix(2).map(\.pixels), [[10, 10, 10, 10], [20, 20, 20, 20]])
    }

    func testSplitOfRealFolder() throws {
        let data = try FaceDataset.load(fixture("folder/train"))
        let (train, validation) = data.split(validationFraction: 0.5, seed: 3)
        XCTAssertEqual(validation.counts, [2, 3])          // round(2.0), round(2.5)
        XCTAssertEqual(train.counts, [2, 2])
    }
}

final class AugmentationTests: XCTestCase {
    /// `transform` against tf_keras's `ImageDataGenerator.apply_transform` (scipy underneath)
    /// for fixed parameters and six draws of the usual FER augmentation.
    func testTransformEqualsKeras() throws {
        let golden = try Golden("faces/affine.io.h5")
        let input = try golden.tensor("input")
        XCTAssertEqual(input.shape, [48, 48])
        let count = try golden.int("count")
        XCTAssertEqual(count, 16)
        var worst: Float = 0
        for k in 0..<count {
            let dataset = try golden.root.dataset("output_\(k)")
            func value(_ name: String) throws -> Float {
                Float(try XCTUnwrap(try dataset.attribute(name).doubleValue, name))
            }
            let flip = try XCTUnwrap(try dataset.attribute("flip").intValue) != 0
            let expected = try golden.tensor("output_\(k)")
            let actual = Augmentation.transform(input.scalars, side: 48, theta: try value("theta"), tx: try value("tx"),
                                                ty: try value("ty"), zx: try value("zx"), zy: try value("zy"), flip: flip)
            if let m = mismatch(actual, expected.scalars, Tolerance(relative: 0, absolute: 1e-3 * 255)) {
                XCTFail("output_\(k): \(m)")
            }
            worst = max(worst, zip(actual, expected.scalars).map { abs($0 - $1) }.max()!)
        }
        // Same arithmetic as scipy in the same order: equal to float32 rounding.
        XCTAssertLessThanOrEqual(worst, 1e-4, "worst |Mien − Keras| = \(worst)")
    }

    func testNoneIsTheIdentity() {
        let pixels = (0..<2304).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        var g = SeededGenerator(seed: 1)
        XCTAssertEqual(Augmentation.none.apply(pixels, generator: &g), pixels.map(Float.init))
        XCTAssertTrue(Augmentation.none.isIdentity)
        XCTAssertFalse(Augmentation.standard.isIdentity)
        let floats = pixels.map(Float.init)
        XCTAssertEqual(Augmentation.transform(floats, side: 48, theta: 0, tx: 0, ty: 0, zx: 1, zy: 1, flip: false), floats)
        // A flip twice is the identity.
        let flipped = Augmentation.transform(floats, side: 48, theta: 0, tx: 0, ty: 0, zx: 1, zy: 1, flip: true)
        XCTAssertEqual(flipped[0], floats[47])
        XCTAssertEqual(Augmentation.transform(flipped, side: 48, theta: 0, tx: 0, ty: 0, zx: 1, zy: 1, flip: true), floats)
    }

    func testApplyIsReproducibleAndChangesTheFace() throws {
        let face = try FaceDataset.load(fixture("folder/train"), classes: ["happy"]).faces[0].pixels
        let augmentation = Augmentation.standard
        var a = SeededGenerator(seed: 77, streams: 1, 2), b = SeededGenerator(seed: 77, streams: 1, 2)
        var c = SeededGenerator(seed: 78, streams: 1, 2)
        let va = augmentation.apply(face, generator: &a)
        XCTAssertEqual(va, augmentation.apply(face, generator: &b))
        XCTAssertNotEqual(va, augmentation.apply(face, generator: &c))
        XCTAssertNotEqual(va, face.map(Float.init))
        XCTAssertEqual(va.count, 2304)
        XCTAssertTrue(va.allSatisfy { $0 >= 0 && $0 <= 255 })
        // The generator advanced: the next view differs.
        XCTAssertNotEqual(augmentation.apply(face, generator: &a), va)
        // apply = transform with the drawn parameters.
        var d = SeededGenerator(seed: 77, streams: 1, 2)
        let p = augmentation.randomParameters(side: 48, generator: &d)
        XCTAssertEqual(Augmentation.transform(face.map(Float.init), side: 48, parameters: p), va)
    }

    func testRandomParametersFollowKerasRanges() {
        let augmentation = Augmentation(rotation: 10, widthShift: 0.1, heightShift: 0.2, zoom: 0.1, horizontalFlip: true)
        var g = SeededGenerator(seed: 3)
        var flips = 0
        for _ in 0..<2000 {
            let p = augmentation.randomParameters(side: 48, generator: &g)
            XCTAssertTrue(abs(p.theta) <= 10)
            XCTAssertTrue(abs(p.tx) <= 0.2 * 48 + 1e-4)     // tx: height shift · height (Keras)
            XCTAssertTrue(abs(p.ty) <= 0.1 * 48 + 1e-4)     // ty: width shift · width
            XCTAssertTrue(p.zx >= 0.9 && p.zx <= 1.1 && p.zy >= 0.9 && p.zy <= 1.1)
            if p.flip { flips += 1 }
        }
        XCTAssertTrue(flips > 900 && flips < 1100, "\(flips) flips of 2000")
        var h = SeededGenerator(seed: 3)
        XCTAssertEqual(Augmentation(rotation: 5).randomParameters(side: 48, generator: &h).zx, 1)
    }

    func testCodable() throws {
        let data = try JSONEncoder().encode(Augmentation.standard)
        XCTAssertEqual(try JSONDecoder().decode(Augmentation.self, from: data), .standard)
        XCTAssertEqual(Augmentation.standard,
                       Augmentation(rotation: 10, widthShift: 0.1, heightShift: 0.1, zoom: 0.1, horizontalFlip: true))
    }

    /// 48×48 is tiny: one view takes microseconds in a release build. The bound here is loose
    /// enough for a debug build on a busy machine.
    func testSpeed() {
        let pixels = (0..<2304).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        var g = SeededGenerator(seed: 9)
        let start = DispatchTime.now().uptimeNanoseconds
        var checksum: Float = 0
        for _ in 0..<200 {
            checksum += Augmentation.standard.apply(pixels, generator: &g)[1000]
        }
        let perView = Double(DispatchTime.now().uptimeNanoseconds - start) / 200 / 1000
        XCTAssertTrue(checksum > 0)
        XCTAssertLessThan(perView, 2000, "one view took \(perView) µs")
    }
}

final class FaceBatchTests: XCTestCase {
    func testBatchesCoverAnEpochOnce() {
        let data = syntheticDataset([30, 13])
        let batches = data.batches(size: 8, seed: 1, epoch: 0)
        XCTAssertEqual(batches.map(\.count), [8, 8, 8, 8, 8, 3])
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<43))
        XCTAssertEqual(batches, data.batches(size: 8, seed: 1, epoch: 0))
        XCTAssertNotEqual(batches, data.batches(size: 8, seed: 1, epoch: 1))
        XCTAssertNotEqual(batches, data.batches(size: 8, seed: 2, epoch: 0))
        XCTAssertEqual(data.batches(size: 8, seed: 1, epoch: 0, dropLast: true).map(\.count), [8, 8, 8, 8, 8])
        XCTAssertEqual(data.batches(size: 20, seed: 1, epoch: 0, shuffle: false),
                       [Array(0..<20), Array(20..<40), Array(40..<43)])
    }

    func testBatchTensorAndReproducibleAugmentation() throws {
        let data = try FaceDataset.load(fixture("folder/train"))
        let indices = [3, 0, 8]
        let plain = data.batch(indices)
        XCTAssertEqual(plain.images.shape, [3, 48, 48, 1])
        XCTAssertEqual(plain.labels, indices.map { data.faces[$0].label })
        XCTAssertEqual(Array(plain.images.scalars[2304..<4608]), data.faces[0].pixels.map(Float.init))

        let a = data.batch(indices, augmentation: .standard, seed: 5, epoch: 2, batch: 4)
        let b = data.batch(indices, augmentation: .standard, seed: 5, epoch: 2, batch: 4)
        let c = data.batch(indices, augmentation: .standard, seed: 5, epoch: 3, batch: 4)
        XCTAssertEqual(a.images, b.images)
        XCTAssertNotEqual(a.images, c.images)
        XCTAssertNotEqual(a.images, plain.images)
        XCTAssertEqual(a.labels, plain.labels)
    }
}
