import XCTest
import MienNN
import MienTestSupport
@testable import MienTraining

final class HeadTests: XCTestCase {
    /// Loss and the gradient of every weight against `tf.GradientTape` over `model(x,
    /// training=True)` and Keras's loss object, with and without sample weights.
    func testGradientsMatchKeras() throws {
        for kind in ["sigmoid", "softmax"] {
            let (head, fixture) = try fixtureHead(kind)
            let x = try fixture.tensor("inputs/0")
            let labels = try fixture.ints("labels")
            let weights = try fixture.floats("sample_weights")
            for (tag, w) in [("unweighted", nil), ("weighted", weights)] as [(String, [Float]?)] {
                var none = NoRandom()
                let step = try head.gradients(features: x, labels: labels, sampleWeights: w,
                                              loss: head.defaultLoss, generator: &none)
                assertClose(step.loss, try fixture.scalar("\(tag)/loss"), relative: 1e-6, "\(kind) \(tag) loss")
                XCTAssertEqual(step.gradients.count, head.parameterNames.count)
                for (name, gradient) in zip(head.parameterNames, step.gradients) {
                    assertClose(gradient, try fixture.tensor("\(tag)/gradients/\(name)"), Tolerance(relative: 1e-5),
                                "\(kind) \(tag) d\(name)")
                }
                assertClose(step.outputs, try fixture.tensor("output"), Tolerance(relative: 1e-6), "\(kind) outputs")
            }
        }
    }

    func testPredictMatchesKeras() throws {
        for kind in ["sigmoid", "softmax"] {
            let (head, fixture) = try fixtureHead(kind)
            assertClose(try head.predict(try fixture.tensor("inputs/0")), try fixture.tensor("output"),
                        Tolerance(relative: 1e-6), "\(kind) predict")
            XCTAssertThrowsError(try head.predict(Tensor(zeros: [2, 5])))
        }
    }

    /// A head ending in Dense(linear) + Activation(softmax) trains like Dense(softmax).
    func testActivationLayerHeadEqualsDenseActivation() throws {
        let (head, fixture) = try fixtureHead("softmax")
        var dense = head.layers[0] as! Dense
        dense.activation = .linear
        let split = try Head(layers: [dense, ActivationLayer(name: "act", activation: .softmax)])
        var none = NoRandom()
        let x = try fixture.tensor("inputs/0"), labels = try fixture.ints("labels")
        let a = try head.gradients(features: x, labels: labels, sampleWeights: nil, loss: .categoricalCrossentropy, generator: &none)
        let b = try split.gradients(features: x, labels: labels, sampleWeights: nil, loss: .categoricalCrossentropy, generator: &none)
        XCTAssertEqual(a.loss, b.loss)
        XCTAssertEqual(a.gradients, b.gradients)
    }

    func testMakeUsesKerasLayoutAndInitializers() throws {
        let head = Head.make(features: 1280, classes: 7, hidden: 256, dropout: 0.3, seed: 9)
        XCTAssertEqual(head.layers.map(\.name), ["head_hidden", "head_hidden_dropout", "head_dropout", "head_output"])
        XCTAssertEqual(head.layers.map(\.kerasClass), ["Dense", "Dropout", "Dropout", "Dense"])
        XCTAssertEqual(head.parameterNames, ["head_hidden/kernel", "head_hidden/bias", "head_output/kernel", "head_output/bias"])
        XCTAssertEqual((head.layers[0] as! Dense).activation, .relu)
        XCTAssertEqual((head.layers[3] as! Dense).activation, .softmax)
        XCTAssertEqual((head.layers[1] as! Dropout).rate, 0.3)
        XCTAssertEqual(head.featureCount, 1280)
        XCTAssertEqual(head.classes, 7)
        XCTAssertEqual(head.defaultLoss, .categoricalCrossentropy)
        XCTAssertEqual(head.parameterCount, 1280 * 256 + 256 + 256 * 7 + 7)
        let weights = head.weights
        // glorot_uniform: U(−limit, limit), limit = sqrt(6 / (fan_in + fan_out)); variance limit²/3.
        let kernel = try XCTUnwrap(weights["head_hidden/kernel"]).scalars
        let limit = Float((6.0 / Double(1280 + 256)).squareRoot())
        XCTAssertTrue(kernel.allSatisfy { abs($0) <= limit })
        let mean = kernel.reduce(0.0) { $0 + Double($1) } / Double(kernel.count)
        let variance = kernel.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(kernel.count) - mean * mean
        XCTAssertEqual(mean, 0, accuracy: Double(limit) * 0.01)
        XCTAssertEqual(variance, Double(limit * limit) / 3, accuracy: Double(limit * limit) / 3 * 0.01)
        XCTAssertTrue(try XCTUnwrap(weights["head_hidden/bias"]).scalars.allSatisfy { $0 == 0 })
        XCTAssertTrue(try XCTUnwrap(weights["head_output/bias"]).scalars.allSatisfy { $0 == 0 })
        // Seeded: the same seed gives the same weights, another seed others.
        XCTAssertEqual(Head.make(features: 1280, classes: 7, hidden: 256, dropout: 0.3, seed: 9).weights, weights)
        XCTAssertNotEqual(Head.make(features: 1280, classes: 7, hidden: 256, dropout: 0.3, seed: 10).weights, weights)

        let binary = Head.make(features: 12, classes: 2, dropout: 0, seed: 1)
        XCTAssertEqual(binary.layers.map(\.name), ["head_output"])
        XCTAssertEqual((binary.layers[0] as! Dense).activation, .sigmoid)
        XCTAssertEqual(binary.outputUnits, 1)
        XCTAssertEqual(binary.classes, 2)
        XCTAssertEqual(binary.defaultLoss, .binaryCrossentropy)
        XCTAssertEqual(Head.make(features: 12, classes: 3, seed: 1).layers.map(\.name), ["head_dropout", "head_output"])
    }

    func testHeadRejectsWhatItCannotTrain() {
        XCTAssertThrowsError(try Head(layers: [Dropout(name: "d", rate: 0.1)]))
        XCTAssertThrowsError(try Head(layers: [Dense(name: "a", inputUnits: 4, units: 3), Dense(name: "b", inputUnits: 2, units: 1)]))
        XCTAssertThrowsError(try Head(layers: [Dense(name: "a", inputUnits: 4, units: 3), Dense(name: "a", inputUnits: 3, units: 1)]))
        XCTAssertThrowsError(try Head(layers: [Dense(name: "a", inputUnits: 4, units: 3), Softmax(name: "s")]))
        XCTAssertThrowsError(try Head(layers: [Identity(name: "g", kerasClass: "GaussianNoise"), Dense(name: "a", inputUnits: 4, units: 3)]))
    }

    /// A NaN feature: `trainStep` throws and leaves the weights as they were.
    func testTrainStepRejectsNonFiniteLoss() throws {
        var (head, fixture) = try fixtureHead("sigmoid")
        var x = try fixture.tensor("inputs/0")
        x.scalars[5] = .nan
        let before = head.weights
        var optimizer: any Optimizer = Adam()
        var none = NoRandom()
        XCTAssertThrowsError(try head.trainStep(features: x, labels: try fixture.ints("labels"), sampleWeights: nil,
                                                loss: .binaryCrossentropy, optimizer: &optimizer, generator: &none)) { error in
            guard case TrainingError.nonFiniteLoss = error else { return XCTFail("got \(error)") }
        }
        XCTAssertEqual(head.weights, before)
        XCTAssertEqual(optimizer.state.iterations, 0)
        XCTAssertThrowsError(try head.trainStep(features: try fixture.tensor("inputs/0"), labels: Array(repeating: 2, count: 16),
                                                sampleWeights: nil, loss: .binaryCrossentropy, optimizer: &optimizer, generator: &none))
    }

    func testLayerRecordsRoundTrip() throws {
        let head = Head.make(features: 20, classes: 4, hidden: 6, dropout: 0.25, seed: 3)
        var rebuilt = try Head(records: try head.layerRecords())
        XCTAssertEqual(rebuilt.layers.map(\.name), head.layers.map(\.name))
        XCTAssertEqual(rebuilt.layers.map(\.kerasClass), head.layers.map(\.kerasClass))
        try rebuilt.setWeights(head.weights)
        let x = Tensor(shape: [3, 20], scalars: (0..<60).map { Float($0 % 7) - 3 })
        XCTAssertEqual(try rebuilt.predict(x), try head.predict(x))
        XCTAssertThrowsError(try rebuilt.setWeights(["nope/kernel": Tensor(zeros: [1])]))
    }
}
