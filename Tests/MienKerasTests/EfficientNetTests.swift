@testable import MienKeras
import MienNN
import MienTestSupport
import XCTest

/// The bundled backbone, `Weights/efficientnet_lite0*.h5`, made from the PyTorch ImageNet
/// weights by `tools/make_efficientnet_lite0.py`, reproduced against Keras's own outputs.
/// The bar is 1e-3 of the output's scale: a deep network sums many more terms
/// than the small fixtures, so float32 reordering grows with depth.
final class EfficientNetTests: XCTestCase {
    static let tolerance = Tolerance(relative: 1e-3)

    static func weights(_ name: String) -> String {
        Fixtures.packageRoot.appendingPathComponent("Weights/\(name)").path
    }

    func check(_ file: String, _ fixture: String) throws -> (KerasModel, Tensor) {
        let model = try KerasModel(contentsOf: Self.weights(file))
        let golden = try Golden("efficientnet/\(fixture).io.h5")
        let output = try model.predict(try golden.inputs)
        let expected = try golden.tensor()
        XCTAssertEqual(output.shape, expected.shape)
        if let bad = mismatch(output, expected, Self.tolerance) { XCTFail("\(file) on \(fixture): \(bad)") }
        // What `mien predict` runs (BatchNormalization folded, blocks fused), in every build
        // of the kernels the CPU can run.
        let running = try model.graph.optimizedForInference(forRunning: true)
        try everyKernelBuild { build in
            if let bad = mismatch(try running.forward(try golden.inputs), expected, Self.tolerance) {
                XCTFail("\(file) on \(fixture), optimized for running, \(build): \(bad)")
            }
        }
        let counts = try golden.parameterCounts
        XCTAssertEqual(model.summary.totalParams, counts.total)
        XCTAssertEqual(model.summary.trainableParams, counts.trainable)
        XCTAssertEqual(model.summary.nonTrainableParams, counts.nonTrainable)
        return (model, output)
    }

    func testNotopFeaturesEqualKeras() throws {
        _ = try check("efficientnet_lite0_notop.h5", "notop")
    }

    /// The same with Mien's C kernels in their portable build (what a CPU without AVX2 runs).
    func testNotopFeaturesEqualKerasWithPortableKernels() throws {
        VectorKernels.usePortable(true)
        defer { VectorKernels.usePortable(false) }
        _ = try check("efficientnet_lite0_notop.h5", "notop")
    }

    /// One image with its rows split across two threads, as `mien predict` runs a single face.
    func testOneImageSplitAcrossThreadsEqualsKeras() throws {
        let model = try KerasModel(contentsOf: Self.weights("efficientnet_lite0_notop.h5"))
        let golden = try Golden("efficientnet/notop.io.h5")
        let (input, expected) = (try golden.inputs[0], try golden.tensor())
        let running = try model.graph.optimizedForInference(forRunning: true)
        let first = try IntraImageParallelism.$cores.withValue(2) { try BatchRunner.forward(running, input.batch(0..<1), cores: 2) }
        if let bad = mismatch(first, expected.batch(0..<1), Self.tolerance) { XCTFail("\(bad)") }
    }

    func testTopLogitsEqualKeras() throws {
        _ = try check("efficientnet_lite0.h5", "top_random")
    }

    /// The two photographs scikit-learn ships: Mien's top-5 ImageNet classes are Keras's.
    func testPhotographsTop5EqualKeras() throws {
        let (_, logits) = try check("efficientnet_lite0.h5", "photos")
        let golden = try Golden("efficientnet/photos.io.h5")
        let expected = try golden.ints("top5")
        let classes = logits.shape[1]
        for image in 0..<logits.shape[0] {
            let row = Array(logits.scalars[image * classes..<(image + 1) * classes])
            let top5 = row.indices.sorted { row[$0] > row[$1] }.prefix(5)
            XCTAssertEqual(Array(top5), Array(expected[image * 5..<(image + 1) * 5]), "photo \(image)")
        }
    }

    /// A FER face through the adapter and the frozen backbone: the shape a fine-tuning
    /// head sees, at the default 96×96 input.
    func testFaceThroughAdapterAndBackbone() throws {
        let backbone = try KerasModel(contentsOf: Self.weights("efficientnet_lite0_notop.h5")).graph
        let model = try InputAdapter.fer(size: 96).prepended(to: backbone)
        XCTAssertEqual(model.outputShape, [nil, 3, 3, 1280])
        let faces = try Golden("efficientnet/resize_gray.io.h5").inputs[0]
        let features = try model.forward([faces])
        XCTAssertEqual(features.shape, [2, 3, 3, 1280])
        XCTAssertTrue(features.scalars.allSatisfy(\.isFinite))
    }
}
