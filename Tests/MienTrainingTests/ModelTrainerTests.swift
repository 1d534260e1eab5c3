import MienKeras
import MienNN
import MienTestSupport
import XCTest
@testable import MienTraining

/// Training whole models against Keras (`tools/make_gradient_fixtures.py`): Keras's own
/// `fit` (Adam 1e-3, 3 epochs of 4 batches, no shuffling) of a CNN with BatchNormalization,
/// sigmoid and softmax, and one Adam step of the original project's CNN with Mien's dropout
/// masks. The per-epoch losses and every weight after (moving statistics included) match
/// within 1e-5 of each tensor's scale (measured: within 1e-6 but for one kernel at 1.5e-6):
/// Adam divides by `sqrt(v)`, which carries float32 differences of the gradients into the
/// weights.
final class ModelTrainerTests: XCTestCase {
    let tolerance = Tolerance(relative: 1e-5)

    func testFitMatchesKeras() throws {
        for (name, loss) in [("fit_cnn_sigmoid", Loss.binaryCrossentropy), ("fit_cnn_softmax", .categoricalCrossentropy)] {
            let model = try KerasModel(contentsOf: Fixtures.path("gradients/\(name).h5")).graph
            let golden = try Golden("gradients/\(name).fit.h5")
            let labels = try golden.tensor("labels").scalars.map { Int($0) }
            var trainer = try ModelTrainer(model: model, optimizer: Adam(), loss: loss)
            let losses = try trainer.fit(try golden.inputs[0], labels: labels, epochs: try golden.int("epochs"),
                                         batchSize: try golden.int("batch_size"), shuffle: false)
            if let bad = mismatch(losses, try golden.tensor("losses").scalars, tolerance) { XCTFail("\(name) losses: \(bad)") }
            try compareWeights(trainer.model, golden, name)
        }
    }

    func testOneAdamStepOfTheOriginalCNNMatchesKeras() throws {
        let model = try KerasModel(contentsOf: Fixtures.path("gradients/step_original_cnn.h5")).graph
        let golden = try Golden("gradients/step_original_cnn.fit.h5")
        var trainer = try ModelTrainer(model: model, optimizer: Adam(), loss: .binaryCrossentropy,
                                       seed: UInt64(try golden.int("seed")))
        let step = try trainer.trainStep(try golden.inputs[0], labels: try golden.tensor("labels").scalars.map { Int($0) },
                                         epoch: try golden.int("epoch"), batch: try golden.int("batch"))
        XCTAssertEqual(step.loss, try golden.tensor("losses").scalars[0], accuracy: 1e-5)
        try compareWeights(trainer.model, golden, "step_original_cnn")
    }

    /// A batch split across cores steps as the whole batch does: the dropout masks are the
    /// whole batch's rows, the parts' losses and gradients are weighted by their share.
    func testSplitBatchStepsAsTheWholeBatch() throws {
        let model = try KerasModel(contentsOf: Fixtures.path("gradients/step_original_cnn.h5")).graph
        let golden = try Golden("gradients/step_original_cnn.fit.h5")
        let x = try golden.inputs[0]
        let labels = try golden.tensor("labels").scalars.map { Int($0) }
        XCTAssertGreaterThanOrEqual(x.shape[0], 2 * ModelTrainer.rowsPerPart, "the fixture's batch must be large enough to split")
        var whole = try ModelTrainer(model: model, optimizer: Adam(), loss: .binaryCrossentropy, seed: 3)
        whole.splitsBatches = false
        var split = try ModelTrainer(model: model, optimizer: Adam(), loss: .binaryCrossentropy, seed: 3)
        let weights = (0..<labels.count).map { Float($0 % 3) + 0.5 }
        let a = try whole.trainStep(x, labels: labels, sampleWeights: weights, epoch: 1, batch: 2)
        let b = try split.trainStep(x, labels: labels, sampleWeights: weights, epoch: 1, batch: 2)
        XCTAssertEqual(a.loss, b.loss, accuracy: 1e-6 * max(1, abs(a.loss)))
        assertClose(b.outputs, a.outputs, Tolerance(relative: 1e-6), "outputs")
        for (p, q) in zip(whole.model.parameters, split.model.parameters) {
            assertClose(q.value, p.value, Tolerance(relative: 1e-5), p.name)
        }
    }

    /// `FitOptions.monitor`: the best epoch is the first of the lowest validation loss, or with
    /// `.valAccuracy` the first of the highest validation accuracy (strictly better only, as
    /// Keras's `min_delta=0`), and those are the weights `fit` ends with.
    func testMonitorPicksTheBestEpochByLossOrAccuracy() throws {
        let model = try KerasModel(contentsOf: Fixtures.path("gradients/fit_cnn_sigmoid.h5")).graph
        let golden = try Golden("gradients/fit_cnn_sigmoid.fit.h5")
        let x = try golden.inputs[0]
        let labels = try golden.tensor("labels").scalars.map { Int($0) }
        let half = x.shape[0] / 2
        let train = TensorSamples(x.batch(0..<half)), validation = TensorSamples(x.batch(half..<x.shape[0]))
        for monitor in [Monitor.valLoss, .valAccuracy] {
            var trainer = try ModelTrainer(model: model, optimizer: Adam(learningRate: 0.01), loss: .binaryCrossentropy)
            var state = trainer.initialState(options: FitOptions(epochs: 6, batchSize: 4, seed: 1, monitor: monitor))
            try trainer.fit(train: train, labels: Array(labels[..<half]),
                            validation: (validation, Array(labels[half...])), state: &state)
            let values = state.history.epochs.map {
                Monitor.value(monitor, loss: $0.valLoss!, accuracy: $0.valAccuracy!)
            }
            let best = values.indices.min { values[$0] < values[$1] }! + 1
            XCTAssertEqual(state.history.bestEpoch, best, "\(monitor)")
            XCTAssertEqual(state.bestValLoss, values[best - 1])
            let ended = try trainer.evaluate(validation, labels: Array(labels[half...]), batchSize: 4)
            XCTAssertEqual(Monitor.value(monitor, loss: ended.loss, accuracy: ended.accuracy), values[best - 1],
                           accuracy: 1e-6, "\(monitor): fit ends with the best epoch's weights")
        }
        XCTAssertEqual(Monitor.value(.valAccuracy, loss: 0.3, accuracy: 0.75), 0.25)
        XCTAssertEqual(Monitor.value(nil, loss: 0.3, accuracy: 0.75), 0.3)
    }

    func testMismatchedLabelsAreRefused() throws {
        let model = try KerasModel(contentsOf: Fixtures.path("gradients/step_original_cnn.h5")).graph
        var trainer = try ModelTrainer(model: model, optimizer: Adam(), loss: .binaryCrossentropy)
        let x = try Golden("gradients/step_original_cnn.fit.h5").inputs[0]
        XCTAssertThrowsError(try trainer.trainStep(x, labels: [0], epoch: 0, batch: 0)) { error in
            XCTAssertTrue("\(error)".contains("1 labels"), "\(error)")
        }
    }

    /// A layer without a backward is refused before anything runs, naming it and its class.
    func testModelWithoutBackwardIsRefused() throws {
        let layers: [any Layer] = [InputLayer(name: "in", shape: [nil, 4, 4, 1]),
                                   UpSampling2D(name: "up", interpolation: .bilinear)]
        let graph = try Graph(name: "g", layers: layers, nodes: [.init(layer: 0, inputs: []), .init(layer: 1, inputs: [0])],
                              inputNodes: [0], outputNode: 1)
        XCTAssertThrowsError(try ModelTrainer(model: graph, optimizer: Adam(), loss: .binaryCrossentropy)) { error in
            XCTAssertTrue("\(error)".contains("'up' (UpSampling2D)"), "\(error)")
        }
    }

    func compareWeights(_ model: Graph, _ golden: Golden, _ name: String) throws {
        let weights = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value) })
        let after = try golden.root.group("after")
        var compared = 0
        for layer in try after.childNames() {
            for weight in try after.group(layer).childNames() {
                guard let actual = weights["\(layer)/\(weight)"] else {
                    XCTFail("\(name): no weight \(layer)/\(weight)")
                    continue
                }
                let expected = try golden.tensor("after/\(layer)/\(weight)")
                if let bad = mismatch(actual, expected, tolerance) { XCTFail("\(name) \(layer)/\(weight): \(bad)") }
                compared += 1
            }
        }
        XCTAssertEqual(compared, weights.count, "\(name): every weight compared")
    }
}
