import XCTest
import MienTestSupport
@testable import MienNN

final class DepthwiseConv2DTests: XCTestCase {
    func testShapesSameStride2OddInput() throws {
        let layer = DepthwiseConv2D(name: "dw", inputChannels: 3, kernelSize: (3, 3), strides: (2, 2),
                                    padding: .same, depthMultiplier: 2)
        XCTAssertEqual(try layer.outputShape(for: [[nil, 15, 16, 3]]), [nil, 8, 8, 6])
        XCTAssertEqual(layer.parameters.map(\.name), ["depthwise_kernel", "bias"])
        XCTAssertEqual(layer.parameters.map(\.value.shape), [[3, 3, 3, 2], [6]])
        XCTAssertEqual(layer.parameterCount, 54 + 6)
        let y = try layer.forward([Tensor(zeros: [2, 15, 16, 3])])
        XCTAssertEqual(y.shape, [2, 8, 8, 6])
    }

    func testMultiplier2SameStride2MatchesKeras() throws {
        // keras.layers.DepthwiseConv2D((2,2), strides=2, padding="same", depth_multiplier=2) on
        // np.arange(1,19).reshape(1,3,3,2), kernel (np.arange(16).reshape(2,2,2,2)-8)/4,
        // bias [0.5,-0.5,1,0]. The padding row/column is at the bottom/right only.
        var layer = DepthwiseConv2D(name: "dw", inputChannels: 2, kernelSize: (2, 2), strides: (2, 2),
                                    padding: .same, depthMultiplier: 2)
        try layer.setParameter("depthwise_kernel",
                               to: tensor([2, 2, 2, 2], (0..<16).map { (Float($0) - 8) / 4 }))
        try layer.setParameter("bias", to: tensor([4], [0.5, -0.5, 1, 0]))
        let y = try layer.forward([ramp([1, 3, 3, 2])])
        XCTAssertEqual(y.shape, [1, 2, 2, 4])
        XCTAssertNil(mismatch(y.scalars, [4.5, 8.5, 15.0, 20.0, -9.5, -6.5, -2.0, 1.5,
                                          -40.5, -34.5, -28.0, -21.5, -33.5, -30.25, -26.0, -22.5],
                              Tolerance(relative: 1e-6)))
    }

    func testMultiplier1SameMatchesKerasAndAcceptsKeras3Name() throws {
        // keras.layers.DepthwiseConv2D(3, padding="same"), kernel (np.arange(18).reshape(3,3,2,1)-9)/8,
        // zero bias, on np.arange(1,19).reshape(1,3,3,2). Keras 3 names the weight `kernel`.
        var layer = DepthwiseConv2D(name: "dw1", inputChannels: 2, kernelSize: (3, 3), padding: .same)
        try layer.setParameter("kernel", to: tensor([3, 3, 2, 1], (0..<18).map { (Float($0) - 9) / 8 }))
        let y = try layer.forward([ramp([1, 3, 3, 2])])
        XCTAssertNil(mismatch(y.scalars, [12.5, 17.0, 17.75, 24.5, 8.5, 13.0, 18.75, 25.5, 19.875, 30.0,
                                          3.75, 10.5, -11.5, -7.0, -27.25, -20.5, -27.5, -23.0],
                              Tolerance(relative: 1e-6)))
    }

    func testErrorsNameTheLayer() {
        var layer = DepthwiseConv2D(name: "dw", inputChannels: 3, kernelSize: (3, 3), useBias: false)
        assertLayerError("dw", try layer.outputShape(for: [[nil, 8, 8, 4]]))        // channels
        assertLayerError("dw", try layer.outputShape(for: [[nil, 8, 3]]))           // rank
        assertLayerError("dw", try layer.outputShape(for: [[nil, 2, 8, 3]]))        // valid too small
        assertLayerError("dw", try layer.forward([Tensor(zeros: [1, 8, 8, 2])]))
        assertLayerError("dw", try layer.setParameter("bias", to: Tensor(zeros: [3])))
        assertLayerError("dw", try layer.setParameter("depthwise_kernel", to: Tensor(zeros: [3, 3, 3, 2])))
    }
}

final class SeparableConv2DTests: XCTestCase {
    func testMatchesKeras() throws {
        // keras.layers.SeparableConv2D(3, (2,2), activation="relu") on np.arange(1,19).reshape(1,3,3,2),
        // depthwise [1,.5,-1,2,.25,1,0,-.5] (2,2,2,1), pointwise [1,0,-1,.5,2,-.25] (1,1,2,3),
        // bias [.5,-40,1].
        var layer = SeparableConv2D(name: "sep", inputChannels: 2, filters: 3, kernelSize: (2, 2),
                                    activation: .relu)
        XCTAssertEqual(layer.parameters.map(\.name), ["depthwise_kernel", "pointwise_kernel", "bias"])
        XCTAssertEqual(layer.parameters.map(\.value.shape), [[2, 2, 2, 1], [1, 1, 2, 3], [3]])
        try layer.setParameter("depthwise_kernel", to: tensor([2, 2, 2, 1], [1, 0.5, -1, 2, 0.25, 1, 0, -0.5]))
        try layer.setParameter("pointwise_kernel", to: tensor([1, 1, 2, 3], [1, 0, -1, 0.5, 2, -0.25]))
        try layer.setParameter("bias", to: tensor([3], [0.5, -40, 1]))
        XCTAssertEqual(try layer.outputShape(for: [[1, 3, 3, 2]]), [1, 2, 2, 3])
        let y = try layer.forward([ramp([1, 3, 3, 2])])
        XCTAssertEqual(y.shape, [1, 2, 2, 3])
        XCTAssertNil(mismatch(y.scalars, [6.25, 0.0, 0.0, 9.75, 0.0, 0.0, 16.75, 20.0, 0.0, 20.25, 32.0, 0.0],
                              Tolerance(relative: 1e-6)))
    }

    func testShapesAndMultiplier() throws {
        let layer = SeparableConv2D(name: "sep", inputChannels: 4, filters: 5, kernelSize: (3, 3),
                                    strides: (2, 2), padding: .same, depthMultiplier: 3, useBias: false)
        XCTAssertEqual(layer.parameters.map(\.value.shape), [[3, 3, 4, 3], [1, 1, 12, 5]])
        XCTAssertEqual(try layer.outputShape(for: [[nil, 7, 9, 4]]), [nil, 4, 5, 5])
        XCTAssertEqual(try layer.forward([Tensor(zeros: [1, 7, 9, 4])]).shape, [1, 4, 5, 5])
        assertLayerError("sep", try layer.forward([Tensor(zeros: [1, 7, 9, 3])]))
        assertLayerError("sep", try layer.outputShape(for: [[nil, 7, 4]]))
    }
}
