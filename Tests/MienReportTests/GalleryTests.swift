@testable import MienReport
import XCTest

/// The gallery shows the mistakes first, the surest first, and the surest mistakes per class.
final class GalleryTests: XCTestCase {
    func face(_ i: Int, truth: Int, score: Float) -> ScoredFace {
        ScoredFace(source: "f\(i)", pixels: [UInt8](repeating: UInt8(i), count: 4), side: 2, truth: truth,
                   predicted: score >= 0.5 ? 1 : 0, scores: [score])
    }

    func testMistakesFirstThenCorrectFacesSpreadOverTheData() {
        let faces = [face(0, truth: 0, score: 0.1), face(1, truth: 0, score: 0.9), face(2, truth: 0, score: 0.6),
                     face(3, truth: 1, score: 0.8), face(4, truth: 1, score: 0.2), face(5, truth: 1, score: 0.95),
                     face(6, truth: 0, score: 0.3)]
        let gallery = Gallery(faces, classes: 2, limit: 6, mistakesPerClass: 1)
        // Mistakes by confidence: f1 (0.9 for happy), f4 (0.8 for angry), f2 (0.6).
        XCTAssertEqual(gallery.faces.prefix(3).map(\.source), ["f1", "f4", "f2"])
        XCTAssertEqual(gallery.faces.count, 6)
        XCTAssertTrue(gallery.faces.dropFirst(3).allSatisfy(\.isCorrect))
        XCTAssertEqual(gallery.worstMistakes.map { $0.map(\.source) }, [["f1"], ["f4"]])
        XCTAssertEqual(faces[4].confidence, 0.8, accuracy: 1e-6)
    }

    func testAllWrongAllRightAndNoFaces() {
        let wrong = (0..<5).map { face($0, truth: 0, score: 0.7) }
        XCTAssertEqual(Gallery(wrong, classes: 2, limit: 3).faces.map(\.source), ["f0", "f1", "f2"])
        let right = (0..<5).map { face($0, truth: 1, score: 0.7) }
        XCTAssertEqual(Gallery(right, classes: 2, limit: 3).faces.count, 3)
        XCTAssertEqual(Gallery(right, classes: 2).worstMistakes, [[], []])
        XCTAssertTrue(Gallery([], classes: 7).faces.isEmpty)
    }

    func testSoftmaxProbabilities() {
        let f = ScoredFace(source: "x", pixels: [0], side: 1, truth: 2, predicted: 1, scores: [0.1, 0.7, 0.2])
        XCTAssertEqual(f.confidence, 0.7)
        XCTAssertEqual(f.probability(of: 2), 0.2)
    }
}
