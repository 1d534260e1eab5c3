import XCTest
import MienTestSupport
@testable import MienNN

final class MergeLayerTests: XCTestCase {
    let a = tensor([1, 2, 2], [1, 2, 3, 4])
    let b = tensor([1, 2, 2], [10, 0, -3, 8])
    let c = tensor([1, 2, 2], [2, 2, 2, 2])

    func testElementwiseOps() throws {
        XCTAssertEqual(try Merge(name: "m", op: .add).forward([a, b, c]).scalars, [13, 4, 2, 14])
        XCTAssertEqual(try Merge(name: "m", op: .subtract).forward([a, b]).scalars, [-9, 2, 6, -4])
        XCTAssertEqual(try Merge(name: "m", op: .multiply).forward([a, b, c]).scalars, [20, 0, -18, 64])
        XCTAssertEqual(try Merge(name: "m", op: .average).forward([a, b, c]).scalars,
                       [13.0 / 3, 4.0 / 3, 2.0 / 3, 14.0 / 3])
        XCTAssertEqual(try Merge(name: "m", op: .maximum).forward([a, b, c]).scalars, [10, 2, 3, 8])
        XCTAssertEqual(try Merge(name: "m", op: .minimum).forward([a, b, c]).scalars, [1, 0, -3, 2])
        XCTAssertEqual(Merge.Op.allCases.map { Merge(name: "m", op: $0).kerasClass },
                       ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"])
        // The inputs are not modified.
        XCTAssertEqual(a.scalars, [1, 2, 3, 4])
    }

    func testSqueezeExcitationBroadcast() throws {
        // [N,H,W,C] * [N,1,1,C], as in SE blocks.
        let x = ramp([2, 2, 2, 3])
        let gate = tensor([2, 1, 1, 3], [1, 0, 2, -1, 1, 0.5])
        let layer = Merge(name: "se", op: .multiply)
        XCTAssertEqual(try layer.outputShape(for: [[nil, 2, 2, 3], [nil, 1, 1, 3]]), [nil, 2, 2, 3])
        let y = try layer.forward([x, gate])
        var expected = [Float]()
        for (i, v) in x.scalars.enumerated() { expected.append(v * gate.scalars[(i / 12) * 3 + i % 3]) }
        XCTAssertEqual(y.shape, [2, 2, 2, 3])
        XCTAssertEqual(y.scalars, expected)
        // Either order.
        XCTAssertEqual(try layer.forward([gate, x]), y)
    }

    func testLowerRankInputGetsAxesAfterBatch() throws {
        // Keras 3 expands [N, C] to [N, 1, 1, C].
        let layer = Merge(name: "add", op: .add)
        XCTAssertEqual(try layer.outputShape(for: [[nil, 2, 2, 2], [nil, 2]]), [nil, 2, 2, 2])
        let y = try layer.forward([ramp([1, 2, 2, 2]), tensor([1, 2], [100, 200])])
        XCTAssertEqual(y.scalars, [101, 202, 103, 204, 105, 206, 107, 208])
    }

    func testBroadcastShapeInference() throws {
        let layer = Merge(name: "mul", op: .multiply)
        XCTAssertEqual(try layer.outputShape(for: [[nil, 1, 5], [nil, 4, 1]]), [nil, 4, 5])
        XCTAssertEqual(try layer.outputShape(for: [[nil, nil, 5], [nil, 1, 5]]), [nil, nil, 5])
        let y = try layer.forward([tensor([1, 1, 2], [1, 2]), tensor([1, 3, 1], [1, 10, 100])])
        XCTAssertEqual(y, tensor([1, 3, 2], [1, 2, 10, 20, 100, 200]))
    }

    func testErrors() {
        assertLayerError("sub", try Merge(name: "sub", op: .subtract).forward([a, b, c]))
        assertLayerError("sub", try Merge(name: "sub", op: .subtract).outputShape(for: [[nil, 2], [nil, 2], [nil, 2]]))
        assertLayerError("add", try Merge(name: "add", op: .add).outputShape(for: [[nil, 3], [nil, 4]]))
        assertLayerError("add", try Merge(name: "add", op: .add).forward([a, tensor([1, 3], [1, 2, 3])]))
        assertLayerError("add", try Merge(name: "add", op: .add).forward([]))
    }

    func testConcatenateLastAxis() throws {
        let layer = Concatenate(name: "cat")
        XCTAssertEqual(try layer.outputShape(for: [[nil, 2, 2, 1], [nil, 2, 2, 3]]), [nil, 2, 2, 4])
        let y = try layer.forward([tensor([1, 2, 1], [1, 2]), tensor([1, 2, 2], [10, 11, 20, 21])])
        XCTAssertEqual(y, tensor([1, 2, 3], [1, 10, 11, 2, 20, 21]))
    }

    func testConcatenateAxis1() throws {
        let layer = Concatenate(name: "cat", axis: 1)
        XCTAssertEqual(try layer.outputShape(for: [[nil, 1, 2], [nil, 2, 2]]), [nil, 3, 2])
        XCTAssertEqual(try layer.outputShape(for: [[nil, nil, 2], [nil, 2, 2]]), [nil, nil, 2])
        let y = try layer.forward([tensor([2, 1, 2], [1, 2, 3, 4]), tensor([2, 2, 2], [5, 6, 7, 8, 9, 10, 11, 12])])
        XCTAssertEqual(y, tensor([2, 3, 2], [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12]))
        // -2 is the same axis for rank 3.
        XCTAssertEqual(try Concatenate(name: "cat", axis: -2)
            .forward([tensor([2, 1, 2], [1, 2, 3, 4]), tensor([2, 2, 2], [5, 6, 7, 8, 9, 10, 11, 12])]), y)
    }

    func testConcatenateErrors() {
        let layer = Concatenate(name: "cat")
        assertLayerError("cat", try layer.outputShape(for: [[nil, 2, 2, 1], [nil, 3, 2, 1]]))
        assertLayerError("cat", try layer.outputShape(for: [[nil, 2, 1], [nil, 2, 2, 1]]))
        assertLayerError("cat", try layer.forward([tensor([1, 2], [1, 2]), tensor([2, 2], [1, 2, 3, 4])]))
        assertLayerError("cat4", try Concatenate(name: "cat4", axis: 4).outputShape(for: [[nil, 2, 2, 1]]))
    }
}
