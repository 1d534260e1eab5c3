import Foundation
@testable import MienFaceDetection
import MienImages
import MienNN
import MienTestSupport
import XCTest

/// The detector on photos with known faces (`Tests/Fixtures/mtcnn/photos`, made by
/// `tools/make_mtcnn.py`: FER-2013 *test* faces pasted at known boxes and angles on
/// scikit-image's sample photos, and its astronaut photo), against the placed boxes and
/// against what the `mtcnn` 1.0.0 package finds in the same files.
final class FaceDetectorTests: XCTestCase {
    static let weights = Fixtures.packageRoot.appendingPathComponent("Weights").path

    func box(_ v: [Float]) -> FaceBox { PhotoFixtures.box(v) }

    /// The same faces as the package, with its pyramid (smallest face 20), thresholds and last
    /// suppression (0.7 of the smaller box): boxes within IoU
    /// 0.85, confidences within 0.02, landmarks within 4% of the box's width. The stages
    /// differ in small ways the tolerances cover: greedy NMS (the package drops a box that
    /// any earlier box overlaps, even one itself dropped) and crops in pixel coordinates (the
    /// package divides by the image's size where `crop_and_resize` expects size − 1).
    func testFindsWhatTheMTCNNPackageFinds() throws {
        let detector = try FaceDetector(folder: Self.weights, options: FaceDetectorOptions(minFaceSize: 20, thresholds: [0.6, 0.7, 0.8], mirrorScores: false,
                                                                                           duplicateOverlap: 0.7))
        var compared = 0
        for photo in try PhotoFixtures.load().photos {
            let image = try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/photos/\(photo.file)"))
            let found = try detector.detect(image)
            XCTAssertEqual(found.count, photo.mtcnn.count, photo.file)
            for expected in photo.mtcnn {
                guard let match = found.max(by: { $0.box.iou(box(expected.box)) < $1.box.iou(box(expected.box)) }) else { continue }
                XCTAssertGreaterThan(match.box.iou(box(expected.box)), 0.85, "\(photo.file): \(match.box) vs \(expected.box)")
                XCTAssertEqual(match.confidence, expected.confidence, accuracy: 0.02, photo.file)
                let l = match.landmarks
                let points = ["left_eye": l.leftEye, "right_eye": l.rightEye, "nose": l.nose,
                              "mouth_left": l.mouthLeft, "mouth_right": l.mouthRight]
                for (name, p) in points {
                    let q = try XCTUnwrap(expected.keypoints[name])
                    XCTAssertLessThan(hypot(p.x - q[0], p.y - q[1]), 0.04 * expected.box[2], "\(photo.file) \(name)")
                }
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 15)
    }

    /// Every placed face is found, at the default settings, and nothing else: a detection
    /// lies on a placed face when its centre is inside the face's square and it is 0.25–1.5
    /// of its side wide (as `tools/bench_faces.py` counts; MTCNN's box is the face, which
    /// fills anything from half of a FER-2013 crop to all of it).
    func testFindsEveryPlacedFaceAndNothingElse() throws {
        try checkFindsEveryPlacedFaceAndNothingElse(folder: Self.weights, thresholds: FaceDetectorOptions.defaultThresholds)
    }

    func checkFindsEveryPlacedFaceAndNothingElse(folder: String, thresholds: [Float]? = nil) throws {
        let detector = try FaceDetector(folder: folder, options: FaceDetectorOptions(thresholds: thresholds))
        func lies(_ f: FaceBox, on placed: [Float]) -> Bool {
            let (cx, cy) = (f.x + f.width / 2, f.y + f.height / 2)
            return (placed[0]...(placed[0] + placed[2])).contains(cx) && (placed[1]...(placed[1] + placed[3])).contains(cy)
                && (0.25 * placed[2]...1.5 * placed[2]).contains(f.width)
        }
        for photo in try PhotoFixtures.load().photos {
            guard let placed = photo.faces else { continue }
            let image = try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/photos/\(photo.file)"))
            let found = try detector.detect(image)
            for face in placed {
                XCTAssertTrue(found.contains { lies($0.box, on: face.box) }, "\(photo.file): missed \(face.box)")
            }
            for f in found {
                XCTAssertTrue(placed.contains { lies(f.box, on: $0.box) }, "\(photo.file): false positive \(f.box)")
            }
        }
    }

    /// The default detector (`Weights/mtcnn-fer`: the networks fine-tuned on FER-2013-style
    /// faces, at the thresholds its `detector.json` gives, 0.5, 0.5, 0.8) also finds every
    /// placed face and nothing else.
    func testFERTunedDetectorFindsEveryPlacedFace() throws {
        try checkFindsEveryPlacedFaceAndNothingElse(folder: Self.ferTuned)
    }

    static let ferTuned = weights + "/" + FaceDetector.defaultFolder

    /// With `mirrorScores`, O-Net's score is the mean of its scores on the crop and on the
    /// crop's mirror image: the latter is O-Net alone on the mirrored photo, at the mirrored
    /// box (whose 48×48 samples are the crop's, mirrored).
    func testMirrorScoreIsTheMeanOfBothCrops() throws {
        let image = try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/photos/composed_05.jpg")).rgb()
        var mirrored = image
        for y in 0..<image.height {
            for x in 0..<image.width {
                for k in 0..<3 { mirrored.pixels[(y * image.width + x) * 3 + k] = image.pixels[(y * image.width + image.width - 1 - x) * 3 + k] }
            }
        }
        let thresholds: [Float] = [0.5, 0.2, 0]
        let alone = try FaceDetector(folder: Self.weights, options: FaceDetectorOptions(thresholds: thresholds, mirrorScores: false))
        let both = try FaceDetector(folder: Self.weights, options: FaceDetectorOptions(thresholds: thresholds, mirrorScores: true))
        let w = Float(image.width)
        var checked = 0
        for face in try both.detect(image) {
            let b = face.box
            let box = FaceDetector.Candidate(x1: b.x, y1: b.y, x2: b.x + b.width, y2: b.y + b.height, score: 1)
            let flipped = FaceDetector.Candidate(x1: w - box.x2, y1: box.y1, x2: w - box.x1, y2: box.y2, score: 1)
            let a = try XCTUnwrap(alone.output(Plane(image), [box], cores: 1).first).confidence
            let m = try XCTUnwrap(alone.output(Plane(mirrored), [flipped], cores: 1).first).confidence
            let mean = try XCTUnwrap(both.output(Plane(image), [box], cores: 1).first).confidence
            XCTAssertEqual(mean, (a + m) / 2, accuracy: 1e-4)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0)
    }

    /// Real photos from a registry package (Debian's opencv-doc, `tools/make_real_photos.sh`):
    /// the footballer's face in `messi5.jpg` (548×342, the face about 30 pixels wide) and the
    /// face of the man on the left in `basketball1.png` (640×480, gray). The man on the right
    /// turns his face away and is not expected; the stadium crowd in `messi5.jpg` has blurred
    /// faces of its own, so other detections are not counted as false there. The expected
    /// regions were read off the photos by eye. Both faces are under FER-2013's 48 pixels, the
    /// default smallest face, so the detector looks down to 40 here; by default the
    /// footballer's is skipped.
    func testFindsTheFacesInRealPhotos() throws {
        for folder in [Self.weights, Self.ferTuned] {
            let detector = try FaceDetector(folder: folder, options: FaceDetectorOptions(minFaceSize: 40))
            for (file, region) in Self.realFaces {
                let found = try detector.detect(try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/real/\(file)")))
                let hit = try XCTUnwrap(Self.face(in: region, found), "\(folder) \(file): no face in \(region), found \(found.map(\.box))")
                XCTAssertGreaterThan(hit.confidence, 0.9, "\(folder) \(file)")
                XCTAssertTrue((20...60).contains(Int(hit.box.width)), "\(folder) \(file): \(hit.box)")
            }
            // The man on the right in basketball1.png turns away: nothing else is a face there.
            let basketball = try detector.detect(try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/real/basketball1.png")))
            XCTAssertEqual(basketball.count, 1, "\(folder): \(basketball.map(\.box))")
        }
    }

    static let realFaces = [("messi5.jpg", (x: 215...265, y: 80...140)), ("basketball1.png", (x: 65...110, y: 85...135))]

    static func face(in region: (x: ClosedRange<Int>, y: ClosedRange<Int>), _ found: [DetectedFace]) -> DetectedFace? {
        found.first { f in region.x.contains(Int(f.box.x + f.box.width / 2)) && region.y.contains(Int(f.box.y + f.box.height / 2)) }
    }

    /// The FER-tuned networks learned faces 48–200 pixels wide and alone lose the footballer's
    /// 28-pixel face; with `detector.json`, P-Net's 40-pixel level is the package's, and so
    /// are the R-Net and O-Net that judge its candidates, which find it.
    func testSmallFacesGoToTheSmallFacesNetworks() throws {
        let image = try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/real/messi5.jpg"))
        let region = Self.realFaces[0].1
        let alone = try FaceDetector(networks: MTCNNNetworks(folder: Self.ferTuned), thresholds: [0.5, 0.5, 0.8])
        XCTAssertNil(Self.face(in: region, try alone.detect(image)))
        let routed = try FaceDetector(folder: Self.ferTuned, options: FaceDetectorOptions(minFaceSize: 40))
        XCTAssertEqual(routed.thresholds, [0.5, 0.5, 0.8])
        XCTAssertEqual(routed.smallFaces?.below, 48)
        XCTAssertNotNil(Self.face(in: region, try routed.detect(image)))
        // By default the pyramid starts at 48 pixels, FER-2013's side, and skips it.
        XCTAssertNil(Self.face(in: region, try FaceDetector(folder: Self.ferTuned).detect(image)))
        // The options' thresholds stand over the folder's.
        XCTAssertEqual(try FaceDetector(folder: Self.ferTuned, options: FaceDetectorOptions(thresholds: [0.6, 0.3, 0.9])).thresholds, [0.6, 0.3, 0.9])
        XCTAssertEqual(try FaceDetector(folder: Self.weights).thresholds, FaceDetectorOptions.defaultThresholds)
    }

    /// One core or two: the same faces (the pyramid's levels and the crops are independent;
    /// only the products' float32 summation order may differ with the batch's split).
    func testOneCoreEqualsTwo() throws {
        let detector = try FaceDetector(folder: Self.weights)
        let image = try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/photos/composed_05.jpg"))
        let (one, two) = (try detector.detect(image, cores: 1), try detector.detect(image, cores: 2))
        XCTAssertEqual(one.count, two.count)
        for (a, b) in zip(one, two) {
            XCTAssertGreaterThan(a.box.iou(b.box), 0.9999)
            XCTAssertEqual(a.confidence, b.confidence, accuracy: 1e-5)
        }
    }

    /// No face: an empty list, for a flat image, noise, and images too small for P-Net.
    func testNoFaceGivesAnEmptyList() throws {
        let detector = try FaceDetector(folder: Self.weights)
        XCTAssertEqual(try detector.detect(Image(width: 640, height: 480, channels: 3,
                                                 pixels: [UInt8](repeating: 90, count: 640 * 480 * 3))), [])
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<(320 * 240)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        XCTAssertEqual(try detector.detect(Image(width: 320, height: 240, channels: 1, pixels: noise)), [])
        for (w, h) in [(0, 0), (11, 400), (400, 11), (12, 12)] {
            XCTAssertEqual(try detector.detect(Image(width: w, height: h, channels: 1, pixels: [UInt8](repeating: 0, count: w * h))), [])
        }
    }

    /// TensorFlow's AREA resize (`mtcnn`'s pyramid): the mean over each output pixel's area.
    func testAreaResizeAveragesCoveredPixels() {
        // 3 → 2 columns: the first output covers pixel 0 and half of pixel 1.
        // Normalized as the networks take pixels: (p − 127.5) / 128.
        let plane = Plane(width: 3, height: 1, pixels: [0, 0, 0, 3, 3, 3, 6, 6, 6])
        let resized = plane.areaResized(width: 2, height: 1)
        let first: Float = (0 * 1 + 3 * 0.5) / 1.5, second: Float = (3 * 0.5 + 6 * 1) / 1.5
        XCTAssertEqual(resized[0], (first - 127.5) / 128, accuracy: 1e-6)
        XCTAssertEqual(resized[3], (second - 127.5) / 128, accuracy: 1e-6)
        // A 37×23 RGB plane to 13×9 (rows of 111 values: the vector loops' remainders), in
        // every kernel build, against the mean over each output pixel's area in Double; float
        // sums of up to ~12 terms: 1e-5 of the value range.
        let (w, h, ow, oh) = (37, 23, 13, 9)
        let noise = Plane(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8(($0 * 7919 + 13) % 256) })
        var expected = [Float]()
        let (sx, sy) = (Double(w) / Double(ow), Double(h) / Double(oh))
        for i in 0..<oh {
            for j in 0..<ow {
                for c in 0..<3 {
                    var sum = 0.0
                    for y in 0..<h {
                        let dy = min(Double(y + 1), Double(i + 1) * sy) - max(Double(y), Double(i) * sy)
                        guard dy > 0 else { continue }
                        for x in 0..<w {
                            let dx = min(Double(x + 1), Double(j + 1) * sx) - max(Double(x), Double(j) * sx)
                            if dx > 0 { sum += dx * dy * Double(noise.pixels[(y * w + x) * 3 + c]) }
                        }
                    }
                    expected.append(Float((sum / (sx * sy) - 127.5) / 128))
                }
            }
        }
        everyKernelBuild { build in
            if let bad = mismatch(noise.areaResized(width: ow, height: oh), expected, Tolerance(relative: 0, absolute: 1e-5)) {
                XCTFail("\(build): \(bad)")
            }
        }
    }

    /// The last suppression drops a less confident box that lies `duplicateOverlap` inside
    /// another (here 0.62 of it, like the second boxes the validation photos showed) and keeps
    /// one beside it.
    func testDuplicateBoxesOfOneFaceAreDropped() {
        let face = FaceDetector.Candidate(x1: 50, y1: 171, x2: 129, y2: 281, score: 0.9996)
        let second = FaceDetector.Candidate(x1: 76, y1: 159, x2: 152, y2: 254, score: 0.93)
        let beside = FaceDetector.Candidate(x1: 200, y1: 171, x2: 279, y2: 281, score: 0.95)
        let w = min(face.x2, second.x2) - max(face.x1, second.x1), h = min(face.y2, second.y2) - max(face.y1, second.y1)
        XCTAssertEqual(w * h / second.area, 0.62, accuracy: 0.02)
        let boxes = [second, face, beside]
        XCTAssertEqual(FaceDetector.suppress(boxes, threshold: FaceDetectorOptions().duplicateOverlap, byMinimum: true).map(\.score), [0.9996, 0.95])
        XCTAssertEqual(FaceDetector.suppress(boxes, threshold: 0.7, byMinimum: true).map(\.score), [0.9996, 0.95, 0.93])
    }

    /// Options out of range are refused, naming the setting.
    func testOptionsAreValidated() {
        for options in [FaceDetectorOptions(minFaceSize: 5), FaceDetectorOptions(scaleFactor: 1),
                        FaceDetectorOptions(scaleFactor: .nan), FaceDetectorOptions(thresholds: [0.5, 0.5]),
                        FaceDetectorOptions(duplicateOverlap: 0), FaceDetectorOptions(duplicateOverlap: .nan)] {
            XCTAssertThrowsError(try options.validate())
        }
    }

    /// A weights folder without the networks: one error naming the missing file.
    func testMissingWeightsNameTheFile() throws {
        let folder = try makeTemporaryFolder()
        XCTAssertThrowsError(try FaceDetector(folder: folder.path)) { error in
            XCTAssertTrue("\(error)".contains("mtcnn_pnet.mien"), "\(error)")
        }
    }

    /// A bad `detector.json` is one error naming the file and the problem, never ignored.
    func testBadManifestsNameTheFile() throws {
        let cases: [(String, String)] = [
            ("{", "not a detector manifest"),
            (#"{"thresholds": [0.5, 0.2]}"#, "thresholds"),
            (#"{"thresholds": [0.5, 0.2, 1.5]}"#, "thresholds"),
            (#"{"small_faces": {"below": 5, "folder": ".."}}"#, "below must be 12...16384"),
            (#"{"small_faces": {"below": 48}}"#, "not a detector manifest"),
            (#"{"small_faces": {"below": 48, "folder": "nowhere"}}"#, "nowhere/mtcnn_pnet.mien"),
            (String(repeating: " ", count: 70_000) + "{}", "limit"),
        ]
        for (text, expected) in cases {
            let folder = try makeTemporaryFolder()
            for name in FaceDetector.fileNames {
                try FileManager.default.copyItem(atPath: Self.weights + "/" + name, toPath: folder.appendingPathComponent(name).path)
            }
            try Data(text.utf8).write(to: folder.appendingPathComponent(DetectorManifest.fileName))
            XCTAssertThrowsError(try FaceDetector(folder: folder.path), text.prefix(60) + "") { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
                XCTAssertTrue("\(error)".contains(folder.path), "\(error)")
            }
        }
        // A folder where the manifest should be is refused too.
        let folder = try makeTemporaryFolder()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(DetectorManifest.fileName), withIntermediateDirectories: false)
        XCTAssertThrowsError(try DetectorManifest.read(folder: folder.path)) { XCTAssertTrue("\($0)".contains(DetectorManifest.fileName), "\($0)") }
    }
}
