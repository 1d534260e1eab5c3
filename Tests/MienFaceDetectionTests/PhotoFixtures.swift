import Foundation
import MienFaceDetection
import MienTestSupport

/// `Tests/Fixtures/mtcnn/photos.json` (`tools/make_mtcnn.py`): each photo, the faces placed
/// in it (box, angle, label, the original face's file) and what the `mtcnn` package found.
struct PhotoFixtures: Decodable {
    struct Photo: Decodable {
        var file: String
        var faces: [Placed]?
        var mtcnn: [Found]
    }
    struct Placed: Decodable { var box: [Float]; var angle: Float; var label: String; var face: String }
    struct Found: Decodable { var box: [Float]; var confidence: Float; var keypoints: [String: [Float]] }
    var photos: [Photo]

    static func load() throws -> PhotoFixtures {
        try JSONDecoder().decode(PhotoFixtures.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("mtcnn/photos.json"))))
    }

    /// A fixture's `[x, y, width, height]` as a box.
    static func box(_ v: [Float]) -> FaceBox { FaceBox(x: v[0], y: v[1], width: v[2], height: v[3]) }
}
