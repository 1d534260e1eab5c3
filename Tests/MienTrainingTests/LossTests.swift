import XCTest
import MienNN
import MienTestSupport
@testable import MienTraining

/// Losses and their gradients against Keras 3 (`tools/make_training_fixtures.py`).
final class LossTests: XCTestCase {
    /// The probability path (a plain probability tensor, no cached logits): Keras clips to
    /// [1e-7, 1 − 1e-7] (the gradient is 0 where clipped) and, for categorical, renormalises
    /// each row by its sum first. Cases include 0, 1, 1e-9 and rows not summing to 1.
    func testProbabilityPathMatchesKeras() throws {
        let fixture = try TrainingFixture("probabilities")
        for (group, loss) in [("binary", Loss.binaryCrossentropy), ("categorical", .categoricalCrossentropy)] {
            let outputs = try fixture.tensor("\(group)/outputs")
            let labels = try fixture.ints("\(group)/labels")
            let weights = try fixture.floats("\(group)/sample_weights")
            for (tag, w) in [("unweighted", nil), ("weighted", weights)] as [(String, [Float]?)] {
                let (value, gradient) = loss.evaluate(outputs: outputs, labels: labels, sampleWeights: w)
                assertClose(value, try fixture.scalar("\(group)/\(tag)/loss"), relative: 1e-6, "\(group) \(tag) loss")
                assertClose(gradient, try fixture.tensor("\(group)/\(tag)/gradient"), Tolerance(relative: 1e-5),
                            "\(group) \(tag) gradient")
            }
        }
    }

    /// Keras 3 divides the weighted sum by the batch size, not by the sum of the weights.
    func testWeightedReductionDividesByBatchSize() {
        let logits = Tensor(shape: [2, 1], scalars: [0, 0])   // l = log 2 for both samples
        let (plain, _) = Loss.binaryCrossentropy.evaluate(logits: logits, labels: [0, 1], sampleWeights: nil)
        let (weighted, gradient) = Loss.binaryCrossentropy.evaluate(logits: logits, labels: [0, 1], sampleWeights: [3, 1])
        XCTAssertEqual(plain, Float(log(2.0)), accuracy: 1e-7)
        XCTAssertEqual(weighted, Float(4 * log(2.0) / 2), accuracy: 1e-6)    // (3 + 1)·log 2 / 2
        XCTAssertEqual(gradient.scalars, [3 * 0.5 / 2, 1 * -0.5 / 2])
    }

    /// The logits path against the probability path where no clipping happens: the same
    /// numbers (Keras's two paths agree away from saturation).
    func testLogitsAndProbabilityPathsAgreeAwayFromSaturation() {
        let logits = Tensor(shape: [3, 4], scalars: [0.1, -0.3, 0.7, 0.2, 1.5, 0.1, -1, 0, -0.2, 0.4, 0.3, 0.9])
        var probabilities = logits
        Activation.softmax.apply(&probabilities.scalars, lastAxis: 4)
        let labels = [2, 0, 3], weights: [Float] = [1, 0.5, 2]
        let fromLogits = Loss.categoricalCrossentropy.evaluate(logits: logits, labels: labels, sampleWeights: weights)
        let fromProbabilities = Loss.categoricalCrossentropy.evaluate(outputs: probabilities, labels: labels, sampleWeights: weights)
        XCTAssertEqual(fromLogits.loss, fromProbabilities.loss, accuracy: 1e-6)
        // dL/dz through the softmax Jacobian equals the logits gradient.
        let throughSoftmax = Activation.softmax.backward(input: nil, output: probabilities,
                                                         outputGradient: fromProbabilities.gradient)
        assertClose(throughSoftmax, fromLogits.gradient, Tolerance(relative: 1e-5), "softmax chain")
    }

    /// Saturated outputs: Keras 3's fit and GradientTape use the cached logits, so the loss
    /// is not capped at −log(1e-7) ≈ 16.1. The head computes the same as Keras.
    func testSaturatedHeadUsesLogitsLikeKeras() throws {
        for kind in ["sigmoid", "softmax"] {
            let (head, fixture) = try fixtureHead(kind)
            var none = NoRandom()
            let step = try head.gradients(features: try fixture.tensor("saturated/inputs"),
                                          labels: try fixture.ints("labels"), sampleWeights: nil,
                                          loss: head.defaultLoss, generator: &none)
            let expected = try fixture.scalar("saturated/loss")
            assertClose(step.loss, expected, relative: 1e-5, "\(kind) saturated loss")
            // The clipped probability path would give another number on these outputs.
            let clipped = head.defaultLoss.evaluate(outputs: step.outputs, labels: try fixture.ints("labels"), sampleWeights: nil)
            XCTAssertGreaterThan(abs(clipped.loss - expected), 0.1, "\(kind): the fixture should saturate")
        }
    }

    /// One rule everywhere (`Decision`): a sigmoid score of exactly 0.5 is class 1, as the
    /// Predictor and the report decide.
    func testPredictedClasses() {
        XCTAssertEqual(predictedClasses(Tensor(shape: [3, 1], scalars: [0.5, 0.49, 0.2])), [1, 0, 0])
        XCTAssertEqual(predictedClasses(Tensor(shape: [2, 1], scalars: [0.3, 0.7]), threshold: 0.3), [1, 1])
        XCTAssertEqual(predictedClasses(Tensor(shape: [2, 3], scalars: [0.2, 0.4, 0.4, 0.7, 0.2, 0.1])), [1, 0])
    }
}
