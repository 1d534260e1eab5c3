import NN

/// Trains a whole model, or the unfrozen part of one, as Keras's `fit` does: forward in
/// training mode, the loss, backward through every layer, one optimizer step on the
/// trainable weights (by key path), then the non-trainable updates of the call
/// (BatchNormalization's moving statistics).
///
/// When the model ends in the loss's own activation (a sigmoid for binary cross-entropy, a
/// softmax for categorical, on the output layer or an Activation layer after it), the loss
/// is computed from the logits, as Keras 3 does with its cached `_keras_logits`.
public struct ModelTrainer: Sendable {
    public private(set) var model: Graph
    public var optimizer: any Optimizer
    public var loss: Loss
    /// Seeds the dropout masks (one stream per epoch, batch and layer) and the shuffles.
    public var seed: UInt64

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
        let context = TrainingContext(seed: seed, epoch: epoch, batch: batch)
        let forward = try graph.forwardTraining([x], context: context)
        var outputs = forward.output
        let value: Float
        let gradient: Tensor
        if let activation {
            (value, gradient) = loss.evaluate(logits: forward.output, labels: labels, sampleWeights: sampleWeights)
            activation.apply(&outputs.scalars, lastAxis: outputs.shape.last ?? 1)
        } else {
            (value, gradient) = loss.evaluate(outputs: forward.output, labels: labels, sampleWeights: sampleWeights)
        }
        let gradients = try graph.backward(gradient, tape: forward.tape, inputs: [false], weights: true)
        guard value.isFinite, gradients.weights.values.allSatisfy({ allFinite($0.scalars) }) else {
            throw TrainingError.nonFinite(epoch: epoch + 1, batch: batch + 1)
        }
        var weights = trainableWeights
        try optimizer.step(&weights, gradients: gradients.weights.mapValues(flushingSubnormals))
        for (path, value) in weights where gradients.weights[path] != nil {
            try model.setParameter(path, to: value)
        }
        for (path, value) in forward.updates { try model.setParameter(path, to: value) }
        return Step(loss: value, outputs: outputs)
    }

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
