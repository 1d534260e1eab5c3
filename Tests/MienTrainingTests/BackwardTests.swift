import XCTest
import MienNN
import MienTestSupport
import MienFaces
@testable import MienTraining

/// `Dense.backward`, `ActivationLayer.backward` and Dropout against Keras / statistics.
final class BackwardTests: XCTestCase {
    /// Dense(5, activation) for every activation Mien differentiates: Keras's output and
    /// `tf.GradientTape` gradients of the input, kernel and bias for a random upstream gradient.
    func testDenseBackwardMatchesKerasForEveryActivation() throws {
        let fixture = try TrainingFixture("dense_backward")
        let names = try fixture.golden.strings("activations")
        XCTAssertEqual(names.count, 18)
        for name in names {
            let activation = try XCTUnwrap(Activation(kerasName: name, kerasMajor: 3), name)
            var dense = Dense(name: "d_\(name)", inputUnits: 4, units: 5, activation: activation)
            try dense.setParameter("kernel", to: try fixture.tensor("\(name)/kernel"))
            try dense.setParameter("bias", to: try fixture.tensor("\(name)/bias"))
            let x = try fixture.tensor("\(name)/input")
            let (z, y) = try dense.forwardTraining(x)
            XCTAssertEqual(y, try dense.forward([x]), "\(name): forwardTraining's output is forward's")
            assertClose(y, try fixture.tensor("\(name)/output"), Tolerance(relative: 1e-5), "\(name) output")
            let g = try dense.backward(input: x, output: y, outputGradient: try fixture.tensor("\(name)/upstream"))
            let tolerance = Tolerance(relative: 1e-5)
            assertClose(g.input, try fixture.tensor("\(name)/grad_input"), tolerance, "\(name) dX")
            assertClose(g.kernel, try fixture.tensor("\(name)/grad_kernel"), tolerance, "\(name) dKernel")
            assertClose(try XCTUnwrap(g.bias), try fixture.tensor("\(name)/grad_bias"), tolerance, "\(name) dBias")

            // The same through a linear Dense followed by an Activation layer.
            var linear = dense
            linear.activation = .linear
            let layer = ActivationLayer(name: "a_\(name)", activation: activation)
            let dz = try layer.backward(input: z, output: y, outputGradient: try fixture.tensor("\(name)/upstream"))
            let viaLayer = try linear.backward(input: x, preActivationGradient: dz)
            assertClose(try XCTUnwrap(viaLayer.input), g.input, Tolerance(relative: 1e-6), "\(name) via Activation layer")
        }
    }

    func testBackwardChecksShapes() throws {
        let dense = Dense(name: "d", inputUnits: 3, units: 2)
        XCTAssertThrowsError(try dense.backward(input: Tensor(zeros: [4, 3]), output: Tensor(zeros: [4, 2]),
                                                outputGradient: Tensor(zeros: [4, 3])))
        XCTAssertThrowsError(try dense.backward(input: Tensor(zeros: [4, 2]), preActivationGradient: Tensor(zeros: [4, 2])))
        let noInput = try dense.backward(input: Tensor(zeros: [4, 3]), preActivationGradient: Tensor(zeros: [4, 2]),
                                         inputGradient: false)
        XCTAssertNil(noInput.input)
        XCTAssertEqual(noInput.kernel.shape, [3, 2])
    }

    /// Keras's inverted dropout: about `1 − rate` of the units kept, each scaled by
    /// `1 / (1 − rate)`, so the mean is preserved; backward multiplies by the same mask.
    func testDropoutStatistics() throws {
        let layer = Dropout(name: "drop", rate: 0.3)
        let x = Tensor(shape: [200, 500], repeating: 2)
        var generator = SeededGenerator(seed: 42)
        let (y, mask) = try layer.forwardTraining(x, generator: &generator)
        let m = try XCTUnwrap(mask)
        let scale = Float(1 / (1 - 0.3))
        XCTAssertTrue(m.scalars.allSatisfy { $0 == 0 || $0 == scale })
        let kept = Double(m.scalars.filter { $0 != 0 }.count) / Double(m.count)
        XCTAssertEqual(kept, 0.7, accuracy: 0.005)           // 100k draws: σ ≈ 0.0015
        let mean = y.scalars.reduce(0.0) { $0 + Double($1) } / Double(y.count)
        XCTAssertEqual(mean, 2, accuracy: 0.03)
        for i in 0..<y.count { XCTAssertEqual(y.scalars[i], 2 * m.scalars[i]) }
        let g = try layer.backward(outputGradient: Tensor(shape: x.shape, repeating: 1), mask: mask)
        XCTAssertEqual(g.scalars, m.scalars)
        // A seeded generator gives the same mask again; rate 0 and inference are the identity.
        var again = SeededGenerator(seed: 42)
        XCTAssertEqual(try layer.forwardTraining(x, generator: &again).mask, mask)
        var unused = NoRandom()
        let none = try Dropout(name: "drop", rate: 0).forwardTraining(x, generator: &unused)
        XCTAssertNil(none.mask)
        XCTAssertEqual(none.output, x)
        XCTAssertEqual(try layer.forward([x]), x)
        XCTAssertThrowsError(try Identity(name: "n", kerasClass: "GaussianNoise").forwardTraining([x], context: TrainingContext(seed: 1)))
    }

    /// SpatialDropout2D in training mode drops whole channels of each image, with one seeded
    /// draw per image and channel; the same context draws the same mask, a split batch the
    /// whole batch's rows.
    func testSpatialDropoutDropsWholeChannels() throws {
        let layer = Dropout(name: "sd", rate: 0.5, spatialRank: 2)
        let x = Tensor(shape: [4, 3, 3, 16], repeating: 1)
        let context = TrainingContext(seed: 7, epoch: 1, batch: 2)
        let y = try layer.forwardTraining([x], context: context).output
        var dropped = 0
        for n in 0..<4 {
            for c in 0..<16 {
                let values = Set((0..<9).map { p in y.scalars[(n * 9 + p) * 16 + c] })
                XCTAssertEqual(values.count, 1, "image \(n) channel \(c) is one draw")
                XCTAssertTrue(values == [0] || values == [2])
                if values == [0] { dropped += 1 }
            }
        }
        XCTAssertTrue((12...52).contains(dropped), "\(dropped) of 64 channels dropped at rate 0.5")
        XCTAssertEqual(try layer.forwardTraining([x], context: context).output, y)
        var part = context
        part.rows = 2..<4
        part.batchSize = 4
        XCTAssertEqual(try layer.forwardTraining([x.batch(2..<4)], context: part).output, y.batch(2..<4))
    }
}
