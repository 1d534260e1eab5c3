import MienFaces
import Foundation
import MienNN

/// A classification head trained on a frozen backbone's pooled features `[N, C]`, as a Keras
/// `Sequential` of `Dense`, `Dropout` and `Activation` layers:
///
///     [Dense(hidden, relu) "head_hidden", Dropout "head_hidden_dropout"]   (optional)
///     Dropout(rate) "head_dropout"
///     Dense(1, sigmoid) "head_output"  (2 classes)  |  Dense(k, softmax) "head_output"  (k > 2)
///
/// Weights are named by Keras key paths: `head_hidden/kernel`, `head_output/bias`, ….
public struct Head: Sendable {
    /// The trainable layers on pooled features, in order: `Dense`, `Dropout` and
    /// `ActivationLayer`. Change them through `init(layers:)`, which checks them.
    public private(set) var layers: [any Layer]

    /// Checks that the layers chain (every Dense takes the previous width) and that each is a
    /// `Dense`, a `Dropout` or an `ActivationLayer`, with unique names.
    public init(layers: [any Layer]) throws {
        var width: Int?
        var names = Set<String>()
        var sawDense = false
        for layer in layers {
            guard names.insert(layer.name).inserted else {
                throw TrainingError.invalidHead("two layers are named '\(layer.name)'")
            }
            switch layer {
            case let dense as Dense:
                if let width, width != dense.kernel.shape[0] {
                    throw TrainingError.invalidHead("layer '\(dense.name)' takes \(dense.kernel.shape[0]) inputs, the previous layer gives \(width)")
                }
                width = dense.units
                sawDense = true
            case let dropout as Dropout where dropout.spatialRank == nil && dropout.noiseShape == nil:
                guard dropout.rate >= 0, dropout.rate < 1 else {
                    throw TrainingError.invalidHead("layer '\(dropout.name)': dropout rate \(dropout.rate) is outside [0, 1)")
                }
            case is ActivationLayer:
                break
            default:
                throw TrainingError.invalidHead("layer '\(layer.name)' (\(layer.kerasClass)) cannot be trained in a head; use Dense, Dropout or Activation")
            }
        }
        guard sawDense else { throw TrainingError.invalidHead("a head needs at least one Dense layer") }
        self.layers = layers
    }

    /// A new head with Keras's default initializers: `glorot_uniform` kernels
    /// (`U(−limit, limit)`, `limit = sqrt(6 / (fanIn + fanOut))`, drawn from `seed`) and zero
    /// biases. `classes == 2` gives one sigmoid unit, more classes a softmax. A dropout of 0
    /// leaves the Dropout layers out.
    public static func make(features: Int, classes: Int, hidden: Int = 0, dropout: Float = 0.2, seed: UInt64) -> Head {
        precondition(features > 0, "Head.make: features must be positive")
        precondition(classes >= 2, "Head.make: a classifier needs at least 2 classes")
        precondition(hidden >= 0, "Head.make: hidden must be 0 (none) or positive")
        precondition(dropout >= 0 && dropout < 1, "Head.make: dropout must be in [0, 1)")
        var layers: [any Layer] = []
        var width = features
        if hidden > 0 {
            layers.append(glorotUniform(Dense(name: "head_hidden", inputUnits: features, units: hidden, activation: .relu),
                                        seed: seed, index: 0))
            if dropout > 0 { layers.append(Head.dropout("head_hidden_dropout", dropout)) }
            width = hidden
        }
        if dropout > 0 { layers.append(Head.dropout("head_dropout", dropout)) }
        let units = classes == 2 ? 1 : classes
        layers.append(glorotUniform(Dense(name: "head_output", inputUnits: width, units: units,
                                          activation: classes == 2 ? .sigmoid : .softmax),
                                    seed: seed, index: 1))
        return try! Head(layers: layers)
    }

    static func dropout(_ name: String, _ rate: Float) -> Dropout {
        Dropout(name: name, rate: rate)
    }

    static func glorotUniform(_ dense: Dense, seed: UInt64, index: UInt64) -> Dense {
        var dense = dense
        let (fanIn, fanOut) = (dense.kernel.shape[0], dense.kernel.shape[1])
        let limit = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
        var generator = SeededGenerator(seed: seed, .initializer, index)
        dense.kernel.scalars.withUnsafeMutableBufferPointer { w in
            for i in 0..<w.count { w[i] = -limit + 2 * limit * Float(generator.nextDouble()) }
        }
        return dense
    }

    // MARK: Shape and weights

    var denseIndices: [Int] { layers.indices.filter { layers[$0] is Dense } }

    /// The number of input features (the first Dense layer's input units).
    public var featureCount: Int { (layers[denseIndices[0]] as! Dense).kernel.shape[0] }

    /// The number of output units: 1 for a sigmoid head, `k` for a softmax head.
    public var outputUnits: Int { (layers[denseIndices.last!] as! Dense).units }

    /// The number of classes the head predicts (2 for one sigmoid unit).
    public var classes: Int { outputUnits == 1 ? 2 : outputUnits }

    /// The loss that fits the output: binary crossentropy for one unit, else categorical.
    public var defaultLoss: Loss { Loss.forOutputUnits(outputUnits) }

    /// The trainable weights' Keras key paths, in optimizer order (`layer/kernel`, `layer/bias`).
    public var parameterNames: [String] {
        layers.flatMap { layer in layer.parameters.map { Graph.path(layer: layer.name, $0.name) } }
    }

    /// The trainable weights, in `parameterNames` order.
    public var parameters: [Tensor] { layers.flatMap { $0.parameters.map(\.value) } }

    /// The weights by key path.
    public var weights: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: zip(parameterNames, parameters))
    }

    /// Replaces weights by key path (every given name must exist, with the same shape).
    public mutating func setWeights(_ weights: [String: Tensor]) throws {
        let known = Set(parameterNames)
        if let unknown = weights.keys.sorted().first(where: { !known.contains($0) }) {
            throw TrainingError.invalidState("the head has no weight '\(unknown)'")
        }
        for i in layers.indices {
            for parameter in layers[i].parameters {
                if let value = weights["\(layers[i].name)/\(parameter.name)"] {
                    try layers[i].setParameter(parameter.name, to: value)
                }
            }
        }
    }

    /// The total number of trainable scalars (Keras's `count_params()`).
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    // MARK: Inference

    /// The head's probabilities `[N, outputUnits]` in inference mode (Dropout is the identity).
    public func predict(_ features: Tensor) throws -> Tensor {
        try checkFeatures(features)
        var x = features
        for layer in layers { x = try layer.forward([x]) }
        return x
    }

    func checkFeatures(_ features: Tensor) throws {
        guard features.rank == 2, features.shape[1] == featureCount else {
            throw TrainingError.invalidInput("features must be [N, \(featureCount)], got \(features.shape)")
        }
    }

    // MARK: Training

    /// The result of a forward and backward pass over one batch.
    public struct Step: Sendable {
        /// The batch loss (weighted, `sum_over_batch_size`).
        public var loss: Float
        /// The head's probabilities in training mode (with the batch's dropout masks).
        public var outputs: Tensor
        /// The gradient of every weight, in `parameterNames` order.
        public var gradients: [Tensor]
    }

    private enum Trace {
        case dense(input: Tensor, preActivation: Tensor, output: Tensor)
        case dropout(mask: Tensor?)
        case activation(input: Tensor, output: Tensor)
    }

    /// Forward in training mode (Dropout masks drawn from `generator`), the loss, and the
    /// gradient of every weight. When the head ends in the loss's own activation (sigmoid
    /// for binary, softmax for categorical, on a Dense layer or an Activation layer) the loss
    /// is computed from the logits, as Keras 3's `fit` does; otherwise from the clipped
    /// probabilities.
    public func gradients(features: Tensor, labels: [Int], sampleWeights: [Float]?, loss: Loss,
                          generator: inout some RandomNumberGenerator) throws -> Step {
        try checkFeatures(features)
        let n = features.shape[0]
        guard labels.count == n else {
            throw TrainingError.invalidInput("\(labels.count) labels for \(n) samples")
        }
        if let sampleWeights, sampleWeights.count != n {
            throw TrainingError.invalidInput("\(sampleWeights.count) sample weights for \(n) samples")
        }
        try checkLabels(labels, loss: loss)

        // Forward, keeping what backward needs.
        var trace: [Trace] = []
        trace.reserveCapacity(layers.count)
        var x = features
        for layer in layers {
            switch layer {
            case let dense as Dense:
                let (z, y) = try dense.forwardTraining(x)
                trace.append(.dense(input: x, preActivation: z, output: y))
                x = y
            case let dropout as Dropout:
                let (y, mask) = try dropout.forwardTraining(x, generator: &generator)
                trace.append(.dropout(mask: mask))
                x = y
            case let activation as ActivationLayer:
                let y = try activation.forward([x])
                trace.append(.activation(input: x, output: y))
                x = y
            default:
                throw TrainingError.invalidHead("layer '\(layer.name)' (\(layer.kerasClass)) cannot be trained")
            }
        }
        let outputs = x

        // The loss, from the logits when Keras would use them.
        var lossValue: Float
        var gradient: Tensor
        var last = layers.count - 1
        var logitsGradient: Tensor?
        switch (layers[last], trace[last]) {
        case (let dense as Dense, .dense(_, let z, _)) where dense.activation == loss.outputActivation:
            (lossValue, gradient) = loss.evaluate(logits: z, labels: labels, sampleWeights: sampleWeights)
            logitsGradient = gradient
        case (let act as ActivationLayer, .activation(let input, _)) where act.activation == loss.outputActivation:
            (lossValue, gradient) = loss.evaluate(logits: input, labels: labels, sampleWeights: sampleWeights)
            last -= 1   // the gradient is already with respect to the activation's input
        default:
            (lossValue, gradient) = loss.evaluate(outputs: outputs, labels: labels, sampleWeights: sampleWeights)
        }

        // Backward.
        var gradients = [Tensor?](repeating: nil, count: parameterNames.count)
        var offsets: [Int] = []
        var offset = 0
        for layer in layers {
            offsets.append(offset)
            offset += layer.parameters.count
        }
        let firstDense = denseIndices[0]
        var i = last
        while i >= firstDense {
            let needInput = i > firstDense
            switch (layers[i], trace[i]) {
            case (let dense as Dense, .dense(let input, let z, let y)):
                let dz: Tensor
                if let g = logitsGradient, i == layers.count - 1 {
                    dz = g
                } else {
                    dz = dense.activation.backward(input: dense.activation.backwardNeedsInput ? z : nil,
                                                   output: y, outputGradient: gradient)
                }
                let g = try dense.backward(input: input, preActivationGradient: flushingSubnormals(dz),
                                           inputGradient: needInput)
                gradients[offsets[i]] = flushingSubnormals(g.kernel)
                if let bias = g.bias { gradients[offsets[i] + 1] = flushingSubnormals(bias) }
                if let dx = g.input { gradient = dx }
            case (let dropout as Dropout, .dropout(let mask)):
                gradient = try dropout.backward(outputGradient: gradient, mask: mask)
            case (let activation as ActivationLayer, .activation(let input, let output)):
                gradient = try activation.backward(input: input, output: output, outputGradient: gradient)
            default:
                fatalError("trace does not match layer \(i)")
            }
            i -= 1
        }
        return Step(loss: lossValue, outputs: outputs, gradients: gradients.map { $0! })
    }

    func checkLabels(_ labels: [Int], loss: Loss) throws {
        let units = outputUnits
        switch loss {
        case .binaryCrossentropy:
            guard units == 1 else {
                throw TrainingError.invalidInput("binaryCrossentropy needs one output unit, the head has \(units)")
            }
        case .categoricalCrossentropy:
            guard units >= 2 else {
                throw TrainingError.invalidInput("categoricalCrossentropy needs at least two output units, the head has \(units)")
            }
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
            throw TrainingError.invalidInput("label \(bad) is outside 0..<\(classes)")
        }
    }

    /// Applies one optimizer step with `gradients` (in `parameterNames` order). The weights are
    /// moved out of the layers for the step, so the optimizer updates them without a copy.
    public mutating func apply(_ gradients: [Tensor], optimizer: inout any Optimizer) throws {
        let names = parameterNames
        guard gradients.count == names.count else {
            throw TrainingError.invalidState("\(gradients.count) gradients for the head's \(names.count) weights")
        }
        var parameters: [String: Tensor] = [:]
        for i in layers.indices {
            guard var dense = layers[i] as? Dense else { continue }
            parameters["\(dense.name)/kernel"] = dense.kernel
            if let bias = dense.bias { parameters["\(dense.name)/bias"] = bias }
            dense.kernel = Tensor(zeros: [0])
            if dense.bias != nil { dense.bias = Tensor(zeros: [0]) }
            layers[i] = dense
        }
        // Put the weights back whatever the optimizer does (it changes nothing when it throws).
        defer {
            for i in layers.indices {
                guard var dense = layers[i] as? Dense else { continue }
                dense.kernel = parameters["\(dense.name)/kernel"] ?? dense.kernel
                if dense.bias != nil { dense.bias = parameters["\(dense.name)/bias"] }
                layers[i] = dense
            }
        }
        try optimizer.step(&parameters, gradients: Dictionary(uniqueKeysWithValues: zip(names, gradients)))
    }

    /// One training step on a batch: forward with dropout, loss, backward and the optimizer
    /// update. Returns the batch loss. Throws `TrainingError.nonFiniteLoss` (and leaves the
    /// weights unchanged) if the loss or a gradient is NaN or infinite.
    public mutating func trainStep(features: Tensor, labels: [Int], sampleWeights: [Float]?, loss: Loss,
                                   optimizer: inout any Optimizer,
                                   generator: inout some RandomNumberGenerator) throws -> Float {
        let step = try gradients(features: features, labels: labels, sampleWeights: sampleWeights,
                                 loss: loss, generator: &generator)
        guard step.isFinite else { throw TrainingError.nonFiniteLoss(step.loss) }
        try apply(step.gradients, optimizer: &optimizer)
        return step.loss
    }
}

extension Head.Step {
    /// Whether the loss and every gradient are finite.
    public var isFinite: Bool {
        guard loss.isFinite else { return false }
        for g in gradients where !allFinite(g.scalars) { return false }
        return true
    }
}

/// Whether no value is NaN or infinite: one branch-free pass (the exponent bits all set).
/// `x`, or zero when it is subnormal. Arithmetic on subnormals takes a slow path in the CPU:
/// Adam's moments of units that no longer get gradients decay into them after a few
/// epochs, and a confident sigmoid gives gradients below 1e-38; here they made epochs up to
/// 10× slower. TensorFlow runs its CPU kernels in flush-to-zero mode, so Keras flushes them too.
@inline(__always)
func flushed(_ x: Float) -> Float {
    abs(x) < Float.leastNormalMagnitude ? 0 : x
}

/// `t` with its subnormal values flushed to zero (`flushed`).
func flushingSubnormals(_ t: Tensor) -> Tensor {
    var t = t
    t.scalars.withUnsafeMutableBufferPointer { values in
        for i in values.indices { values[i] = flushed(values[i]) }
    }
    return t
}

func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { b in
        var special: UInt32 = 0
        for v in b { special |= (v.bitPattern & 0x7F80_0000) == 0x7F80_0000 ? 1 : 0 }
        return special == 0
    }
}

// MARK: - Architecture records (for the Codable trainer state)

/// One layer of a head, as stored in a `TrainerState` (the weights are stored apart).
public struct HeadLayerRecord: Codable, Sendable, Equatable {
    /// `Dense`, `Dropout` or `Activation`.
    public var kind: String
    public var name: String
    public var inputUnits: Int?
    public var units: Int?
    public var useBias: Bool?
    /// Keras's activation name (`relu`, `sigmoid`, `softmax`, …).
    public var activation: String?
    public var rate: Float?
}

extension Head {
    /// The head's layers as records (the architecture, without weights).
    public func layerRecords() throws -> [HeadLayerRecord] {
        try layers.map { layer in
            switch layer {
            case let d as Dense:
                return HeadLayerRecord(kind: "Dense", name: d.name, inputUnits: d.kernel.shape[0], units: d.units,
                                       useBias: d.bias != nil, activation: try kerasName(d.activation, layer: d.name))
            case let d as Dropout:
                return HeadLayerRecord(kind: "Dropout", name: d.name, rate: d.rate)
            case let a as ActivationLayer:
                return HeadLayerRecord(kind: "Activation", name: a.name, activation: try kerasName(a.activation, layer: a.name))
            default:
                throw TrainingError.invalidHead("layer '\(layer.name)' (\(layer.kerasClass)) cannot be recorded")
            }
        }
    }

    /// A head from records, with zero weights (set them with `setWeights`).
    public init(records: [HeadLayerRecord]) throws {
        let layers: [any Layer] = try records.map { r in
            switch r.kind {
            case "Dense":
                guard let inputUnits = r.inputUnits, let units = r.units, inputUnits > 0, units > 0 else {
                    throw TrainingError.invalidState("Dense record '\(r.name)' lacks its sizes")
                }
                return Dense(name: r.name, inputUnits: inputUnits, units: units, useBias: r.useBias ?? true,
                             activation: try activation(named: r.activation ?? "linear", layer: r.name))
            case "Dropout":
                return Head.dropout(r.name, r.rate ?? 0)
            case "Activation":
                return ActivationLayer(name: r.name, activation: try activation(named: r.activation ?? "linear", layer: r.name))
            default:
                throw TrainingError.invalidState("unknown layer kind '\(r.kind)' for '\(r.name)'")
            }
        }
        try self.init(layers: layers)
    }
}

private func kerasName(_ activation: Activation, layer: String) throws -> String {
    switch activation {
    case .linear: return "linear"
    case .relu: return "relu"
    case .relu6: return "relu6"
    case .sigmoid: return "sigmoid"
    case .tanh: return "tanh"
    case .softmax: return "softmax"
    case .logSoftmax: return "log_softmax"
    case .swish: return "swish"
    case .elu(alpha: 1): return "elu"
    case .selu: return "selu"
    case .gelu(approximate: false): return "gelu"
    case .softplus: return "softplus"
    case .softsign: return "softsign"
    case .exponential: return "exponential"
    case .mish: return "mish"
    case .hardSwish: return "hard_silu"
    case Activation.hardSigmoidKeras3: return "hard_sigmoid"
    case .leakyReLU(slope: 0.2): return "leaky_relu"
    default: throw TrainingError.invalidHead("layer '\(layer)': activation \(activation) has no Keras 3 name")
    }
}

private func activation(named name: String, layer: String) throws -> Activation {
    guard let activation = Activation(kerasName: name, kerasMajor: 3) else {
        throw TrainingError.invalidState("layer '\(layer)': unknown activation '\(name)'")
    }
    return activation
}
