import Foundation
import MienImages
import MienTestSupport
import XCTest

/// `mien predict` on ordinary photos: faces found, cut and classified, one result per face;
/// `--annotate`; crops as before; and the bad inputs, each a one-line error.
final class PhotoCommandTests: XCTestCase {
    let model = Fixtures.packageRoot.appendingPathComponent("Weights/fer7.mien").path
    func photo(_ name: String) -> String { Fixtures.path("mtcnn/photos/\(name)") }

    func json(_ arguments: [String]) throws -> [[String: Any]] {
        let result = try runMien(["predict"] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]], result.stdout)
    }

    /// Three FER-2013 test faces pasted on a photo (`tools/make_mtcnn.py`): three results,
    /// each at a placed face, each labelled as the same model labels the original crop.
    func testEachFaceOfAPhotoIsFoundAndClassifiedLikeItsCrop() throws {
        let placed: [(box: [Double], face: String)] = [([266, 80, 144, 144], "face_05_0.png"),
                                                        ([64, 28, 88, 88], "face_05_1.png"),
                                                        ([414, 252, 135, 135], "face_05_2.png")]
        let output = try json([model, photo("composed_05.jpg")])
        let faces = try XCTUnwrap(output.first?["faces"] as? [[String: Any]])
        XCTAssertEqual(faces.count, 3)
        let crops = try json([model] + placed.map { photo($0.face) })
        var agree = 0
        for (i, p) in placed.enumerated() {
            let match = faces.first { face in
                let b = face["box"] as? [Double] ?? []
                return b.count == 4 && abs(b[0] + b[2] / 2 - (p.box[0] + p.box[2] / 2)) < p.box[2] / 4
                    && abs(b[1] + b[3] / 2 - (p.box[1] + p.box[3] / 2)) < p.box[3] / 4
            }
            let face = try XCTUnwrap(match, "no face found at \(p.box)")
            XCTAssertGreaterThan(face["confidence"] as? Double ?? 0, 0.9)
            XCTAssertEqual((face["scores"] as? [Double])?.count, 7)
            XCTAssertEqual((face["landmarks"] as? [String: [Double]])?.keys.sorted(),
                           ["left_eye", "mouth_left", "mouth_right", "nose", "right_eye"])
            if face["label"] as? String == crops[i]["label"] as? String { agree += 1 }
        }
        XCTAssertGreaterThanOrEqual(agree, 2, "labels of the faces in the photo against their crops")
    }

    /// `--annotate` writes the photo with boxes drawn (a PNG the size of the photo), and the
    /// CSV has a row per face with the box and the detector's confidence.
    func testAnnotateAndCSV() throws {
        let folder = try makeTemporaryFolder()
        let out = folder.appendingPathComponent("out.png").path
        let result = try runMien(["predict", model, photo("composed_02.jpg"), "--annotate", out, "--format", "csv"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "file,face,box_x,box_y,box_width,box_height,confidence,label,score_angry,score_disgust,score_fear,score_happy,score_sad,score_surprise,score_neutral")
        XCTAssertEqual(lines.count, 4)
        let drawn = try ImageDecoder.decode(contentsOf: out)
        let original = try ImageDecoder.decode(contentsOf: photo("composed_02.jpg"))
        XCTAssertEqual([drawn.width, drawn.height, drawn.channels], [original.width, original.height, 3])
        let changed = zip(drawn.pixels, original.pixels).filter { abs(Int($0) - Int($1)) > 40 }.count
        XCTAssertGreaterThan(changed, 1000, "boxes and labels drawn")
        XCTAssertLessThan(changed, drawn.pixels.count / 4)
    }

    /// A photo without a face: an empty list, exit 0. `--no-detect`: the old result, the
    /// whole picture resized as one face. A 48×48 image is a crop (no `faces`), and so is
    /// anything up to 96×96.
    func testNoFaceNoDetectAndCrops() throws {
        let folder = try makeTemporaryFolder()
        let empty = folder.appendingPathComponent("wall.png").path
        let wall = Image(width: 320, height: 240, channels: 3, pixels: [UInt8](repeating: 150, count: 320 * 240 * 3))
        try Data(PNGEncoder.encode(wall)).write(to: URL(fileURLWithPath: empty))
        XCTAssertEqual((try json([model, empty]).first?["faces"] as? [Any])?.count, 0)
        let noDetect = try json([model, photo("composed_05.jpg"), "--no-detect"])
        XCTAssertNil(noDetect.first?["faces"])
        XCTAssertEqual((noDetect.first?["scores"] as? [Double])?.count, 7)
        let crop = try json([model, photo("face_05_0.png")])
        XCTAssertNil(crop.first?["faces"])
        XCTAssertNotNil(crop.first?["label"])
        let small = folder.appendingPathComponent("small.png").path
        try Data(PNGEncoder.encode(Image(width: 96, height: 80, channels: 1, pixels: [UInt8](repeating: 9, count: 96 * 80))))
            .write(to: URL(fileURLWithPath: small))
        XCTAssertNil(try json([model, small]).first?["faces"])
    }

    /// `--timing` on a photo: the latency line, then its split into decoding, finding the
    /// faces and classifying them (the format only: tests do not time).
    func testTimingSplitsAPhotosLatency() throws {
        let result = try runMien(["predict", model, photo("composed_06.jpg"), "--timing", "--repeat", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, result.stderr)
        XCTAssertNotNil(lines[0].range(of: #"^timing: load [0-9.]+ ms; single image [0-9.]+ ms median, [0-9.]+ ms p99 over 2 runs$"#,
                                        options: .regularExpression), lines[0])
        XCTAssertNotNil(lines.last?.range(of: #"^timing: photos, medians: decode [0-9.]+ ms, find the faces [0-9.]+ ms, cut and classify them [0-9.]+ ms$"#,
                                           options: .regularExpression), result.stderr)
        // A crop has no such split.
        let crop = try runMien(["predict", model, photo("face_05_0.png"), "--timing", "--repeat", "2"])
        XCTAssertEqual(crop.status, 0, crop.stderr)
        XCTAssertEqual(crop.stderr.split(separator: "\n").count, 1, crop.stderr)
    }

    /// A model in a folder without the detector, run from elsewhere: the detector is found in
    /// the Weights/ of the checkout the binary was built in (the binary sits in
    /// .build/<triple>/<configuration>, reached through the .build/<configuration> link).
    func testDetectorIsFoundInTheCheckoutOfTheBinary() throws {
        let folder = try makeTemporaryFolder()
        let copy = folder.appendingPathComponent("model.mien")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: model), to: copy)
        let result = try runBuiltProduct(try mienExecutable(), ["predict", copy.path, photo("composed_05.jpg"), "--format", "json"],
                                         in: folder)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("\"faces\""), result.stdout)
    }

    /// The default detector is `Weights/mtcnn-fer` (the FER-tuned networks, at their
    /// `detector.json`'s thresholds), not the package's networks in `Weights/`.
    func testDefaultDetectorIsTheFERTunedOne() throws {
        let weights = Fixtures.packageRoot.appendingPathComponent("Weights").path
        func faces(_ options: [String]) throws -> [[String: Any]] {
            try XCTUnwrap(json([model, photo("composed_01.jpg")] + options).first?["faces"] as? [[String: Any]])
        }
        let chosen = try faces([]), tuned = try faces(["--detector", weights + "/mtcnn-fer"]), package = try faces(["--detector", weights])
        let confidences = { (f: [[String: Any]]) in f.map { $0["confidence"] as? Double ?? -1 } }
        XCTAssertEqual(confidences(chosen), confidences(tuned))
        XCTAssertNotEqual(confidences(chosen), confidences(package))
        XCTAssertEqual(confidences(tuned), confidences(try faces(["--detector", weights + "/mtcnn-fer", "--face-thresholds", "0.5,0.5,0.8"])))
    }

    /// Each refusal: non-zero exit, one line naming the option or file, nothing written.
    func testBadInputIsRefusedClearly() throws {
        let folder = try makeTemporaryFolder()
        let out = folder.appendingPathComponent("out.png").path
        // The package's networks with a manifest whose thresholds are out of range.
        let badManifest = try makeTemporaryFolder()
        for name in ["mtcnn_pnet.mien", "mtcnn_rnet.mien", "mtcnn_onet.mien"] {
            try FileManager.default.copyItem(at: Fixtures.packageRoot.appendingPathComponent("Weights/\(name)"),
                                             to: badManifest.appendingPathComponent(name))
        }
        try Data(#"{"thresholds": [0.5, 0.2, 7]}"#.utf8).write(to: badManifest.appendingPathComponent("detector.json"))
        let cases: [([String], String)] = [
            ([photo("composed_05.jpg"), photo("composed_06.jpg"), "--annotate", out], "--annotate takes one image"),
            ([photo("composed_05.jpg"), "--annotate", out, "--no-detect"], "cannot go with --no-detect"),
            ([photo("face_05_0.png"), "--annotate", out], "taken as a face crop"),
            ([photo("composed_05.jpg"), "--min-face-size", "5"], "--min-face-size"),
            ([photo("composed_05.jpg"), "--face-thresholds", "0.5,0.6"], "--face-thresholds must be three scores"),
            ([photo("composed_05.jpg"), "--face-thresholds", "0.5,1,0.7"], "--face-thresholds must be three scores"),
            ([photo("composed_05.jpg"), "--detector", folder.path], "--detector '\(folder.path)' holds no mtcnn_pnet.mien, mtcnn_rnet.mien, mtcnn_onet.mien"),
            ([photo("composed_05.jpg"), "--detector", badManifest.path], "detector.json: thresholds"),
            ([photo("composed_05.jpg"), "--detector", ""], "--detector '' is not a folder"),
            ([photo("composed_05.jpg"), "--detector", model], "--detector '\(model)' is not a folder"),
        ]
        for (arguments, message) in cases {
            let result = try runMien(["predict", model] + arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(arguments) wrote \(out)")
        }
        // A photo larger than the detector takes (here 4097×4097 gray, a small PNG).
        let huge = folder.appendingPathComponent("huge.png").path
        try Data(PNGEncoder.encode(Image(width: 4097, height: 4097, channels: 1, pixels: [UInt8](repeating: 0, count: 4097 * 4097))))
            .write(to: URL(fileURLWithPath: huge))
        let result = try runMien(["predict", model, huge])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("huge.png: 4097×4097 is more than"), result.stderr)
    }
}
