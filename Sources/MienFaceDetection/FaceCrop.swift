import Foundation
import MienImages

/// A detected face cut out the way FER-2013's faces look, so a model trained on FER-2013 sees
/// what it was trained on: a square around the face, turned so that the eyes are level, in
/// gray, at the model's raw input size.
///
/// Where FER-2013's square lies relative to MTCNN's landmarks was measured by
/// `tools/make_mtcnn.py` on 400 FER-2013 training faces (`Tests/Fixtures/mtcnn/fer_crop.json`,
/// medians over the 357 found once): the centre is 0.299 of the way from the eyes' midpoint
/// to the mouth's (and −0.007 across), the side 2.5 times that distance; MTCNN's box is
/// 0.799 of the side wide and 1.049 tall.
public struct FaceCrop: Sendable, Equatable {
    /// The square's centre in the photo (pixel coordinates, as the detector's: pixel k's
    /// centre is k), its side in pixels, and its turn in radians (the angle of the eye line,
    /// y down: positive when the right eye is lower).
    public var centerX: Float
    public var centerY: Float
    public var side: Float
    public var angle: Float

    static let along: Float = 0.299
    static let across: Float = -0.007
    static let sidePerEyesToMouth: Float = 2.5
    static let boxWidth: Float = 0.799
    static let boxHeight: Float = 1.049

    public init(centerX: Float, centerY: Float, side: Float, angle: Float) {
        self.centerX = centerX
        self.centerY = centerY
        self.side = side
        self.angle = angle
    }

    /// The square around a whole picture (its longer side; a shorter side repeats its edge
    /// when cut), for a picture that is already a face crop.
    public static func whole(_ image: Image) -> FaceCrop {
        FaceCrop(centerX: Float(image.width) / 2 - 0.5, centerY: Float(image.height) / 2 - 0.5,
                 side: Float(max(image.width, image.height)), angle: 0)
    }

    /// The FER-2013 square of a detected face. The side is the mean of what the landmarks
    /// and the box each say (either alone is off by ~19% on a face in ten); the centre comes
    /// from the landmarks, and the turn from the eye line, unless `level` is false.
    public init(_ face: DetectedFace, level: Bool = true) {
        let l = face.landmarks
        let eyes = ((l.leftEye.x + l.rightEye.x) / 2, (l.leftEye.y + l.rightEye.y) / 2)
        let mouth = ((l.mouthLeft.x + l.mouthRight.x) / 2, (l.mouthLeft.y + l.mouthRight.y) / 2)
        let d = hypot(mouth.0 - eyes.0, mouth.1 - eyes.1)
        let fromBox = (face.box.width / Self.boxWidth + face.box.height / Self.boxHeight) / 2
        guard d.isFinite, d > 1 else {
            // Landmarks that coincide: the box alone.
            self.init(centerX: face.box.x + face.box.width / 2, centerY: face.box.y + face.box.height / 2,
                      side: fromBox, angle: 0)
            return
        }
        let u = ((mouth.0 - eyes.0) / d, (mouth.1 - eyes.1) / d), v = (-u.1, u.0)
        let centre = (eyes.0 + d * (Self.along * u.0 + Self.across * v.0),
                      eyes.1 + d * (Self.along * u.1 + Self.across * v.1))
        let angle = level ? atan2(l.rightEye.y - l.leftEye.y, l.rightEye.x - l.leftEye.x) : 0
        self.init(centerX: centre.0, centerY: centre.1, side: (Self.sidePerEyesToMouth * d + fromBox) / 2,
                  angle: angle.isFinite ? angle : 0)
    }

    /// The square, cut from `image` at `size`×`size` in gray (or `channels` 3). Each output
    /// pixel averages up to 4×4 bilinear samples when the square is larger than the output
    /// (a 200-pixel face to 48 would alias otherwise); outside the photo the nearest edge
    /// pixel is repeated.
    public func cut(from image: Image, size: Int, channels: Int = 1) -> Image {
        cut(from: image, size: size, channels: channels, wholePhoto: false)
    }

    /// `wholePhoto` converts every pixel, as the cut did before it took only its region
    /// (the tests compare the two).
    func cut(from image: Image, size: Int, channels: Int, wholePhoto: Bool) -> Image {
        let count = max(0, size) * max(0, size) * channels
        guard size > 0, image.width > 0, image.height > 0,
              [centerX, centerY, side, angle].allSatisfy(\.isFinite) else {
            return Image(width: max(0, size), height: max(0, size), channels: channels, pixels: [UInt8](repeating: 0, count: count))
        }
        let step = side / Float(size)
        let samples = min(4, max(1, Int(step.rounded(.up))))
        let (cosA, sinA) = (cos(angle), sin(angle))
        let maxX = Float(image.width - 1), maxY = Float(image.height - 1)
        // Only the pixels the turned square can sample are converted (gray or RGB), not the
        // whole photo: a face in a 640×480 frame needs a few percent of it.
        // (A negative side, from a damaged detector or a caller, samples the same square mirrored.)
        let reach = abs(side) / 2 * (abs(cosA) + abs(sinA)) + 2
        func bounds(_ centre: Float, _ top: Float) -> (Int, Int) {
            // A sample clamped to the first pixel still reads the next one (with weight 0).
            (Int(min(max((centre - reach).rounded(.down), 0), top)), Int(min(max((centre + reach).rounded(.up), 0) + 1, top)))
        }
        let (originX, lastX) = wholePhoto ? (0, image.width - 1) : bounds(centerX, maxX)
        let (originY, lastY) = wholePhoto ? (0, image.height - 1) : bounds(centerY, maxY)
        let region = image.region(x: originX, y: originY, width: lastX - originX + 1, height: lastY - originY + 1)
        let source = channels == 1 ? region.grayscale() : region.rgb()
        var out = [UInt8](repeating: 0, count: count)
        var sum = [Float](repeating: 0, count: channels)
        source.pixels.withUnsafeBufferPointer { px in
            for i in 0..<size {
                for j in 0..<size {
                    for c in 0..<channels { sum[c] = 0 }
                    for si in 0..<samples {
                        for sj in 0..<samples {
                            // Offsets from the centre in the square's own axes.
                            let u = (Float(j) + (Float(sj) + 0.5) / Float(samples)) * step - side / 2
                            let v = (Float(i) + (Float(si) + 0.5) / Float(samples)) * step - side / 2
                            let x = min(max(centerX + u * cosA - v * sinA, 0), maxX)
                            let y = min(max(centerY + u * sinA + v * cosA, 0), maxY)
                            let (x0, y0) = (Int(x), Int(y))
                            let (x1, y1) = (min(x0 + 1, image.width - 1), min(y0 + 1, image.height - 1))
                            let (dx, dy) = (x - Float(x0), y - Float(y0))
                            for c in 0..<channels {
                                func at(_ yy: Int, _ xx: Int) -> Float {
                                    Float(px[((yy - originY) * source.width + xx - originX) * channels + c])
                                }
                                let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * dx
                                let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * dx
                                sum[c] += top + (bottom - top) * dy
                            }
                        }
                    }
                    for c in 0..<channels {
                        let mean = sum[c] / Float(samples * samples)
                        out[(i * size + j) * channels + c] = UInt8(min(max(mean.rounded(), 0), 255))
                    }
                }
            }
        }
        return Image(width: size, height: size, channels: channels, pixels: out)
    }
}
