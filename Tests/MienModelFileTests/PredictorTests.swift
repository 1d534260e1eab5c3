import Dispatch
import Foundation
import MienImages
import MienKeras
import MienModelFile
import MienNN
import MienTestSupport
import XCTest

/// Thread-safe storage for the concurrent test's answers.
final class Results: @unchecked Sendable {
    private var values: [Int: [Float]] = [:]
    private let lock = NSLock()
    func set(_ i: Int, _ v: [Float]) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> [Float]? { lock.lock(); defer { lock.unlock() }; return values[i] }
}

final class PredictorTests: XCTestCase {
    func predictor() throws -> Predictor {
        let graph = try KerasModel(contentsOf: Fixtures.path("predict/fer_softmax.k3.h5")).graph
        let adapter = InputAdapter(inputSize: [48, 48, 1], outputSize: [48, 48, 1], scale: 1.0 / 255)
        return try Predictor(model: MienModel(graph: graph, inputAdapter: adapter, classes: ["a", "b", "c"]))
    }

    func faces() throws -> [Image] {
        try ["face_10019449.jpg", "face_10046809.jpg", "face_10066226.jpg"].map {
            try ImageDecoder.decode(contentsOf: Fixtures.path("images/\($0)"))
        }
    }

    /// A batch predicts what each face predicts alone.
    func testBatchEqualsOneByOne() throws {
        let p = try predictor()
        let faces = try faces()
        let batch = try p.predict(images: faces)
        for (face, prediction) in zip(faces, batch) {
            let alone = try p.predict(image: face)
            XCTAssertNil(mismatch(alone.scores, prediction.scores, Tolerance(relative: 1e-6)))
            XCTAssertEqual(alone.label, prediction.label)
        }
    }

    /// One predictor, many threads: every thread gets the single-threaded answer.
    func testConcurrentPredictionsAgree() throws {
        let p = try predictor()
        let faces = try faces()
        let expected = try faces.map { try p.predict(image: $0).scores }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            results.set(i, (try? p.predict(image: faces[i % faces.count]).scores) ?? [])
        }
        for i in 0..<24 { XCTAssertEqual(results.get(i), expected[i % faces.count], "thread \(i)") }
    }

    /// Concurrent batch predictions each run their slices with a single-threaded OpenBLAS;
    /// afterwards OpenBLAS has its thread count back (two overlapping calls used to leave it
    /// on one thread).
    func testConcurrentBatchesLeaveOpenBLASThreadsAsTheyWere() throws {
        let p = try predictor()
        let faces = try faces() + faces() + faces()
        BLASKernels.threads = 2
        DispatchQueue.concurrentPerform(iterations: 8) { _ in _ = try? p.predict(images: faces) }
        XCTAssertEqual(BLASKernels.threads, 2)
    }

    /// One decision rule (`Decision.classIndex`): a sigmoid score equal to the threshold is
    /// the second class; a threshold outside 0...1 (or NaN) is refused.
    func testThresholdRule() throws {
        let graph = try KerasModel(contentsOf: Fixtures.path("predict/fer_sigmoid.k3.h5")).graph
        let model = MienModel(graph: graph, inputAdapter: InputAdapter(inputSize: [48, 48, 1], outputSize: [48, 48, 1]),
                              classes: ["angry", "happy"])
        let p = try Predictor(model: model, threshold: 0.25)
        XCTAssertEqual(p.prediction([0.25]).label, "happy")
        XCTAssertEqual(p.prediction([0.2499]).label, "angry")
        for bad in [Float.nan, -0.1, 1.5] {
            XCTAssertThrowsError(try Predictor(model: model, threshold: bad), "\(bad)")
        }
    }

    /// `.mirror`: each prediction is the mean of the image's and its mirror image's; the
    /// model records it, and the predictor's own setting overrides it.
    func testMirrorAveragesTheImageAndItsMirror() throws {
        let plain = try predictor()
        let faces = try faces()
        var model = plain.model
        model.testTimeAugmentation = .mirror
        let mirroring = try Predictor(model: model)
        XCTAssertEqual(mirroring.testTimeAugmentation, .mirror)
        XCTAssertEqual(try Predictor(model: model, testTimeAugmentation: TestTimeAugmentation.none).testTimeAugmentation, .none)
        let batch = try plain.batch(faces)
        let direct = try plain.predict(batch), flipped = try plain.predict(batch.mirrored())
        let mean = zip(direct.scalars, flipped.scalars).map { ($0 + $1) / 2 }
        XCTAssertNil(mismatch(try mirroring.predict(batch).scalars, mean, Tolerance(relative: 1e-6)))
        let viaImages = try mirroring.predict(images: faces).flatMap(\.scores)
        XCTAssertNil(mismatch(viaImages, mean, Tolerance(relative: 1e-5)))
        XCTAssertNotEqual(direct.scalars, flipped.scalars)   // the fixture's faces are not symmetric
    }

    /// A colour image of another size is converted to the model's gray 48×48.
    func testColourImageOfAnotherSizeIsConverted() throws {
        let p = try predictor()
        let colour = try ImageDecoder.decode(contentsOf: Fixtures.path("images/color_420.jpg"))
        XCTAssertEqual(colour.channels, 3)
        XCTAssertEqual(try p.batch([colour]).shape, [1, 48, 48, 1])
        XCTAssertEqual(try p.predict(image: colour).scores.count, 3)
    }
}
