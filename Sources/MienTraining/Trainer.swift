import MienFaces
import Foundation
import MienFiles
import MienNN

/// Errors of training.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// The loss (or a gradient) of batch `batch` of epoch `epoch` (both 1-based) is NaN or
    /// infinite; no weight was updated with it.
    case nonFinite(epoch: Int, batch: Int)
    /// The validation loss after epoch `epoch` is NaN or infinite.
    case nonFiniteValidation(epoch: Int)
    /// `Head.trainStep`'s loss (or a gradient) is NaN or infinite; the weights are unchanged.
    case nonFiniteLoss(Float)
    case invalidInput(String)
    case invalidHead(String)
    case invalidOptions(String)
    case invalidState(String)

    public var description: String {
        switch self {
        case .nonFinite(let epoch, let batch):
            return "the loss of epoch \(epoch), batch \(batch) is not finite (NaN or infinite); training stopped before updating the weights with it"
        case .nonFiniteValidation(let epoch):
            return "the validation loss after epoch \(epoch) is not finite (NaN or infinite)"
        case .nonFiniteLoss(let loss):
            return "the loss (\(loss)) or a gradient is not finite; the weights were not updated"
        case .invalidInput(let message): return "invalid training data: \(message)"
        case .invalidHead(let message): return "invalid head: \(message)"
        case .invalidOptions(let message): return "invalid options: \(message)"
        case .invalidState(let message): return "invalid trainer state: \(message)"
        }
    }
}

/// The optimizers `fit` can build from `FitOptions`.
public enum OptimizerName: String, Codable, Sendable, CaseIterable {
    case adam, sgd, rmsprop, adamw
}

/// What early stopping and the best epoch watch, as Keras's `monitor` names it.
public enum Monitor: String, Codable, Sendable, CaseIterable {
    case valLoss = "val_loss"
    case valAccuracy = "val_accuracy"

    /// The watched number, lower is better: the validation loss, or the validation error
    /// `1 − accuracy` (nil monitor: the loss).
    public static func value(_ monitor: Monitor?, loss: Float, accuracy: Float) -> Float {
        monitor == .valAccuracy ? 1 - accuracy : loss
    }
}

/// The options of `Trainer.fit`, Keras's `fit`/`compile` arguments.
public struct FitOptions: Codable, Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    /// Nil: the head's own (`Head.defaultLoss`).
    public var loss: Loss?
    public var optimizer: OptimizerName
    /// Nil: the optimizer's Keras default (Adam, AdamW and RMSprop 0.001, SGD 0.01).
    public var learningRate: Double?
    /// SGD and RMSprop.
    public var momentum: Double
    /// SGD only.
    public var nesterov: Bool
    /// Keras's `class_weight`, one weight per class: sample `i` weighs `classWeights[label_i]`
    /// in the training loss (not in the validation loss, as in Keras).
    public var classWeights: [Float]?
    /// Early stopping (Keras's `EarlyStopping(monitor=…, patience=…)`): stop once `patience`
    /// epochs in a row did not improve on the best. Nil: off.
    public var patience: Int?
    /// What early stopping and the best epoch watch; nil: the validation loss (Keras's default).
    public var monitor: Monitor?
    /// With validation data: end `fit` with the weights of the epoch of lowest validation
    /// loss (Keras's `restore_best_weights=True`), whether or not training stopped early.
    public var restoreBest: Bool
    /// Seeds the shuffles (from `(seed, epoch)`) and the dropout masks (from `(seed, epoch, batch)`).
    public var seed: UInt64
    /// Shuffle the training samples at each epoch (Keras's `shuffle=True`).
    public var shuffle: Bool

    public init(epochs: Int, batchSize: Int = 32, loss: Loss? = nil, optimizer: OptimizerName = .adam,
                learningRate: Double? = nil, momentum: Double = 0, nesterov: Bool = false,
                classWeights: [Float]? = nil, patience: Int? = nil, restoreBest: Bool = true,
                seed: UInt64 = 0, shuffle: Bool = true, monitor: Monitor? = nil) {
        self.monitor = monitor
        self.epochs = epochs
        self.batchSize = batchSize
        self.loss = loss
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.classWeights = classWeights
        self.patience = patience
        self.restoreBest = restoreBest
        self.seed = seed
        self.shuffle = shuffle
    }

    /// Bounds on `epochs` and `batchSize` (a batch's features and gradients are held at once).
    public static let maxEpochs = 100_000
    public static let maxBatchSize = 65_536

    /// A fresh optimizer for these options.
    public func makeOptimizer() -> any Optimizer {
        switch optimizer {
        case .adam: return Adam(learningRate: learningRate ?? 0.001)
        case .sgd: return SGD(learningRate: learningRate ?? 0.01, momentum: momentum, nesterov: nesterov)
        case .rmsprop: return RMSprop(learningRate: learningRate ?? 0.001, momentum: momentum)
        case .adamw: return AdamW(learningRate: learningRate ?? 0.001)
        }
    }

    /// Checks the options; `classes` also checks the class weights' count.
    func validate(classes: Int?) throws {
        guard epochs >= 0 else { throw TrainingError.invalidOptions("epochs must not be negative") }
        guard batchSize > 0 else { throw TrainingError.invalidOptions("batchSize must be positive") }
        if let patience, patience < 0 { throw TrainingError.invalidOptions("patience must not be negative") }
        if let lr = learningRate, !(lr > 0 && lr.isFinite) {
            throw TrainingError.invalidOptions("learningRate must be positive")
        }
        guard momentum >= 0, momentum <= 1 else { throw TrainingError.invalidOptions("momentum must be in [0, 1]") }
        guard epochs <= FitOptions.maxEpochs, batchSize <= FitOptions.maxBatchSize else {
            throw TrainingError.invalidOptions("at most \(FitOptions.maxEpochs) epochs and batches of \(FitOptions.maxBatchSize)")
        }
        if let classWeights {
            guard classes == nil || classWeights.count == classes else {
                throw TrainingError.invalidOptions("\(classWeights.count) class weights for \(classes ?? 0) classes")
            }
            guard classWeights.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
                throw TrainingError.invalidOptions("class weights must be finite and not negative")
            }
        }
    }
}

/// One epoch of `fit`. `epoch` is 1-based (Keras prints "Epoch 1/…").
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Keras's epoch `loss`: the mean of the batch losses (class-weighted, dropout on),
    /// weighted by batch size.
    public var loss: Float
    /// The fraction of training samples classified right during the epoch (training mode,
    /// unweighted, as Keras's `accuracy` metric).
    public var accuracy: Float
    /// The unweighted loss on the validation set, in inference mode.
    public var valLoss: Float?
    public var valAccuracy: Float?
    /// Wall-clock seconds of the epoch's training steps (not validation).
    public var seconds: Double
    /// Training samples per second.
    public var imagesPerSecond: Double
    /// 2 for the second stage of `mien train` (the backbone's top unfrozen); nil: the first.
    public var stage: Int?

    public init(epoch: Int, loss: Float, accuracy: Float, valLoss: Float? = nil, valAccuracy: Float? = nil,
                seconds: Double, imagesPerSecond: Double, stage: Int? = nil) {
        self.stage = stage
        self.epoch = epoch
        self.loss = loss
        self.accuracy = accuracy
        self.valLoss = valLoss
        self.valAccuracy = valAccuracy
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }
}

public struct History: Codable, Sendable, Equatable {
    public var epochs: [EpochRecord]
    /// The epoch (1-based) of lowest validation loss; nil without validation data.
    public var bestEpoch: Int?

    public init(epochs: [EpochRecord] = [], bestEpoch: Int? = nil) {
        self.epochs = epochs
        self.bestEpoch = bestEpoch
    }
}

/// Progress within an epoch, reported after every batch.
public struct BatchProgress: Sendable, Equatable {
    /// 1-based.
    public var epoch: Int
    public var epochs: Int
    /// 1-based.
    public var batch: Int
    public var batches: Int
    /// The running epoch loss and accuracy so far (as Keras's progress bar shows them).
    public var loss: Float
    public var accuracy: Float
}

/// Everything needed to resume `fit` and end exactly where an uninterrupted run ends.
public struct TrainerState: Codable, Sendable, Equatable {
    public var formatVersion: Int = 1
    /// The head's architecture.
    public var layers: [HeadLayerRecord]
    /// The head's weights by Keras key path (`head_output/kernel`), row-major.
    public var weights: [String: [Float]]
    public var shapes: [String: [Int]]
    public var options: FitOptions
    public var optimizer: OptimizerState
    /// The next epoch to run (1-based); `options.epochs + 1` when done.
    public var nextEpoch: Int
    public var history: History
    /// The weights after the best epoch so far (lowest validation loss).
    public var bestWeights: [String: [Float]]?
    /// The best monitored value so far (`Monitor.value`: the loss, or `1 − accuracy`).
    public var bestValLoss: Float?
    /// Keras's `EarlyStopping.wait`.
    public var epochsWithoutImprovement: Int
    /// Early stopping has ended training.
    public var stopped: Bool

    /// Whether `fit` has nothing left to do.
    public var isFinished: Bool { stopped || nextEpoch > options.epochs }
}

/// Trains a `Head` on cached features, the way Keras's `model.fit` does.
public struct Trainer: Sendable {
    public var head: Head
    public var options: FitOptions
    public var history: History
    public private(set) var optimizer: any Optimizer
    public private(set) var nextEpoch: Int
    var bestWeights: [String: Tensor]?
    var bestValLoss: Float?
    var wait: Int
    public private(set) var stopped: Bool

    public init(head: Head, options: FitOptions) {
        self.head = head
        self.options = options
        history = History()
        // Invalid options (a momentum of 2) must not trap here: `fit` refuses them first.
        optimizer = (try? options.validate(classes: nil)) != nil ? options.makeOptimizer() : Adam()
        nextEpoch = 1
        wait = 0
        stopped = false
    }

    /// Continues a run from the state `onEpoch` received. The state is checked for
    /// consistency (a checkpoint is a file, and may have been edited or damaged).
    public init(resuming state: TrainerState) throws {
        guard state.formatVersion == 1 else {
            throw TrainingError.invalidState("unsupported state format \(state.formatVersion)")
        }
        try state.options.validate(classes: nil)
        let done = state.history.epochs.count
        guard state.nextEpoch == done + 1, done <= state.options.epochs,
              state.history.epochs.map(\.epoch) == Array(1..<(done + 1)) else {
            throw TrainingError.invalidState("the history holds \(done) epochs, the next epoch is \(state.nextEpoch), and the run has \(state.options.epochs): they do not agree")
        }
        if let best = state.history.bestEpoch, !(1...max(done, 1)).contains(best) || done == 0 {
            throw TrainingError.invalidState("the best epoch \(best) is not one of the \(done) epochs run")
        }
        guard (0...max(done, 0)).contains(state.epochsWithoutImprovement) else {
            throw TrainingError.invalidState("\(state.epochsWithoutImprovement) epochs without improvement after \(done) epochs")
        }
        if let best = state.bestWeights, Set(best.keys) != Set(state.weights.keys) {
            throw TrainingError.invalidState("the best epoch's weights are not the head's")
        }
        var head = try Head(records: state.layers)
        guard Set(state.weights.keys) == Set(head.parameterNames) else {
            throw TrainingError.invalidState("the state's weights \(state.weights.keys.sorted()) are not the head's \(head.parameterNames)")
        }
        try head.setWeights(try Trainer.tensors(state.weights, shapes: state.shapes))
        self.head = head
        options = state.options
        history = state.history
        optimizer = try makeOptimizer(state: state.optimizer)
        nextEpoch = state.nextEpoch
        bestWeights = try state.bestWeights.map { try Trainer.tensors($0, shapes: state.shapes) }
        bestValLoss = state.bestValLoss
        wait = state.epochsWithoutImprovement
        stopped = state.stopped
    }

    /// The state to persist; throws if the head cannot be described (a checkpoint that could
    /// not be restored must not be written).
    public var state: TrainerState {
        get throws {
            try makeState()
        }
    }

    private func makeState() throws -> TrainerState {
        let weights = head.weights
        return TrainerState(layers: try head.layerRecords(),
                            weights: weights.mapValues(\.scalars),
                            shapes: weights.mapValues(\.shape),
                            options: options,
                            optimizer: optimizer.state,
                            nextEpoch: nextEpoch,
                            history: history,
                            bestWeights: bestWeights?.mapValues(\.scalars),
                            bestValLoss: bestValLoss,
                            epochsWithoutImprovement: wait,
                            stopped: stopped)
    }

    static func tensors(_ values: [String: [Float]], shapes: [String: [Int]]) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (name, scalars) in values {
            guard let shape = shapes[name], shape.allSatisfy({ $0 >= 0 && $0 <= ModelLimits.maxDimension }),
                  CheckedSize.product(shape) == scalars.count else {
                throw TrainingError.invalidState("weight '\(name)' has no shape matching its \(scalars.count) values")
            }
            result[name] = Tensor(shape: shape, scalars: scalars)
        }
        return result
    }

    /// Trains the head for the remaining epochs.
    ///
    /// Each epoch: the training samples in an order shuffled by a generator derived from
    /// `(seed, epoch)` (or in order), batches of `batchSize` (the last may be smaller), the
    /// Dropout masks of each batch drawn from `(seed, epoch, batch)`; then the validation
    /// loss and accuracy in inference mode, Keras's early-stopping bookkeeping, and
    /// `onEpoch` with the epoch's record and the state after it (which a caller may persist
    /// and resume from with `init(resuming:)`). `onBatch` reports progress after each batch.
    /// At the end, with `restoreBest` and validation data, the head gets the best epoch's
    /// weights back.
    ///
    /// A NaN or infinite batch loss or gradient throws `TrainingError.nonFinite(epoch:batch:)`
    /// before any weight is updated with it.
    public mutating func fit(train: (features: Tensor, labels: [Int]),
                             validation: (features: Tensor, labels: [Int])? = nil,
                             onBatch: (BatchProgress) throws -> Void = { _ in },
                             onEpoch: (EpochRecord, TrainerState) throws -> Void = { _, _ in }) throws {
        let loss = options.loss ?? head.defaultLoss
        try options.validate(classes: head.classes)
        _ = try head.layerRecords()   // the state must be able to describe the head
        try head.checkFeatures(train.features)
        let n = train.features.shape[0]
        guard n > 0 else { throw TrainingError.invalidInput("no training samples") }
        guard train.labels.count == n else {
            throw TrainingError.invalidInput("\(train.labels.count) labels for \(n) training samples")
        }
        try head.checkLabels(train.labels, loss: loss)
        if let validation {
            try head.checkFeatures(validation.features)
            guard validation.labels.count == validation.features.shape[0] else {
                throw TrainingError.invalidInput("\(validation.labels.count) labels for \(validation.features.shape[0]) validation samples")
            }
            try head.checkLabels(validation.labels, loss: loss)
        }
        let width = head.featureCount
        let sampleWeights = options.classWeights.map { weights in train.labels.map { weights[$0] } }
        let batchSize = options.batchSize
        let batches = (n + batchSize - 1) / batchSize

        while !stopped && nextEpoch <= options.epochs {
            let epoch = nextEpoch
            let order = Trainer.epochOrder(count: n, seed: options.seed, epoch: epoch, shuffle: options.shuffle)
            let clock = ContinuousClock()
            let start = clock.now
            var lossTotal: Float = 0   // Keras's Mean metric: Σ loss·batchSize / Σ batchSize, in float32
            var lossCount: Float = 0
            var correct = 0
            var seen = 0
            for b in 0..<batches {
                let rows = Array(order[(b * batchSize)..<min(n, (b + 1) * batchSize)])
                let features = Trainer.gather(train.features, rows: rows, width: width)
                let labels = rows.map { train.labels[$0] }
                let weights = sampleWeights.map { w in rows.map { w[$0] } }
                var dropout = SeededGenerator(seed: options.seed, .dropout, UInt64(epoch), UInt64(b))
                let step = try head.gradients(features: features, labels: labels, sampleWeights: weights,
                                              loss: loss, generator: &dropout)
                guard step.isFinite else { throw TrainingError.nonFinite(epoch: epoch, batch: b + 1) }
                try head.apply(step.gradients, optimizer: &optimizer)
                lossTotal += step.loss * Float(rows.count)
                lossCount += Float(rows.count)
                correct += zip(predictedClasses(step.outputs), labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
                seen += rows.count
                try onBatch(BatchProgress(epoch: epoch, epochs: options.epochs, batch: b + 1, batches: batches,
                                      loss: lossTotal / lossCount, accuracy: Float(correct) / Float(seen)))
            }
            let elapsed = clock.now - start
            let seconds = elapsed.seconds
            var record = EpochRecord(epoch: epoch, loss: lossTotal / lossCount,
                                     accuracy: Float(correct) / Float(n),
                                     seconds: seconds, imagesPerSecond: seconds > 0 ? Double(n) / seconds : 0)
            if let validation {
                let (valLoss, valAccuracy) = try evaluate(validation.features, labels: validation.labels, loss: loss)
                guard valLoss.isFinite else { throw TrainingError.nonFiniteValidation(epoch: epoch) }
                record.valLoss = valLoss
                record.valAccuracy = valAccuracy
                var stopping = EarlyStopping(patience: options.patience, bestValLoss: bestValLoss, wait: wait)
                if stopping.observe(Monitor.value(options.monitor, loss: valLoss, accuracy: valAccuracy), epoch: epoch) {
                    history.bestEpoch = epoch
                    if options.restoreBest { bestWeights = head.weights }
                }
                (bestValLoss, wait, stopped) = (stopping.bestValLoss, stopping.wait, stopping.stopped)
            }
            history.epochs.append(record)
            nextEpoch = epoch + 1
            try onEpoch(record, try state)
        }
        if options.restoreBest, let bestWeights {
            try head.setWeights(bestWeights)
        }
    }

    /// The loss (unweighted, from the logits as Keras's `evaluate`) and accuracy of the head in
    /// inference mode, computed over batches of `options.batchSize`.
    public func evaluate(_ features: Tensor, labels: [Int], loss: Loss? = nil) throws -> (loss: Float, accuracy: Float) {
        let loss = loss ?? options.loss ?? head.defaultLoss
        try head.checkFeatures(features)
        let n = features.shape[0]
        guard labels.count == n else { throw TrainingError.invalidInput("\(labels.count) labels for \(n) samples") }
        guard n > 0 else { return (0, 0) }
        try head.checkLabels(labels, loss: loss)
        let width = head.featureCount
        var total: Double = 0
        var correct = 0
        let batchSize = max(options.batchSize, 1)
        for start in stride(from: 0, to: n, by: batchSize) {
            let rows = Array(start..<min(n, start + batchSize))
            let batch = Trainer.gather(features, rows: rows, width: width)
            let batchLabels = Array(labels[rows.first!...rows.last!])
            let step = try head.inferenceLoss(features: batch, labels: batchLabels, loss: loss)
            total += Double(step.loss) * Double(rows.count)
            correct += zip(predictedClasses(step.outputs), batchLabels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        }
        return (Float(total / Double(n)), Float(correct) / Float(n))
    }

    /// The rows `rows` of a `[N, width]` tensor, in that order.
    /// The order of the samples in `epoch`: shuffled from the seed's `.shuffle` stream for
    /// that epoch (Keras's `shuffle=True`), or as given.
    static func epochOrder(count: Int, seed: UInt64, epoch: Int, shuffle: Bool) -> [Int] {
        var order = Array(0..<count)
        if shuffle {
            var generator = SeededGenerator(seed: seed, .shuffle, UInt64(epoch))
            generator.shuffle(&order)
        }
        return order
    }

    static func gather(_ x: Tensor, rows: [Int], width: Int) -> Tensor {
        gather(x, rows: rows, shape: [rows.count, width])
    }

    /// Items `rows` of the first axis of `x`, in that order, as a tensor of `shape`.
    static func gather(_ x: Tensor, rows: [Int], shape: [Int]) -> Tensor {
        let width = rows.isEmpty ? 0 : Tensor.count(of: shape) / rows.count
        var out = Tensor(zeros: shape)
        guard width > 0 else { return out }
        x.scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                for (k, r) in rows.enumerated() {
                    (dst.baseAddress! + k * width).update(from: src.baseAddress! + r * width, count: width)
                }
            }
        }
        return out
    }
}

extension Head {
    /// The unweighted loss and the outputs of an inference-mode forward pass (Dropout is the
    /// identity).
    func inferenceLoss(features: Tensor, labels: [Int], loss: Loss) throws -> (loss: Float, outputs: Tensor) {
        // Logits of the last layer when the loss uses them (as Keras's evaluate).
        var x = features
        var logits: Tensor?
        for (i, layer) in layers.enumerated() {
            if i == layers.count - 1 {
                if let dense = layer as? Dense, dense.activation == loss.outputActivation {
                    let (z, y) = try dense.forwardTraining(x)
                    logits = z
                    x = y
                    continue
                }
                if let act = layer as? ActivationLayer, act.activation == loss.outputActivation {
                    logits = x
                }
            }
            x = try layer.forward([x])
        }
        let value = logits.map { loss.evaluate(logits: $0, labels: labels, sampleWeights: nil).loss }
            ?? loss.evaluate(outputs: x, labels: labels, sampleWeights: nil).loss
        return (value, x)
    }
}
