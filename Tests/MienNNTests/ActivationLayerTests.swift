import XCTest
import MienTestSupport
@testable import MienNN

final class ActivationLayerTests: XCTestCase {
    func testActivationLayer() throws {
        let layer = ActivationLayer(name: "act", activation: .relu6)
        XCTAssertEqual(layer.kerasClass, "Activation")
        XCTAssertEqual(try layer.forward([tensor([1, 4], [-1, 3, 6, 9])]).scalars, [0, 3, 6, 6])
        XCTAssertEqual(try layer.outputShape(for: [[nil, 5, 4]]), [nil, 5, 4])
        let softmax = try ActivationLayer(name: "sm", activation: .softmax)
            .forward([tensor([2, 2], [0, 0, 1, 1])])
        XCTAssertEqual(softmax.scalars, [0.5, 0.5, 0.5, 0.5])
    }

    func testReLUThresholdMaxValueAndSlope() throws {
        let x = tensor([1, 10], [-3, -1, 0, 0.5, 1, 1.5, 2, 3, 6, 7])
        // keras.layers.ReLU(max_value=3., negative_slope=0.5, threshold=1.)(x), TF 2.21 (Keras 3
        // and tf_keras agree). At x == threshold Keras gives 0, not threshold.
        let full = ReLU(name: "relu", maxValue: 3, negativeSlope: 0.5, threshold: 1)
        XCTAssertEqual(try full.forward([x]).scalars, [-2, -1, -0.5, -0.25, 0, 1.5, 2, 3, 3, 3])
        // keras.layers.ReLU(threshold=1.)(x)
        XCTAssertEqual(try ReLU(name: "r", threshold: 1).forward([x]).scalars, [0, 0, 0, 0, 0, 1.5, 2, 3, 6, 7])
        // keras.layers.ReLU(max_value=6.)(x)
        XCTAssertEqual(try ReLU(name: "r", maxValue: 6).forward([x]).scalars, [0, 0, 0, 0.5, 1, 1.5, 2, 3, 6, 6])
        // Plain leaky form: threshold 0, no max.
        XCTAssertEqual(try ReLU(name: "r", negativeSlope: 0.25).forward([x]).scalars,
                       [-0.75, -0.25, 0, 0.5, 1, 1.5, 2, 3, 6, 7])
    }

    func testLeakyReLUDefaultSlope() throws {
        let layer = LeakyReLU(name: "leaky")
        XCTAssertEqual(layer.slope, 0.3)
        XCTAssertNil(mismatch(try layer.forward([tensor([1, 3], [-2, 0, 2])]).scalars, [-0.6, 0, 2],
                              Tolerance(relative: 1e-7)))
    }

    func testPReLUSharedAxesBroadcast() throws {
        // keras.layers.PReLU(shared_axes=[1,2]) on (1,2,2,2): alpha shape (1,1,2) = [0.1, 0.5].
        var layer = PReLU(name: "prelu", alphaShape: [1, 1, 2])
        XCTAssertEqual(layer.parameters.map(\.name), ["alpha"])
        try layer.setParameter("alpha", to: tensor([1, 1, 2], [0.1, 0.5]))
        let y = try layer.forward([tensor([1, 2, 2, 2], [-1, -2, 3, -4, 5, -6, -7, 8])])
        XCTAssertNil(mismatch(y.scalars, [-0.1, -1, 3, -2, 5, -3, -0.7, 8], Tolerance(relative: 1e-7)))
        XCTAssertEqual(try layer.outputShape(for: [[nil, 9, 7, 2]]), [nil, 9, 7, 2])
        assertLayerError("prelu", try layer.outputShape(for: [[nil, 9, 7, 3]]))
        assertLayerError("prelu", try layer.forward([Tensor(zeros: [1, 2, 2])]))
        assertLayerError("prelu", try layer.setParameter("alpha", to: Tensor(zeros: [2])))
    }

    /// One slope per channel runs in C over whole vectors: rows of a width that is not a
    /// multiple of 16 in groups with the slopes repeated, the rows left after the groups
    /// (and widths whose groups would be too long) one by one. Exactly `x > 0 ? x : a·x`,
    /// in every kernel build.
    func testPReLUPerChannelEveryWidth() throws {
        for (channels, rows) in [(1, 5), (3, 37), (10, 8 * 13 + 5), (16, 9), (28, 45), (100, 7), (1030, 3)] {
            var layer = PReLU(name: "prelu", alphaShape: [1, 1, channels])
            let alpha = randomTensor([1, 1, channels], seed: UInt64(channels))
            try layer.setParameter("alpha", to: alpha)
            let x = randomTensor([1, rows, 1, channels], seed: UInt64(rows))
            let expected = x.scalars.indices.map { i in x.scalars[i] > 0 ? x.scalars[i] : x.scalars[i] * alpha.scalars[i % channels] }
            try everyKernelBuild { build in
                XCTAssertEqual(try layer.forward([x]).scalars, expected, "\(build), \(channels) channels, \(rows) rows")
            }
        }
    }

    func testSoftmaxOnAMiddleAxis() throws {
        // keras.layers.Softmax(axis=1)(np.array([[[1,2],[3,4],[0,-1]]], 'float32'))
        let y = try Softmax(name: "sm", axis: 1).forward([tensor([1, 3, 2], [1, 2, 3, 4, 0, -1])])
        XCTAssertNil(mismatch(y.scalars, [0.11419519, 0.11849965, 0.8437947, 0.8756006, 0.04201007, 0.00589975],
                              Tolerance(relative: 1e-6)))
        let last = try Softmax(name: "sm").forward([tensor([1, 3, 2], [1, 2, 3, 4, 0, -1])])
        let negative = try Softmax(name: "sm", axis: -1).forward([tensor([1, 3, 2], [1, 2, 3, 4, 0, -1])])
        let explicit = try Softmax(name: "sm", axis: 2).forward([tensor([1, 3, 2], [1, 2, 3, 4, 0, -1])])
        XCTAssertEqual(last, negative)
        XCTAssertEqual(last, explicit)
        assertLayerError("sm", try Softmax(name: "sm", axis: 3).outputShape(for: [[nil, 3, 2]]))
    }

    func testELU() throws {
        // keras.layers.ELU(alpha=0.5)(np.array([-3, -1, 0, 2], 'float32'))
        let y = try ELU(name: "elu", alpha: 0.5).forward([tensor([1, 4], [-3, -1, 0, 2])])
        XCTAssertNil(mismatch(y.scalars, [-0.47510648, -0.31606028, 0, 2], Tolerance(relative: 1e-6)))
    }

    func testSingleInputRequired() {
        assertLayerError("r", try ReLU(name: "r").forward([Tensor(zeros: [1]), Tensor(zeros: [1])]))
    }
}
