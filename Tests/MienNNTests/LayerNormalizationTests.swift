import MienNN
import MienTestSupport
import XCTest

/// LayerNormalization and LayerScale by hand (TensorFlow's forward and gradients are in
/// GradientTests' layernorm_* and layer_scale fixtures).
final class LayerNormalizationTests: XCTestCase {
    func testNormalizesEachSampleOverItsTrailingAxes() throws {
        // Two samples of (2, 2): mean 2.5, biased variance 1.25 each.
        var layer = LayerNormalization(name: "ln", paramShape: [2, 2], epsilon: 0)
        try layer.setParameter("gamma", to: tensor([2, 2], [1, 2, 1, 2]))
        try layer.setParameter("beta", to: tensor([2, 2], [0, 0, 1, 1]))
        let x = tensor([2, 2, 2], [1, 2, 3, 4, 4, 3, 2, 1])
        let y = try layer.forward([x])
        let s = Float(1 / 1.25.squareRoot())
        let expected: [Float] = [-1.5 * s, -0.5 * s * 2, 0.5 * s + 1, 1.5 * s * 2 + 1,
                                 1.5 * s, 0.5 * s * 2, -0.5 * s + 1, -1.5 * s * 2 + 1]
        if let bad = mismatch(y.scalars, expected, Tolerance(relative: 1e-6)) { XCTFail("\(bad)") }
        XCTAssertEqual(try layer.outputShape(for: [[nil, 2, 2]]), [nil, 2, 2])
        XCTAssertEqual(try layer.outputShape(for: [[nil, 4, 1]]).count, 3, "any trailing axes holding the group")
        assertLayerError("ln", try layer.outputShape(for: [[nil, 3, 2]]))
        assertLayerError("ln", try layer.outputShape(for: [[nil, 2]]))
        assertLayerError("ln", try layer.setParameter("gamma", to: Tensor(zeros: [4])))
        assertLayerError("ln", try layer.setParameter("moving_mean", to: Tensor(zeros: [2, 2])))
        // A constant sample: zero variance, the output is beta (epsilon keeps it finite).
        let flat = LayerNormalization(name: "flat", paramShape: [3], epsilon: 1e-6)
        XCTAssertEqual(try flat.forward([tensor([1, 3], [5, 5, 5])]).scalars, [0, 0, 0])
    }

    func testLayerScaleMultipliesChannels() throws {
        var layer = LayerScale(name: "ls", projectionDim: 3, initValues: 0.5)
        XCTAssertEqual(try layer.forward([tensor([1, 1, 2, 3], [1, 2, 3, 4, 5, 6])]).scalars, [0.5, 1, 1.5, 2, 2.5, 3])
        try layer.setParameter("gamma", to: tensor([3], [1, 0, -1]))
        XCTAssertEqual(try layer.forward([tensor([2, 3], [1, 2, 3, 4, 5, 6])]).scalars, [1, 0, -3, 4, 0, -6])
        assertLayerError("ls", try layer.outputShape(for: [[nil, 4, 4, 2]]))
        assertLayerError("ls", try layer.forward([Tensor(zeros: [3])]))
    }
}
