/// A face box in pixels: the top-left corner and the size (what `fer` and `mtcnn` print as
/// `box: [x, y, width, height]`).
public struct FaceBox: Sendable, Equatable, Codable {
    public var x: Float
    public var y: Float
    public var width: Float
    public var height: Float

    public init(x: Float, y: Float, width: Float, height: Float) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// Intersection over union with another box (0 when either is empty).
    public func iou(_ other: FaceBox) -> Float {
        let w = min(x + width, other.x + other.width) - max(x, other.x)
        let h = min(y + height, other.y + other.height) - max(y, other.y)
        let inter = max(0, w) * max(0, h)
        let union = width * height + other.width * other.height - inter
        return union > 0 ? inter / union : 0
    }
}

public struct FacePoint: Sendable, Equatable, Codable {
    public var x: Float
    public var y: Float

    public init(x: Float, y: Float) {
        self.x = x
        self.y = y
    }
}

/// MTCNN's five landmarks. "Left" is the left of the picture (the person's right eye), as in
/// the `mtcnn` package.
public struct FaceLandmarks: Sendable, Equatable, Codable {
    public var leftEye: FacePoint
    public var rightEye: FacePoint
    public var nose: FacePoint
    public var mouthLeft: FacePoint
    public var mouthRight: FacePoint

    public init(leftEye: FacePoint, rightEye: FacePoint, nose: FacePoint, mouthLeft: FacePoint, mouthRight: FacePoint) {
        self.leftEye = leftEye
        self.rightEye = rightEye
        self.nose = nose
        self.mouthLeft = mouthLeft
        self.mouthRight = mouthRight
    }
}

/// A face the detector found: its box, the detector's confidence (0…1) and its landmarks.
public struct DetectedFace: Sendable, Equatable, Codable {
    public var box: FaceBox
    public var confidence: Float
    public var landmarks: FaceLandmarks

    public init(box: FaceBox, confidence: Float, landmarks: FaceLandmarks) {
        self.box = box
        self.confidence = confidence
        self.landmarks = landmarks
    }
}

/// A face detector or face crop that cannot run: names the file or setting and the problem.
public struct FaceDetectionError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
