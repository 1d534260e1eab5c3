import MienImages
import MienModelFile
import MienNN

/// A face found in a photo and what the model says of it.
public struct FaceResult: Sendable, Equatable {
    public var face: DetectedFace
    /// The square the model saw (see `FaceCrop`).
    public var crop: FaceCrop
    public var prediction: Prediction
}

extension FaceResult {
    /// One face as `mien predict` and `mien serve` write it: `"box"` (`[x, y, width,
    /// height]`), `"confidence"`, `"landmarks"` and the prediction's `"scores"` and `"label"`.
    public func jsonObject(top: Int? = nil) -> [String: Any] {
        func point(_ p: FacePoint) -> [Double] { [Double(p.x), Double(p.y)] }
        let b = face.box, l = face.landmarks
        return prediction.jsonObject(top: top).merging([
            "box": [b.x, b.y, b.width, b.height].map(Double.init),
            "confidence": Double(face.confidence),
            "landmarks": ["left_eye": point(l.leftEye), "right_eye": point(l.rightEye), "nose": point(l.nose),
                          "mouth_left": point(l.mouthLeft), "mouth_right": point(l.mouthRight)],
        ]) { $1 }
    }
}

/// The whole job on an ordinary photo or a video frame: find the faces, cut each the way
/// FER-2013's faces look, and classify them, with one detector and one model loaded once.
/// Immutable: any number of threads may call it at once.
public final class PhotoPredictor: Sendable {
    public let detector: FaceDetector
    public let predictor: Predictor

    public init(detector: FaceDetector, predictor: Predictor) throws {
        guard predictor.imageSize.height == predictor.imageSize.width else {
            throw FaceDetectionError(path: predictor.model.source,
                                     "faces are cut square, but the model takes \(predictor.imageSize.height)×\(predictor.imageSize.width) images")
        }
        self.detector = detector
        self.predictor = predictor
    }

    /// The faces in `photo` (named `source` in errors), most confident first, each with the
    /// model's prediction.
    public func predict(photo: Image, source: String = "image", cores: Int = BatchRunner.cores) throws -> [FaceResult] {
        try timedPredict(photo: photo, source: source, cores: cores).results
    }

    /// `predict`, with the time spent finding the faces and cutting and classifying them
    /// (what `mien predict --timing` splits a photo's latency into).
    public func timedPredict(photo: Image, source: String = "image", cores: Int = BatchRunner.cores) throws
        -> (results: [FaceResult], detect: Duration, classify: Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        let faces = try detector.detect(photo, source: source, cores: cores)
        let found = clock.now
        guard !faces.isEmpty else { return ([], found - start, .zero) }
        let crops = faces.map { FaceCrop($0) }
        let (size, channels) = (predictor.imageSize.height, predictor.imageSize.channels)
        let predictions = try predictor.predict(images: crops.map { $0.cut(from: photo, size: size, channels: channels) })
        let results = zip(zip(faces, crops), predictions).map { FaceResult(face: $0.0, crop: $0.1, prediction: $1) }
        return (results, found - start, clock.now - found)
    }

    /// `photo` with each face's box and its label and score drawn on it, in RGB.
    public static func annotate(_ photo: Image, _ results: [FaceResult]) -> Image {
        var image = photo.rgb()
        let thickness = max(2, min(image.width, image.height) / 240)
        for result in results {
            let b = result.face.box
            let color = Self.color(for: result.prediction.index)
            let (x, y, w, h) = (Int(b.x.rounded()), Int(b.y.rounded()), Int(b.width.rounded()), Int(b.height.rounded()))
            image.stroke(x: x, y: y, width: w, height: h, thickness: thickness, color)
            let score = result.prediction.ranked.first?.score ?? 0
            let text = "\(result.prediction.label) \(Int((score * 100).rounded()))%"
            let scale = max(1, min(4, w / 60))
            let size = Image.textSize(text, scale: scale)
            let pad = scale * 2
            // Above the box, or inside its top when the box touches the photo's top.
            let top = y - size.height - 2 * pad >= 0 ? y - size.height - 2 * pad : y
            image.fill(x: x, y: top, width: size.width + 2 * pad, height: size.height + 2 * pad, color)
            image.draw(text, x: x + pad, y: top + pad, scale: scale, .white)
        }
        return image
    }

    /// A distinct, dark-enough colour per class (white text stays readable on it).
    static func color(for index: Int) -> Image.Color {
        let palette = [Image.Color(214, 39, 40), Image.Color(44, 160, 44), Image.Color(148, 103, 189),
                       Image.Color(31, 119, 180), Image.Color(127, 127, 127), Image.Color(23, 130, 150),
                       Image.Color(230, 120, 10)]
        return palette[((index % palette.count) + palette.count) % palette.count]
    }
}
