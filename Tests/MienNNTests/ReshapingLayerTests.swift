import XCTest
import MienTestSupport
@testable import MienNN

final class ReshapingLayerTests: XCTestCase {
    func testZeroPaddingPlacement() throws {
        let layer = ZeroPadding2D(name: "pad", padding: ((1, 0), (0, 2)))
        XCTAssertEqual(try layer.outputShape(for: [[nil, 2, 2, 1]]), [nil, 3, 4, 1])
        let y = try layer.forward([tensor([1, 2, 2, 1], [1, 2, 3, 4])])
        XCTAssertEqual(y, tensor([1, 3, 4, 1], [0, 0, 0, 0,
                                                1, 2, 0, 0,
                                                3, 4, 0, 0]))
        // Channels stay together.
        let z = try ZeroPadding2D(name: "pad", padding: ((0, 0), (1, 0))).forward([tensor([1, 1, 1, 2], [5, 6])])
        XCTAssertEqual(z, tensor([1, 1, 2, 2], [0, 0, 5, 6]))
        assertLayerError("pad", try layer.forward([Tensor(zeros: [1, 2, 2])]))
    }

    func testCroppingPlacement() throws {
        let layer = Cropping2D(name: "crop", cropping: ((1, 0), (1, 1)))
        XCTAssertEqual(try layer.outputShape(for: [[nil, 3, 4, 1]]), [nil, 2, 2, 1])
        let y = try layer.forward([ramp([1, 3, 4, 1])])
        XCTAssertEqual(y, tensor([1, 2, 2, 1], [6, 7, 10, 11]))
        assertLayerError("crop", try layer.outputShape(for: [[nil, 1, 4, 1]]))
        assertLayerError("crop", try layer.forward([ramp([1, 3, 2, 1])]))
    }

    func testUpSamplingNearestRepeats() throws {
        let layer = UpSampling2D(name: "up", size: (2, 3))
        XCTAssertEqual(try layer.outputShape(for: [[nil, 2, 2, 1]]), [nil, 4, 6, 1])
        let y = try layer.forward([tensor([1, 2, 2, 1], [1, 2, 3, 4])])
        XCTAssertEqual(y.scalars, [1, 1, 1, 2, 2, 2,
                                   1, 1, 1, 2, 2, 2,
                                   3, 3, 3, 4, 4, 4,
                                   3, 3, 3, 4, 4, 4])
    }

    func testUpSamplingBilinearIsResize() throws {
        // keras.layers.UpSampling2D(2, interpolation="bilinear")(np.array([1,2,3,4],'float32').reshape(1,2,2,1))
        let y = try UpSampling2D(name: "up", interpolation: .bilinear).forward([tensor([1, 2, 2, 1], [1, 2, 3, 4])])
        XCTAssertEqual(y.scalars, [1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5,
                                   2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0])
    }

    func testReshape() throws {
        let layer = Reshape(name: "reshape", targetShape: [3, -1])
        XCTAssertEqual(try layer.outputShape(for: [[nil, 2, 6]]), [nil, 3, 4])
        XCTAssertEqual(try layer.outputShape(for: [[nil, nil, 6]]), [nil, 3, nil])
        let y = try layer.forward([ramp([2, 2, 6])])
        XCTAssertEqual(y.shape, [2, 3, 4])
        XCTAssertEqual(y.scalars, ramp([2, 2, 6]).scalars)
        XCTAssertEqual(try Reshape(name: "r", targetShape: [1, 1, 12]).outputShape(for: [[4, 12]]), [4, 1, 1, 12])
        assertLayerError("reshape", try layer.outputShape(for: [[nil, 5]]))
        assertLayerError("fixed", try Reshape(name: "fixed", targetShape: [5, 2]).forward([ramp([1, 3, 3])]))
        assertLayerError("twice", try Reshape(name: "twice", targetShape: [-1, -1]).outputShape(for: [[nil, 4]]))
    }

    func testFlatten() throws {
        let layer = Flatten(name: "flat")
        XCTAssertEqual(try layer.outputShape(for: [[nil, 3, 4, 5]]), [nil, 60])
        XCTAssertEqual(try layer.outputShape(for: [[nil, nil, 4]]), [nil, nil])
        let y = try layer.forward([ramp([2, 2, 2, 3])])
        XCTAssertEqual(y.shape, [2, 12])
        XCTAssertEqual(y.scalars, ramp([2, 2, 2, 3]).scalars)
    }

    func testPermute() throws {
        let layer = Permute(name: "perm", dims: [2, 1])
        XCTAssertEqual(try layer.outputShape(for: [[nil, 2, 3]]), [nil, 3, 2])
        let y = try layer.forward([ramp([2, 2, 3])])
        XCTAssertEqual(y, tensor([2, 3, 2], [1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12]))
        // (3, 1, 2): [N, H, W, C] -> [N, C, H, W].
        let chw = try Permute(name: "chw", dims: [3, 1, 2]).forward([ramp([1, 2, 2, 2])])
        XCTAssertEqual(chw, tensor([1, 2, 2, 2], [1, 3, 5, 7, 2, 4, 6, 8]))
        assertLayerError("perm", try layer.outputShape(for: [[nil, 2, 3, 4]]))
        assertLayerError("bad", try Permute(name: "bad", dims: [1, 1]).forward([ramp([1, 2, 2])]))
    }
}

final class TensorMirrorTests: XCTestCase {
    /// `mirrored` reverses the width axis of each image and keeps the channels together.
    func testMirroredReversesTheWidth() {
        let x = Tensor(shape: [2, 1, 3, 2], scalars: (0..<12).map(Float.init))
        XCTAssertEqual(x.mirrored().scalars, [4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7])
        XCTAssertEqual(x.mirrored().mirrored(), x)
    }
}
