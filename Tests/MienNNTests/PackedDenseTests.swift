@testable import MienNN
import MienTestSupport
import XCTest

/// `PackedDense` against the Dense it replaces (which the Keras fixtures check against
/// Keras), in every kernel build. Sums of up to 1,728 float32 terms in another order: 1e-5
/// of the output's scale.
final class PackedDenseTests: XCTestCase {
    let tolerance = Tolerance(relative: 1e-5)

    override func tearDown() { VectorKernels.limit(to: nil) }

    func testEqualsTheDenseItReplaces() throws {
        // (inputs, units, activation, bias): a FER head's 1728 → 256 (k in parts), MTCNN's
        // 576 → 128, a partial panel of 17 units, no bias; a softmax head (R-Net's 128 → 2,
        // FER's 256 → 7) and a sigmoid one, applied after the product; one row, a few, and a batch.
        let cases: [(Int, Int, Activation, Bool)] = [(1728, 256, .relu, true), (576, 128, .linear, true),
                                                     (40, 17, .relu6, false), (128, 2, .softmax, true),
                                                     (256, 7, .softmax, true), (256, 1, .sigmoid, true)]
        for (i, c) in cases.enumerated() {
            let dense = try randomized(Dense(name: "d", inputUnits: c.0, units: c.1, useBias: c.3, activation: c.2),
                                       seed: UInt64(10 * i))
            let packed = PackedDense(dense)
            XCTAssertEqual(packed.parameters.map(\.name), dense.parameters.map(\.name))
            XCTAssertFalse(packed.parameters.contains(where: \.trainable))
            XCTAssertEqual(try packed.flopsPerImage(inputs: [[nil, c.0]], output: [nil, c.1]),
                           try dense.flopsPerImage(inputs: [[nil, c.0]], output: [nil, c.1]))
            XCTAssertEqual(try packed.outputShape(for: [[nil, 3, c.0]]), [nil, 3, c.1])
            for shape in [[1, c.0], [2, c.0], [37, c.0], [3, 5, c.0]] {
                let x = randomTensor(shape, seed: UInt64(100 + 10 * i + shape[0]))
                if let bad = try forwardMismatch(packed, dense, on: x, tolerance) { XCTFail("case \(i), \(shape): \(bad)") }
            }
            XCTAssertThrowsError(try packed.forward([randomTensor([1, c.0 + 1], seed: 1)]))
        }
    }
}
