import Foundation
import MienFaces
import XCTest
import MienNN
import MienTestSupport
@testable import MienTraining

final class TrainerTests: XCTestCase {
    /// `Trainer.fit` against Keras's `model.fit`: Adam(0.01), batch 8 (two batches an
    /// epoch), no shuffling, class weights, validation data, three epochs. The epoch losses
    /// (class-weighted mean of batch losses), accuracies, validation losses and accuracies, and
    /// the final weights.
    func testFitMatchesKerasFit() throws {
        for kind in ["sigmoid", "softmax"] {
            let (head, fixture) = try fixtureHead(kind)
            let options = FitOptions(epochs: 3, batchSize: 8, optimizer: .adam, learningRate: 0.01,
                                     classWeights: try fixture.floats("class_weights"), restoreBest: false, shuffle: false)
            var trainer = Trainer(head: head, options: options)
            var progress: [BatchProgress] = []
            try trainer.fit(train: (try fixture.tensor("inputs/0"), try fixture.ints("labels")),
                            validation: (try fixture.tensor("validation/features"), try fixture.ints("validation/labels")),
                            onBatch: { progress.append($0) })
            let records = trainer.history.epochs
            XCTAssertEqual(records.map(\.epoch), [1, 2, 3])
            XCTAssertEqual(progress.count, 6)
            XCTAssertEqual(progress.last?.loss, records.last?.loss)
            let lossTolerance = Tolerance(relative: 1e-5)
            for (key, values) in [("loss", records.map(\.loss)), ("val_loss", records.map { $0.valLoss! })] {
                if let bad = mismatch(values, try fixture.floats("fit/\(key)"), lossTolerance) { XCTFail("\(kind) \(key): \(bad)") }
            }
            XCTAssertEqual(records.map(\.accuracy), try fixture.floats("fit/accuracy"), "\(kind) accuracy")
            XCTAssertEqual(records.map { $0.valAccuracy! }, try fixture.floats("fit/val_accuracy"), "\(kind) val_accuracy")
            for (name, value) in trainer.head.weights {
                assertClose(value, try fixture.tensor("fit/weights/\(name)"), Tolerance(relative: 1e-5), "\(kind) fit \(name)")
            }
            assertClose(try trainer.head.predict(try fixture.tensor("validation/features")),
                        try fixture.tensor("fit/validation_output"), Tolerance(relative: 1e-5), "\(kind) validation output")
        }
    }

    /// Train on one labelling and validate on the opposite one: the validation loss rises, so
    /// early stopping ends `patience` epochs after the best and restores that epoch's weights.
    func testEarlyStoppingRestoresBestEpoch() throws {
        let data = Blobs(classes: 2, perClass: 40, features: 6, seed: 5)
        let flipped = data.labels.map { 1 - $0 }
        var trainer = Trainer(head: Head.make(features: 6, classes: 2, hidden: 4, dropout: 0, seed: 1),
                              options: FitOptions(epochs: 30, batchSize: 16, learningRate: 0.01, patience: 2, seed: 3))
        var weightsAfter: [Int: [String: [Float]]] = [:]
        try trainer.fit(train: (data.features, data.labels), validation: (data.features, flipped),
                        onEpoch: { record, state in weightsAfter[record.epoch] = state.weights })
        let history = trainer.history
        let valLosses = history.epochs.map { $0.valLoss! }
        let best = try XCTUnwrap(history.bestEpoch)
        XCTAssertEqual(valLosses[best - 1], valLosses.min())
        XCTAssertEqual(history.epochs.count, best + 2, "stops `patience` epochs after the best")
        XCTAssertLessThan(history.epochs.count, 30)
        XCTAssertTrue(trainer.stopped)
        XCTAssertEqual(trainer.head.weights.mapValues(\.scalars), weightsAfter[best], "best weights restored")
        XCTAssertNotEqual(weightsAfter[history.epochs.count], weightsAfter[best])
        // Without restoreBest the last epoch's weights stay.
        var keep = Trainer(head: Head.make(features: 6, classes: 2, hidden: 4, dropout: 0, seed: 1),
                           options: FitOptions(epochs: 30, batchSize: 16, learningRate: 0.01, patience: 2,
                                               restoreBest: false, seed: 3))
        try keep.fit(train: (data.features, data.labels), validation: (data.features, flipped))
        XCTAssertEqual(keep.head.weights.mapValues(\.scalars), weightsAfter[history.epochs.count])
    }

    /// Stop after epoch 2, save the state as JSON, resume from it: the run ends bit-identical
    /// to an uninterrupted one (weights, optimizer state, losses, best epoch), with dropout and
    /// shuffling on, for Adam and SGD with momentum.
    func testResumedRunIsBitIdentical() throws {
        let data = Blobs(classes: 3, perClass: 30, features: 10, seed: 8, spread: 2.5)
        let validation = Blobs(classes: 3, perClass: 10, features: 10, seed: 9, spread: 2.5)
        for optimizer in OptimizerName.allCases {
            let options = FitOptions(epochs: 6, batchSize: 16, optimizer: optimizer, momentum: optimizer == .sgd ? 0.9 : 0,
                                     classWeights: [1, 1.5, 0.75], patience: 4, seed: 77)
            let head = Head.make(features: 10, classes: 3, hidden: 12, dropout: 0.3, seed: 4)
            var whole = Trainer(head: head, options: options)
            try whole.fit(train: (data.features, data.labels), validation: (validation.features, validation.labels))

            struct Interrupted: Error {}
            var saved: Data?
            var first = Trainer(head: head, options: options)
            XCTAssertThrowsError(try first.fit(train: (data.features, data.labels), validation: (validation.features, validation.labels),
                                               onEpoch: { record, state in
                if record.epoch == 2 {
                    saved = try JSONEncoder().encode(state)
                    throw Interrupted()
                }
            }))
            let state = try JSONDecoder().decode(TrainerState.self, from: try XCTUnwrap(saved))
            XCTAssertEqual(state.nextEpoch, 3)
            XCTAssertEqual(state.history.epochs.count, 2)
            var resumed = try Trainer(resuming: state)
            try resumed.fit(train: (data.features, data.labels), validation: (validation.features, validation.labels))

            XCTAssertEqual(resumed.head.weights, whole.head.weights, "\(optimizer): weights")
            XCTAssertEqual(resumed.optimizer.state, whole.optimizer.state, "\(optimizer): optimizer state")
            XCTAssertEqual(resumed.history.bestEpoch, whole.history.bestEpoch)
            XCTAssertEqual(resumed.history.epochs.map(\.epoch), whole.history.epochs.map(\.epoch))
            XCTAssertEqual(resumed.history.epochs.map(\.loss), whole.history.epochs.map(\.loss))
            XCTAssertEqual(resumed.history.epochs.map(\.accuracy), whole.history.epochs.map(\.accuracy))
            XCTAssertEqual(resumed.history.epochs.map(\.valLoss), whole.history.epochs.map(\.valLoss))
            XCTAssertEqual(try resumed.state.weights, try whole.state.weights)
            // A finished state resumes to nothing new.
            var again = try Trainer(resuming: try whole.state)
            XCTAssertTrue(try whole.state.isFinished)
            try again.fit(train: (data.features, data.labels), validation: (validation.features, validation.labels))
            XCTAssertEqual(again.head.weights, whole.head.weights)
            XCTAssertEqual(again.history.epochs.count, whole.history.epochs.count)
        }
    }

    /// A NaN (or infinite) feature throws `nonFinite` naming the epoch and batch, before any
    /// weight is updated with that batch.
    func testNonFiniteLossThrowsBeforeUpdating() throws {
        let data = Blobs(classes: 2, perClass: 20, features: 4, seed: 2)
        for bad in [Float.nan, .infinity] {
            var features = data.features
            features.scalars[25 * 4 + 1] = bad   // row 25: batch 3 of 10 without shuffling
            let head = Head.make(features: 4, classes: 2, dropout: 0, seed: 1)
            var trainer = Trainer(head: head, options: FitOptions(epochs: 2, batchSize: 10, shuffle: false))
            var weightsBefore: [String: Tensor] = [:]
            var batchesDone = 0
            XCTAssertThrowsError(try trainer.fit(train: (features, data.labels), onBatch: { progress in
                batchesDone = progress.batch
            })) { error in
                XCTAssertEqual(error as? TrainingError, .nonFinite(epoch: 1, batch: 3))
            }
            XCTAssertEqual(batchesDone, 2)
            // The weights are those after batch 2: replay two batches by hand.
            var replay = head
            var optimizer: any Optimizer = Adam()
            var none = NoRandom()
            for b in 0..<2 {
                let rows = Array(b * 10..<(b + 1) * 10)
                _ = try replay.trainStep(features: Trainer.gather(features, rows: rows, width: 4), labels: rows.map { data.labels[$0] },
                                         sampleWeights: nil, loss: .binaryCrossentropy, optimizer: &optimizer, generator: &none)
            }
            weightsBefore = replay.weights
            XCTAssertEqual(trainer.head.weights, weightsBefore)
            XCTAssertTrue(trainer.head.weights.values.allSatisfy { $0.scalars.allSatisfy(\.isFinite) })
        }
        // NaN in the validation data.
        var validation = data.features
        validation.scalars[0] = .nan
        var trainer = Trainer(head: Head.make(features: 4, classes: 2, seed: 1), options: FitOptions(epochs: 1))
        XCTAssertThrowsError(try trainer.fit(train: (data.features, data.labels), validation: (validation, data.labels))) { error in
            XCTAssertEqual(error as? TrainingError, .nonFiniteValidation(epoch: 1))
        }
    }

    /// Well-separated blobs train to 100 % accuracy, binary and 4 classes, with dropout.
    func testSeparableProblemTrainsToFullAccuracy() throws {
        for classes in [2, 4] {
            let data = Blobs(classes: classes, perClass: 25, features: 8, seed: UInt64(classes))
            var trainer = Trainer(head: Head.make(features: 8, classes: classes, hidden: 16, dropout: 0.2, seed: 1),
                                  options: FitOptions(epochs: 40, batchSize: 16, learningRate: 0.01, seed: 2))
            try trainer.fit(train: (data.features, data.labels), validation: (data.features, data.labels))
            let predicted = predictedClasses(try trainer.head.predict(data.features))
            XCTAssertEqual(predicted, data.labels, "\(classes) classes")
            XCTAssertEqual(try trainer.evaluate(data.features, labels: data.labels).accuracy, 1)
            XCTAssertEqual(trainer.history.epochs.last?.valAccuracy, 1)
            let report = ClassificationReport(predicted: predicted, actual: data.labels,
                                              classes: (0..<classes).map { "c\($0)" })
            XCTAssertEqual(report.accuracy, 1)
            XCTAssertLessThan(trainer.history.epochs.last!.loss, trainer.history.epochs.first!.loss)
        }
    }

    func testOptionsAreChecked() throws {
        let data = Blobs(classes: 3, perClass: 4, features: 5, seed: 1)
        let head = Head.make(features: 5, classes: 3, seed: 1)
        for options in [FitOptions(epochs: 1, batchSize: 0), FitOptions(epochs: 1, classWeights: [1, 2]),
                        FitOptions(epochs: 1, learningRate: -1), FitOptions(epochs: 1, loss: .binaryCrossentropy)] {
            var trainer = Trainer(head: head, options: options)
            XCTAssertThrowsError(try trainer.fit(train: (data.features, data.labels)), "\(options)")
        }
        var trainer = Trainer(head: head, options: FitOptions(epochs: 1))
        XCTAssertThrowsError(try trainer.fit(train: (data.features, data.labels.map { $0 + 1 })))
        XCTAssertThrowsError(try trainer.fit(train: (Tensor(zeros: [12, 4]), data.labels)))
        XCTAssertThrowsError(try trainer.fit(train: (data.features, Array(data.labels.dropLast()))))
    }

    func testResumingRejectsInconsistentState() throws {
        let trainer = Trainer(head: Head.make(features: 5, classes: 3, hidden: 4, seed: 1), options: FitOptions(epochs: 2))
        XCTAssertNoThrow(try Trainer(resuming: try trainer.state))
        var state = try trainer.state
        state.weights["head_output/kernel"]?.removeLast()
        XCTAssertThrowsError(try Trainer(resuming: state))
        state = try trainer.state
        state.weights["extra/kernel"] = [1]
        state.shapes["extra/kernel"] = [1, 1]
        XCTAssertThrowsError(try Trainer(resuming: state))
        state = try trainer.state
        state.optimizer.kind = "rmsprop"
        XCTAssertThrowsError(try Trainer(resuming: state))
        state = try trainer.state
        state.formatVersion = 2
        XCTAssertThrowsError(try Trainer(resuming: state))
        // A head the state cannot describe is refused when fitting starts.
        var odd = Trainer(head: try Head(layers: [Dense(name: "d", inputUnits: 5, units: 3, activation: .leakyReLU(slope: 0.3)),
                                                  ActivationLayer(name: "s", activation: .softmax)]),
                          options: FitOptions(epochs: 1))
        let data = Blobs(classes: 3, perClass: 2, features: 5, seed: 1)
        XCTAssertThrowsError(try odd.fit(train: (data.features, data.labels)))
    }

    func testShufflesDependOnSeedAndEpochOnly() {
        var a = SeededGenerator(seed: 5, streamList: [RandomStream.shuffle.rawValue, 3])
        var b = SeededGenerator(seed: 5, streamList: [RandomStream.shuffle.rawValue, 3])
        var c = SeededGenerator(seed: 5, streamList: [RandomStream.shuffle.rawValue, 4])
        var x = Array(0..<50), y = Array(0..<50), z = Array(0..<50)
        a.shuffle(&x); b.shuffle(&y); c.shuffle(&z)
        XCTAssertEqual(x, y)
        XCTAssertNotEqual(x, z)
        XCTAssertEqual(x.sorted(), Array(0..<50))
        XCTAssertEqual(classWeightsBalanced(counts: [10, 30, 0]), [40.0 / 30, 40.0 / 90, 1])
    }
}

/// Gaussian blobs: class `c` centred at `spread · e_(c mod features)` (± by parity), unit
/// variance. Samples are interleaved by class.
struct Blobs {
    var features: Tensor
    var labels: [Int]

    init(classes: Int, perClass: Int, features width: Int, seed: UInt64, spread: Float = 6) {
        var generator = SeededGenerator(seed: seed)
        var scalars: [Float] = []
        var labels: [Int] = []
        for i in 0..<(classes * perClass) {
            let c = i % classes
            labels.append(c)
            for j in 0..<width {
                // Box–Muller.
                let u1 = max(Float(generator.nextDouble()), 1e-7), u2 = Float(generator.nextDouble())
                let noise = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Float.pi * u2)
                let centre: Float = j == c % width ? (c / width % 2 == 0 ? spread : -spread) : 0
                scalars.append(centre + noise)
            }
        }
        self.features = Tensor(shape: [classes * perClass, width], scalars: scalars)
        self.labels = labels
    }
}
