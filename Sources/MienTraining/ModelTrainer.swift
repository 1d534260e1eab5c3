import Dispatch
import Foundation
import MienNN

/// Trains a whole model, or the unfrozen part of one, as Keras's `fit` does: forward in
/// training mode, the loss, backward through every layer, one optimizer step on the
/// trainable weights (by key path), then the non-trainable updates of the call
/// (BatchNormalization's moving statistics).
///
/// When the model ends in the loss's own activation (a sigmoid for binary cross-entropy, a
/// softmax for categorical, on the output layer or an Activation layer after it), the loss
/// is computed from the logits, as Keras 3 does with its cached `_keras_logits`.
public struct ModelTrainer: Sendable {
    public internal(set) var model: Graph
    public var optimizer: any Optimizer
    public var loss: Loss
    /// Seeds the dropout masks (one stream per epoch, batch and layer) and the shuffles.
    public var seed: UInt64
    /// Split each batch across cores (when no layer mixes the samples); off, the whole batch
    /// runs at once. Both give the same step up to float rounding.
    public var splitsBatches = true

    /// Refuses, naming the layer and its class, a model with a layer that has no backward.
    public init(model: Graph, optimizer: any Optimizer, loss: Loss, seed: UInt64 = 0) throws {
        if let (path, kerasClass) = model.untrainableLayer {
            throw TrainingError.invalidHead("layer '\(path)' (\(kerasClass)) cannot be trained: Mien has no backward pass for it")
        }
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.seed = seed
    }

    /// The trainable weights by key path.
    public var trainableWeights: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: model.parameters.filter(\.trainable).map { ($0.name, $0.value) })
    }

    /// The result of one step.
    public struct Step: Sendable {
        public var loss: Float
        /// The model's outputs in training mode (probabilities).
        public var outputs: Tensor
    }

    /// One training step on a batch (Keras's `train_on_batch`). `epoch` and `batch` pick the
    /// dropout masks. Throws `TrainingError.nonFinite` (weights unchanged) on a NaN loss or
    /// gradient.
    @discardableResult
    public mutating func trainStep(_ x: Tensor, labels: [Int], sampleWeights: [Float]? = nil,
                                   epoch: Int, batch: Int) throws -> Step {
        let (graph, activation) = try logitsModel()
        let n = x.shape.first ?? 0
        guard labels.count == n, sampleWeights.map({ $0.count == n }) ?? true, n > 0 else {
            throw TrainingError.invalidInput("\(labels.count) labels and \(sampleWeights?.count ?? n) sample weights for a batch of \(n)")
        }
        // The batch split across cores, each part with a single-threaded BLAS (as inference
        // does), unless a layer mixes the samples; the parts' gradients are summed.
        let parts = graph.mixesSamples || !splitsBatches ? 1 : max(1, min(BatchRunner.cores, n / ModelTrainer.rowsPerPart))
        let bounds = (0...parts).map { $0 * n / parts }
        let results = ConcurrentResults<PartResult>(count: parts)
        let loss = self.loss
        let seed = self.seed
        @Sendable func part(_ p: Int) throws -> PartResult {
            var context = TrainingContext(seed: seed, epoch: epoch, batch: batch)
            let rows = bounds[p]..<bounds[p + 1]
            if parts > 1 { (context.rows, context.batchSize) = (rows, n) }
            let forward = try graph.forwardTraining([parts > 1 ? x.batch(rows) : x], context: context)
            var outputs = forward.output
            let partLabels = Array(labels[rows])
            let partWeights = sampleWeights.map { Array($0[rows]) }
            var (value, gradient) = activation != nil
                ? loss.evaluate(logits: outputs, labels: partLabels, sampleWeights: partWeights)
                : loss.evaluate(outputs: outputs, labels: partLabels, sampleWeights: partWeights)
            activation?.apply(&outputs.scalars, lastAxis: outputs.shape.last ?? 1)
            if parts > 1 {
                // Each part's loss is a mean over its rows; the step's is over the batch.
                let share = Float(rows.count) / Float(n)
                value *= share
                gradient.scalars.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= share } }
            }
            let gradients = try graph.backward(gradient, tape: forward.tape, inputs: [false], weights: true)
            return PartResult(loss: value, outputs: outputs, gradients: gradients.weights, updates: forward.updates)
        }
        if parts == 1 {
            results.set(0, Result { try part(0) })
        } else {
            BLASKernels.singleThreaded {
                DispatchQueue.concurrentPerform(iterations: parts) { p in results.set(p, Result { try part(p) }) }
            }
        }
        let done = try (0..<parts).map { try results.get($0).get() }
        var value: Float = 0
        var gradients: [String: Tensor] = [:]
        for result in done {
            value += result.loss
            for (path, g) in result.gradients {
                if gradients[path] == nil { gradients[path] = g } else { gradients[path]!.add(g) }
            }
        }
        let outputs = parts == 1 ? done[0].outputs
            : Tensor(shape: [n] + done[0].outputs.shape.dropFirst(), scalars: done.flatMap(\.outputs.scalars))
        guard value.isFinite, gradients.values.allSatisfy({ allFinite($0.scalars) }) else {
            throw TrainingError.nonFinite(epoch: epoch + 1, batch: batch + 1)
        }
        var weights = trainableWeights
        try optimizer.step(&weights, gradients: gradients.mapValues(flushingSubnormals))
        for (path, value) in weights where gradients[path] != nil {
            try model.setParameter(path, to: value)
        }
        for (path, value) in done[0].updates { try model.setParameter(path, to: value) }
        return Step(loss: value, outputs: outputs)
    }

    /// The fewest rows worth a core of their own.
    static let rowsPerPart = 4

    /// Keras's `fit(x, y, batch_size, epochs, shuffle)` without validation: the mean loss of
    /// each epoch (Keras's running `loss` metric at the epoch's end).
    public mutating func fit(_ x: Tensor, labels: [Int], epochs: Int, batchSize: Int, shuffle: Bool = true) throws -> [Float] {
        let n = x.shape.first ?? 0
        guard labels.count == n, n > 0 else {
            throw TrainingError.invalidInput("\(labels.count) labels for \(n) samples")
        }
        guard epochs >= 0, batchSize > 0 else { throw TrainingError.invalidOptions("epochs and batch size must be positive") }
        var history: [Float] = []
        for epoch in 0..<epochs {
            let order = Trainer.epochOrder(count: n, seed: seed, epoch: epoch, shuffle: shuffle)
            var total: Float = 0
            var count: Float = 0
            for (b, start) in stride(from: 0, to: n, by: batchSize).enumerated() {
                let rows = Array(order[start..<min(n, start + batchSize)])
                let batch = Trainer.gather(x, rows: rows, shape: [rows.count] + x.shape.dropFirst())
                let step = try trainStep(batch, labels: rows.map { labels[$0] }, epoch: epoch, batch: b)
                total += step.loss * Float(rows.count)
                count += Float(rows.count)
            }
            history.append(total / count)
        }
        return history
    }

    /// The model with its final activation removed when it is the loss's own (the loss is
    /// then computed from the logits), and that activation.
    func logitsModel() throws -> (Graph, Activation?) {
        let target = loss.outputActivation
        let index = model.nodes[model.outputNode].layer
        guard var layer = model.layers[index] as? any ActivatedLayer, layer.activation == target else {
            return (model, nil)
        }
        layer.activation = .linear
        var graph = model
        graph.layers[index] = layer
        return (graph, target)
    }
}

/// One part of a split batch: its share of the loss, its outputs, its weight gradients.
struct PartResult: Sendable {
    var loss: Float
    var outputs: Tensor
    var gradients: [String: Tensor]
    var updates: [String: Tensor]
}
