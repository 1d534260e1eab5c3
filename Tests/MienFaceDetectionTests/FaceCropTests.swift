import Foundation
@testable import MienFaceDetection
import MienImages
import MienTestSupport
import XCTest

/// The FER-2013-style crop of each detected face against the face that was pasted there
/// (`Tests/Fixtures/mtcnn/photos/face_*.png`: the FER-2013 test face, 48×48, before it was
/// scaled, turned and pasted by `tools/make_mtcnn.py`).
final class FaceCropTests: XCTestCase {
    /// FER-2013's own crops vary (the face's size in them by ~19%, its turn by ~9°), so the
    /// checks are on medians over the 15 placed faces, with loose bounds on each; the default
    /// detector finds them.
    func testCropsLandWhereTheFacesWerePlaced() throws {
        let detector = try FaceDetector(folder: Fixtures.packageRoot.appendingPathComponent("Weights/" + FaceDetector.defaultFolder).path)
        let photos = try PhotoFixtures.load()
        var offsets: [Float] = [], sides: [Float] = [], same: [Float] = [], other: [Float] = [], exact: [Float] = []
        let originals = try photos.photos.flatMap { $0.faces ?? [] }.map {
            try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/photos/\($0.face)"), channels: 1)
        }
        var index = 0
        for photo in photos.photos {
            guard let placed = photo.faces else { continue }
            let image = try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/photos/\(photo.file)"))
            let found = try detector.detect(image)
            for face in placed {
                let box = PhotoFixtures.box(face.box)
                let detected = try XCTUnwrap(found.max { $0.box.iou(box) < $1.box.iou(box) })
                var crop = FaceCrop(detected)
                let (cx, cy) = (box.x + box.width / 2, box.y + box.height / 2)
                offsets.append(hypot(crop.centerX - cx, crop.centerY - cy) / box.width)
                sides.append(crop.side / box.width)
                // Loose: face_01_1's face is turned some 30° inside its own FER-2013 square, so
                // the levelled crop's centre lies a quarter of the side from the square's (0.26
                // with the default detector, which this test runs).
                XCTAssertLessThan(offsets.last!, 0.3, "\(photo.file) \(face.face)")
                XCTAssertEqual(sides.last!, 1, accuracy: 0.6, "\(photo.file) \(face.face)")
                // The original is unlevelled: turned as it was pasted (PIL turns counter-
                // clockwise, so by −angle in image coordinates), the cut should be it.
                crop.angle = -face.angle * .pi / 180
                let cut = crop.cut(from: image, size: 48)
                same.append(correlation(cut, originals[index]))
                other.append(correlation(cut, originals[(index + 1) % originals.count]))
                // The cut itself: at the placed square, the original comes back (up to JPEG).
                let placedSquare = FaceCrop(centerX: cx - 0.5, centerY: cy - 0.5, side: box.width, angle: crop.angle)
                exact.append(correlation(placedSquare.cut(from: image, size: 48), originals[index]))
                index += 1
            }
        }
        func median(_ v: [Float]) -> Float { v.sorted()[v.count / 2] }
        XCTAssertEqual(offsets.count, 15)
        XCTAssertGreaterThan(exact.min()!, 0.95, "correlation of the placed square's cut with the original")
        XCTAssertLessThan(median(offsets), 0.08, "median centre offset / side")
        XCTAssertEqual(median(sides), 1, accuracy: 0.12, "median side / placed side")
        // A shift of 5% of the side (2.4 pixels of 48) already halves the correlation.
        XCTAssertGreaterThan(median(same), 0.45, "median correlation with the original face")
        XCTAssertLessThan(median(other), 0.35, "median correlation with another face")
    }

    /// Pearson's correlation of two images' pixels.
    func correlation(_ a: Image, _ b: Image) -> Float {
        let x = a.pixels.map(Float.init), y = b.pixels.map(Float.init)
        let (mx, my) = (x.reduce(0, +) / Float(x.count), y.reduce(0, +) / Float(y.count))
        var (sxy, sxx, syy): (Float, Float, Float) = (0, 0, 0)
        for (p, q) in zip(x, y) {
            sxy += (p - mx) * (q - my)
            sxx += (p - mx) * (p - mx)
            syy += (q - my) * (q - my)
        }
        return sxy / max(sqrt(sxx * syy), 1e-6)
    }

    /// `FaceDetector.realign`: a FER-2013 crop is cut again as faces in photos are, so the
    /// same face turned by 12° comes back level: its two realignments correlate far better
    /// than the two crops did, and than realignments of different faces.
    func testRealignLevelsAndFramesCropsAsPhotosAre() throws {
        let detector = try FaceDetector(folder: Fixtures.packageRoot.appendingPathComponent("Weights/" + FaceDetector.defaultFolder).path)
        let names = try PhotoFixtures.load().photos.flatMap { $0.faces ?? [] }.map(\.face)
        var before: [Float] = [], after: [Float] = [], others: [Float] = [], previous: Image?
        for name in names {
            let original = try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/photos/\(name)"), channels: 1)
            let turned = FaceCrop(centerX: 23.5, centerY: 23.5, side: 48, angle: 12 * .pi / 180).cut(from: original, size: 48)
            guard let upright = try detector.realign(crop: original, size: 48),
                  let level = try detector.realign(crop: turned, size: 48) else { continue }
            XCTAssertEqual([upright.image.width, upright.image.height, upright.image.channels], [48, 48, 1])
            // The face lies in the middle of the canvas, whose inner 144×144 is the crop.
            XCTAssertEqual(upright.face.box.x + upright.face.box.width / 2, 144, accuracy: 30, name)
            before.append(correlation(original, turned))
            after.append(correlation(upright.image, level.image))
            if let previous { others.append(correlation(upright.image, previous)) }
            previous = upright.image
        }
        func median(_ v: [Float]) -> Float { v.sorted()[v.count / 2] }
        XCTAssertGreaterThanOrEqual(after.count, 12, "faces found in 15 crops")
        // Measured: 15 found, medians 0.88 realigned against 0.70 for the crops themselves.
        XCTAssertGreaterThan(median(after), 0.8, "turned and upright realign alike: \(after)")
        XCTAssertGreaterThan(median(after), median(before) + 0.1, "realigned against the crops: \(after) against \(before)")
        XCTAssertLessThan(median(others), 0.5, "different faces stay different")
        // No face in a flat picture: nil, not a guess.
        XCTAssertNil(try detector.realign(crop: Image(width: 48, height: 48, channels: 1, pixels: [UInt8](repeating: 90, count: 2304)), size: 48))
        XCTAssertNil(try detector.realign(crop: Image(width: 0, height: 0, channels: 1, pixels: []), size: 48))
    }

    /// A crop in a photo's corner repeats the edge pixels; a gray or RGB output of any size.
    func testCutAtTheEdgeAndSizes() {
        let image = Image(width: 4, height: 4, channels: 3, pixels: (0..<48).map { UInt8($0 * 5) })
        let crop = FaceCrop(centerX: 0, centerY: 0, side: 8, angle: 0)
        let gray = crop.cut(from: image, size: 8)
        XCTAssertEqual([gray.width, gray.height, gray.channels], [8, 8, 1])
        XCTAssertEqual(gray.pixels[0], image.grayscale().pixels[0])
        XCTAssertEqual(crop.cut(from: image, size: 3, channels: 3).pixels.count, 27)
        XCTAssertEqual(crop.cut(from: image, size: 0).pixels.count, 0)
        // A square that is not finite (from a damaged detector) cuts a black face, no trap.
        XCTAssertEqual(FaceCrop(centerX: .nan, centerY: 1, side: .infinity, angle: 0).cut(from: image, size: 4).pixels,
                       [UInt8](repeating: 0, count: 16))
    }

    /// The cut converts only the pixels its square can reach, and so cuts exactly what it cut
    /// from the whole converted photo: turned squares (the corners reach furthest at 45°),
    /// squares over an edge or wholly outside, larger than the photo, tiny, of negative side,
    /// gray and RGB.
    func testCutFromItsRegionEqualsCutFromTheWholePhoto() {
        let image = Image(width: 37, height: 29, channels: 3, pixels: (0..<(37 * 29 * 3)).map { UInt8(($0 * 7919) % 251) })
        let squares = [FaceCrop(centerX: 18, centerY: 14, side: 12, angle: 0),
                       FaceCrop(centerX: 18.3, centerY: 13.6, side: 15, angle: .pi / 4),
                       FaceCrop(centerX: 2, centerY: 27.5, side: 20, angle: -0.3),
                       FaceCrop(centerX: 36.9, centerY: 0.2, side: 9.5, angle: 2.9),
                       FaceCrop(centerX: -40, centerY: 60, side: 10, angle: 0.1),
                       FaceCrop(centerX: 18, centerY: 14, side: 90, angle: 0.7),
                       FaceCrop(centerX: 5.5, centerY: 7.25, side: 0.5, angle: 1),
                       FaceCrop(centerX: 20, centerY: 10, side: -14, angle: 0.2)]
        for (i, square) in squares.enumerated() {
            for (size, channels) in [(48, 1), (7, 3), (5, 1)] {
                XCTAssertEqual(square.cut(from: image, size: size, channels: channels),
                               square.cut(from: image, size: size, channels: channels, wholePhoto: true),
                               "square \(i), \(size)×\(size)×\(channels)")
            }
        }
    }

    /// Landmarks that coincide: the crop falls back to the box, unturned.
    func testDegenerateLandmarksUseTheBox() {
        let p = FacePoint(x: 10, y: 10)
        let face = DetectedFace(box: FaceBox(x: 0, y: 0, width: 40, height: 52), confidence: 0.9,
                                landmarks: FaceLandmarks(leftEye: p, rightEye: p, nose: p, mouthLeft: p, mouthRight: p))
        let crop = FaceCrop(face)
        XCTAssertEqual(crop.centerX, 20)
        XCTAssertEqual(crop.centerY, 26)
        XCTAssertEqual(crop.angle, 0)
        XCTAssertEqual(crop.side, (40 / 0.799 + 52 / 1.049) / 2, accuracy: 1e-4)
    }
}
