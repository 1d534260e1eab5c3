import Foundation
import MienNN

/// Everything that resumes `ModelTrainer.fit` where it stopped: the model's weights (every
/// parameter, moving statistics included), the optimizer, the history and Keras's
/// early-stopping bookkeeping. Checkpoints store it as safetensors (`CheckpointFile`).
public struct ModelFitState: Sendable, Equatable {
    public var options: FitOptions
    public var optimizer: OptimizerState
    /// 1-based; `options.epochs + 1` when done.
    public var nextEpoch: Int
    public var history: History
    public var weights: [String: Tensor]
    /// The weights of the best epoch so far (possibly the starting weights).
    public var bestWeights: [String: Tensor]?
    /// The best monitored value so far (`Monitor.value`: the loss, or `1 − accuracy`).
    public var bestValLoss: Float?
    public var wait: Int
    public var stopped: Bool

    public var isFinished: Bool { stopped || nextEpoch > options.epochs }

    /// Checks that the state agrees with itself (it comes from a file): the options, the
    /// epoch counts, the optimizer, and weights of the best epoch for the same key paths.
    public func validate() throws {
        try options.validate(classes: nil)
        let done = history.epochs.count
        guard nextEpoch == done + 1, done <= options.epochs, (0...done).contains(wait) else {
            throw TrainingError.invalidState("the history holds \(done) epochs, the next is \(nextEpoch) of \(options.epochs), \(wait) without improvement: they do not agree")
        }
        if let best = history.bestEpoch, !(1...max(done, 1)).contains(best) {
            throw TrainingError.invalidState("the best epoch \(best) is not one of the \(done) epochs run")
        }
        if let bestWeights, Set(bestWeights.keys) != Set(weights.keys) {
            throw TrainingError.invalidState("the best epoch's weights are not the model's")
        }
        _ = try makeOptimizer(state: optimizer)
    }
}

/// Keras's `EarlyStopping(monitor=…, min_delta=0, patience=…)`, and the best epoch it
/// remembers for `restore_best_weights`, on a value where lower is better (`Monitor.value`).
struct EarlyStopping {
    var patience: Int?
    var bestValLoss: Float?
    var wait: Int
    var stopped = false

    /// Records epoch `epoch`'s monitored value; true when it is the best so far.
    mutating func observe(_ value: Float, epoch: Int) -> Bool {
        wait += 1
        if bestValLoss == nil || value < bestValLoss! {
            bestValLoss = value
            wait = 0
            return true
        }
        if let patience, wait >= patience, epoch > 1 { stopped = true }
        return false
    }
}

extension ModelTrainer {
    /// The state before the first epoch of `fit` with `options`. `baseline`: a monitored
    /// value (`Monitor.value`) the epochs must beat to count as best (the previous stage's),
    /// whose weights are the model's current ones.
    public func initialState(options: FitOptions, baseline: Float? = nil) -> ModelFitState {
        let weights = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value) })
        return ModelFitState(options: options, optimizer: optimizer.state, nextEpoch: 1, history: History(),
                             weights: weights, bestWeights: baseline == nil ? nil : weights,
                             bestValLoss: baseline, wait: 0, stopped: false)
    }

    /// Continues from `state` (its weights and optimizer replace the trainer's); the state is
    /// checked, since it comes from a file.
    public mutating func restore(_ state: ModelFitState) throws {
        try state.validate()
        let names = Set(model.parameters.map(\.name))
        guard Set(state.weights.keys) == names, state.bestWeights.map({ Set($0.keys) == names }) ?? true else {
            throw TrainingError.invalidState("the state's weights are not the model's")
        }
        for (path, value) in state.weights { try model.setParameter(path, to: value) }
        optimizer = try makeOptimizer(state: state.optimizer)
    }

    /// Keras's `fit` with validation and early stopping, resumable: runs the epochs after
    /// `state.nextEpoch - 1`, calling `onEpoch` with each epoch's record and the state after
    /// it (to be checkpointed), and ends with the best epoch's weights when
    /// `options.restoreBest` (or the baseline's, if no epoch beat it). The shuffles and the
    /// dropout masks come from `(options.seed, epoch, batch)`, so a resumed run draws what an
    /// uninterrupted one draws.
    public mutating func fit(train: any Samples, labels: [Int], validation: (samples: any Samples, labels: [Int])?,
                             state: inout ModelFitState,
                             onBatch: (BatchProgress) throws -> Void = { _ in },
                             onEpoch: (EpochRecord, ModelFitState) throws -> Void = { _, _ in }) throws {
        let options = state.options
        try options.validate(classes: nil)
        let n = train.count
        guard n > 0, labels.count == n else { throw TrainingError.invalidInput("\(labels.count) labels for \(n) samples") }
        if let validation, validation.labels.count != validation.samples.count {
            throw TrainingError.invalidInput("\(validation.labels.count) labels for \(validation.samples.count) validation samples")
        }
        let sampleWeights = options.classWeights.map { w in labels.map { w[$0] } }
        let batchSize = options.batchSize
        let batches = (n + batchSize - 1) / batchSize
        var stopping = EarlyStopping(patience: options.patience, bestValLoss: state.bestValLoss, wait: state.wait,
                                     stopped: state.stopped)
        while !state.isFinished {
            let epoch = state.nextEpoch
            let order = Trainer.epochOrder(count: n, seed: options.seed, epoch: epoch, shuffle: options.shuffle)
            let clock = ContinuousClock()
            let start = clock.now
            var lossTotal: Float = 0
            var correct = 0
            var seen = 0
            for b in 0..<batches {
                let rows = Array(order[(b * batchSize)..<min(n, (b + 1) * batchSize)])
                let batchLabels = rows.map { labels[$0] }
                let step = try trainStep(train.batch(rows), labels: batchLabels,
                                         sampleWeights: sampleWeights.map { w in rows.map { w[$0] } },
                                         epoch: epoch - 1, batch: b)
                lossTotal += step.loss * Float(rows.count)
                seen += rows.count
                correct += zip(predictedClasses(step.outputs), batchLabels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
                try onBatch(BatchProgress(epoch: epoch, epochs: options.epochs, batch: b + 1, batches: batches,
                                          loss: lossTotal / Float(seen), accuracy: Float(correct) / Float(seen)))
            }
            let seconds = (clock.now - start).seconds
            var record = EpochRecord(epoch: epoch, loss: lossTotal / Float(n), accuracy: Float(correct) / Float(n),
                                     seconds: seconds, imagesPerSecond: seconds > 0 ? Double(n) / seconds : 0)
            state.weights = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.value) })
            if let validation {
                let (valLoss, valAccuracy) = try evaluate(validation.samples, labels: validation.labels,
                                                          batchSize: batchSize)
                guard valLoss.isFinite else { throw TrainingError.nonFiniteValidation(epoch: epoch) }
                record.valLoss = valLoss
                record.valAccuracy = valAccuracy
                if stopping.observe(Monitor.value(options.monitor, loss: valLoss, accuracy: valAccuracy), epoch: epoch) {
                    state.history.bestEpoch = epoch
                    if options.restoreBest { state.bestWeights = state.weights }
                }
            }
            state.bestValLoss = stopping.bestValLoss
            state.wait = stopping.wait
            state.stopped = stopping.stopped
            state.history.epochs.append(record)
            state.nextEpoch = epoch + 1
            state.optimizer = optimizer.state
            try onEpoch(record, state)
        }
        if options.restoreBest, let best = state.bestWeights {
            for (path, value) in best { try model.setParameter(path, to: value) }
        }
    }

    /// Keras's `evaluate`: the unweighted loss (from the logits when the model ends in the
    /// loss's activation) and the accuracy, in inference mode.
    public func evaluate(_ samples: any Samples, labels: [Int], batchSize: Int = 64) throws -> (loss: Float, accuracy: Float) {
        let n = samples.count
        guard labels.count == n else { throw TrainingError.invalidInput("\(labels.count) labels for \(n) samples") }
        guard n > 0 else { return (0, 0) }
        let (graph, activation) = try logitsModel()
        let inference = try graph.optimizedForInference()
        var total: Double = 0
        var correct = 0
        for start in stride(from: 0, to: n, by: max(batchSize, 1)) {
            let rows = Array(start..<min(n, start + max(batchSize, 1)))
            let batchLabels = rows.map { labels[$0] }
            var outputs = try inference.forward([samples.batch(rows)])
            let value: Float
            if let activation {
                value = loss.evaluate(logits: outputs, labels: batchLabels, sampleWeights: nil).loss
                activation.apply(&outputs.scalars, lastAxis: outputs.shape.last ?? 1)
            } else {
                value = loss.evaluate(outputs: outputs, labels: batchLabels, sampleWeights: nil).loss
            }
            total += Double(value) * Double(rows.count)
            correct += zip(predictedClasses(outputs), batchLabels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        }
        return (Float(total / Double(n)), Float(correct) / Float(n))
    }
}
