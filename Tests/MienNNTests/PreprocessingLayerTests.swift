import XCTest
import MienTestSupport
@testable import MienNN

final class ResizingTests: XCTestCase {
    // The expected values below are TensorFlow 2.21's, bit for bit:
    // python3 -c "import tensorflow as tf, numpy as np; x=np.arange(1,10,dtype='float32').reshape(1,3,3,1);
    //   print(tf.image.resize(x,(5,5)).numpy().ravel().tolist())"   (and method='nearest', and 5x5 -> 3x3)
    let three = ramp([1, 3, 3, 1])
    let five = ramp([1, 5, 5, 1])

    func testBilinearUpsample3To5() throws {
        let y = try Resizing(name: "resize", height: 5, width: 5).forward([three])
        XCTAssertEqual(y.shape, [1, 5, 5, 1])
        XCTAssertEqual(y.scalars, [1.0, 1.4000000953674316, 2.0, 2.6000001430511475, 3.0,
                                   2.200000047683716, 2.6000001430511475, 3.200000047683716, 3.8000001907348633, 4.199999809265137,
                                   4.0, 4.400000095367432, 5.0, 5.600000381469727, 6.0,
                                   5.800000190734863, 6.200000762939453, 6.800000190734863, 7.40000057220459, 7.800000190734863,
                                   7.0, 7.400000095367432, 8.0, 8.600000381469727, 9.0])
    }

    func testBilinearDownsample5To3() throws {
        let y = try Resizing(name: "resize", height: 3, width: 3).forward([five])
        XCTAssertEqual(y.scalars, [2.999999761581421, 4.666666507720947, 6.3333330154418945,
                                   11.333333015441895, 13.0, 14.666666030883789,
                                   19.66666603088379, 21.333332061767578, 22.999998092651367])
    }

    func testNearest3To5And5To3() throws {
        let up = try Resizing(name: "resize", height: 5, width: 5, interpolation: .nearest).forward([three])
        XCTAssertEqual(up.scalars, [1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 7, 7, 8, 9, 9, 7, 7, 8, 9, 9])
        let down = try Resizing(name: "resize", height: 3, width: 3, interpolation: .nearest).forward([five])
        XCTAssertEqual(down.scalars, [1, 3, 5, 11, 13, 15, 21, 23, 25])
    }

    /// The bilinear resize blends each input row along x once and keeps two; it must give
    /// TensorFlow's per-pixel compute_lerp (written out below) bit for bit, up and down,
    /// with 1–3 channels and a batch.
    func testBilinearEqualsThePerPixelBlendExactly() throws {
        func taps(_ output: Int, _ input: Int) -> [(Int, Int, Float)] {
            let scale = Float(input) / Float(output)
            return (0..<output).map { d in
                let src = (Float(d) + 0.5) * scale - 0.5, floor = src.rounded(.down)
                let upper = min(Int(src.rounded(.up)), input - 1)
                return (min(max(Int(floor), 0), upper), upper, src - floor)
            }
        }
        for (case_, (inH, inW, outH, outW, c)) in [(48, 48, 224, 224, 1), (5, 7, 3, 11, 3), (9, 4, 20, 2, 2), (1, 6, 5, 1, 1)].enumerated() {
            let x = randomTensor([2, inH, inW, c], seed: UInt64(case_), range: 0...255)
            let y = try Resizing(name: "r", height: outH, width: outW).forward([x])
            let (rows, cols) = (taps(outH, inH), taps(outW, inW))
            var expected: [Float] = []
            for n in 0..<2 {
                for (top, bottom, fy) in rows {
                    for (left, right, fx) in cols {
                        for ch in 0..<c {
                            func at(_ r: Int, _ q: Int) -> Float { x.scalars[((n * inH + r) * inW + q) * c + ch] }
                            let t = at(top, left) + (at(top, right) - at(top, left)) * fx
                            let b = at(bottom, left) + (at(bottom, right) - at(bottom, left)) * fx
                            expected.append(t + (b - t) * fy)
                        }
                    }
                }
            }
            XCTAssertEqual(y.scalars, expected, "\(inH)×\(inW)×\(c) → \(outH)×\(outW)")
        }
    }

    func testNonSquareAndChannels() throws {
        // keras.layers.Resizing(3, 2)(np.arange(1,7,dtype='float32').reshape(1,2,3,1))
        let x = ramp([1, 2, 3, 1])
        XCTAssertEqual(try Resizing(name: "r", height: 3, width: 2).forward([x]).scalars,
                       [1.25, 2.75, 2.75, 4.25, 4.25, 5.75])
        // keras.layers.Resizing(3, 7, interpolation="nearest") on the same input.
        XCTAssertEqual(try Resizing(name: "r", height: 3, width: 7, interpolation: .nearest).forward([x]).scalars,
                       [1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5, 6, 6, 4, 4, 5, 5, 5, 6, 6])
        // Channels are resized independently: two copies of the same image stay equal.
        let two = Tensor(shape: [1, 3, 3, 2], scalars: three.scalars.flatMap { [$0, $0 * 10] })
        let y = try Resizing(name: "r", height: 5, width: 4).forward([two])
        let single = try Resizing(name: "r", height: 5, width: 4).forward([three])
        XCTAssertEqual(stride(from: 0, to: y.count, by: 2).map { y.scalars[$0] }, single.scalars)
        XCTAssertEqual(try Resizing(name: "r", height: 5, width: 4).outputShape(for: [[nil, nil, nil, 3]]),
                       [nil, 5, 4, 3])
        assertLayerError("r", try Resizing(name: "r", height: 5, width: 4).forward([Tensor(zeros: [1, 3, 3])]))
    }
}

final class RescalingNormalizationTests: XCTestCase {
    func testRescaling() throws {
        let scalar = Rescaling(name: "rescale", scale: [1.0 / 127.5], offset: [-1])
        XCTAssertEqual(try scalar.forward([tensor([1, 3], [0, 127.5, 255])]).scalars, [-1, 0, 1])
        let perChannel = Rescaling(name: "rescale", scale: [1, 2, 3], offset: [0.5])
        XCTAssertEqual(try perChannel.forward([tensor([2, 3], [1, 1, 1, 2, 2, 2])]).scalars,
                       [1.5, 2.5, 3.5, 2.5, 4.5, 6.5])
        XCTAssertEqual(try perChannel.outputShape(for: [[nil, 4, 4, 3]]), [nil, 4, 4, 3])
        assertLayerError("rescale", try perChannel.outputShape(for: [[nil, 4, 4, 2]]))
        assertLayerError("rescale", try perChannel.forward([Tensor(zeros: [1, 2])]))
    }

    func testNormalizationFormula() throws {
        // Keras 3 and tf_keras: (x - mean) / max(sqrt(variance), 1e-7).
        let layer = Normalization(name: "norm", mean: [1, 2, 3], variance: [4, 0, 9], axisLength: 3)
        XCTAssertTrue(layer.parameters.isEmpty)
        let y = try layer.forward([tensor([1, 3], [5, 2.5, 0])])
        XCTAssertEqual(y.scalars, [2, 0.5 / Float(1e-7), -1])
        let inverted = Normalization(name: "denorm", mean: [1, 2, 3], variance: [4, 0, 9], axisLength: 3, invert: true)
        XCTAssertEqual(try inverted.forward([tensor([1, 3], [2, 1, -1])]).scalars, [5, 2 + Float(1e-7), 0])
        // One statistic for every channel.
        let global = Normalization(name: "g", mean: [2], variance: [16], axisLength: 2)
        XCTAssertEqual(try global.forward([tensor([1, 2, 2], [2, 6, -2, 10])]).scalars, [0, 1, -1, 2])
        assertLayerError("norm", try layer.outputShape(for: [[nil, 4]]))
        assertLayerError("norm", try layer.forward([Tensor(zeros: [3])]))
        assertLayerError("bad", try Normalization(name: "bad", mean: [1, 2], variance: [1], axisLength: 3)
            .outputShape(for: [[nil, 3]]))
    }

    func testAdaptedNormalizationWeights() throws {
        var layer = Normalization(name: "norm", mean: [0, 0], variance: [1, 1], axisLength: 2, storesWeights: true)
        XCTAssertEqual(layer.parameters.map(\.name), ["mean", "variance", "count"])
        XCTAssertEqual(layer.parameters.map(\.value.shape), [[2], [2], []])
        XCTAssertTrue(layer.parameters.allSatisfy { !$0.trainable })
        try layer.setParameter("mean", to: tensor([2], [1, -1]))
        try layer.setParameter("variance", to: tensor([2], [0.25, 4]))
        try layer.setParameter("count", to: tensor([], [100]))
        XCTAssertEqual(try layer.forward([tensor([1, 2], [2, 3])]).scalars, [2, 2])
        assertLayerError("norm", try layer.setParameter("mean", to: Tensor(zeros: [3])))
        // axis=None stores scalars; with one channel Keras's [] and [1] both fit.
        var global = Normalization(name: "g", mean: [0], variance: [1], axisLength: 4, storesWeights: true)
        XCTAssertEqual(global.parameters.map(\.value.shape), [[], [], []])
        try global.setParameter("mean", to: tensor([], [3]))
        var one = Normalization(name: "one", mean: [0], variance: [1], axisLength: 1, storesWeights: true)
        try one.setParameter("mean", to: tensor([], [3]))
        try one.setParameter("variance", to: tensor([1], [4]))
        XCTAssertEqual(try one.forward([tensor([2, 1], [5, 1])]).scalars, [1, -1])
        var plain = Normalization(name: "plain", mean: [0], variance: [1], axisLength: 1)
        assertLayerError("plain", try plain.setParameter("mean", to: tensor([1], [3])))
    }
}

final class IdentityTests: XCTestCase {
    func testIdentityKeepsClassAndValues() throws {
        let layer = Identity(name: "drop", kerasClass: "GaussianDropout", options: ["rate": 0.2])
        XCTAssertEqual(layer.kerasClass, "GaussianDropout")
        XCTAssertTrue(layer.isIdentityAtInference)
        XCTAssertFalse(layer.canTrain)
        let x = ramp([2, 3])
        XCTAssertEqual(try layer.forward([x]), x)
        XCTAssertEqual(try layer.outputShape(for: [[nil, 3]]), [nil, 3])
        assertLayerError("drop", try layer.forward([x, x]))
    }

    /// Dropout and SpatialDropout2D are the identity at inference and keep their Keras class.
    func testDropoutIsTheIdentityAtInference() throws {
        let x = ramp([2, 3, 3, 4])
        for layer in [Dropout(name: "d", rate: 0.5), Dropout(name: "s", rate: 0.5, spatialRank: 2)] {
            XCTAssertEqual(try layer.forward([x]), x)
            XCTAssertTrue(layer.isIdentityAtInference)
            XCTAssertTrue(layer.usesTrainingFlag)
        }
        XCTAssertEqual(Dropout(name: "s", rate: 0.1, spatialRank: 2).kerasClass, "SpatialDropout2D")
        assertLayerError("s", try Dropout(name: "s", rate: 0.1, spatialRank: 2).outputShape(for: [[nil, 3]]))
    }
}
