/// A layer that is the identity at inference: `Dropout`, `SpatialDropout1D/2D/3D`,
/// `GaussianNoise`, `GaussianDropout`, `AlphaDropout`, `ActivityRegularization`.
/// Keeps the Keras class name for summaries.
public struct Identity: Layer {
    public var name: String
    public var kerasClass: String
    public var trainable: Bool = true
    /// The layer's numeric Keras options (`rate`, `stddev`, `l1`, ...): unused at inference,
    /// kept so that training and the export back to Keras see them.
    public var options: [String: Float]
    /// Keras's `noise_shape` (Dropout): the shape of the mask, an axis of 1 sharing one draw
    /// along it (EfficientNet's drop-connect is `(None, 1, 1, 1)`: whole images); nil, or nil
    /// axes, take the input's. The spatial dropouts draw per image and channel.
    public var noiseShape: [Int?]?

    /// The Keras classes that are the identity at inference.
    public static let kerasClasses: Set<String> = [
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
        "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    ]

    public init(name: String, kerasClass: String, options: [String: Float] = [:], noiseShape: [Int?]? = nil) {
        self.name = name
        self.kerasClass = kerasClass
        self.options = options
        self.noiseShape = noiseShape
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { try single(inputShapes) }

    public func forward(_ inputs: [Tensor]) throws -> Tensor { try single(inputs) }

    /// Every class here but ActivityRegularization draws noise in training mode.
    public var usesTrainingFlag: Bool { kerasClass != "ActivityRegularization" }
}

// MARK: - Training (Dropout)

extension Identity {
    /// The dropout rate of a `Dropout` layer (`options["rate"]`, 0 if absent).
    public var dropoutRate: Float { options["rate"] ?? 0 }

    /// Keras's `Dropout` in training mode: inverted dropout. Each element is kept with
    /// probability `1 − rate` (kept when a uniform draw `u ∈ [0, 1)` satisfies `u ≥ rate`, as
    /// TensorFlow's `dropout` does) and scaled by `1 / (1 − rate)`; the others become 0.
    /// Returns the output and the mask of factors (0 or `1 / (1 − rate)`) for `backward`;
    /// the mask is nil when the rate is 0 (the identity). `rate` defaults to the layer's own.
    ///
    /// Draws one 64-bit number per element from `generator` (its top 24 bits), so a seeded
    /// generator gives the same mask on every platform. Keras's masks come from TensorFlow's
    /// RNG and cannot be reproduced; only their distribution matches. Only Dropout and the
    /// spatial dropouts train: the other identity-at-inference layers throw.
    public func forwardTraining<G: RandomNumberGenerator>(_ x: Tensor, rate: Float? = nil,
                                                           generator: inout G) throws
        -> (output: Tensor, mask: Tensor?) {
        guard canTrain else {
            throw LayerError(layer: name, "\(kerasClass) cannot be trained: Mien has no backward pass for it")
        }
        let rate = rate ?? dropoutRate
        guard rate >= 0, rate < 1 else {
            throw LayerError(layer: name, "dropout rate \(rate) is outside [0, 1)")
        }
        guard rate > 0 else { return (x, nil) }
        let scale = Float(1 / (1 - Double(rate)))
        var mask = Tensor(zeros: x.shape)
        var y = x
        mask.scalars.withUnsafeMutableBufferPointer { m in
            y.scalars.withUnsafeMutableBufferPointer { out in
                for i in 0..<m.count {
                    let u = Float(generator.next() >> 40) * 0x1p-24
                    let factor: Float = u >= rate ? scale : 0
                    m[i] = factor
                    out[i] *= factor
                }
            }
        }
        return (y, mask)
    }

    /// The gradient with respect to the input of `forwardTraining`: the output gradient times
    /// the mask (unchanged when the mask is nil).
    public func backward(outputGradient: Tensor, mask: Tensor?) throws -> Tensor {
        guard let mask else { return outputGradient }
        guard mask.shape == outputGradient.shape else {
            throw LayerError(layer: name, "backward: mask \(mask.shape) and gradient \(outputGradient.shape) differ")
        }
        var g = outputGradient
        mask.scalars.withUnsafeBufferPointer { m in
            g.scalars.withUnsafeMutableBufferPointer { out in
                for i in 0..<out.count { out[i] *= m[i] }
            }
        }
        return g
    }
}

extension Identity {
    /// The classes that train here: Dropout, and the spatial dropouts, which drop whole
    /// channels (one draw per image and channel, Keras's noise shape `(N, 1, ..., 1, C)`).
    /// The others draw noise Mien does not reproduce, or add a loss (ActivityRegularization).
    public var canTrain: Bool {
        kerasClass == "Dropout" || kerasClass.hasPrefix("SpatialDropout")
    }

    /// The shape of the mask for input `shape`: `noiseShape` with its nil axes filled in;
    /// `(N, 1, ..., 1, C)` for the spatial dropouts.
    func maskShape(for shape: [Int]) throws -> [Int] {
        if kerasClass.hasPrefix("SpatialDropout") {
            guard shape.count >= 3 else { throw LayerError(layer: name, "\(kerasClass) expects a rank-3 or higher input, got \(shape)") }
            return [shape[0]] + Array(repeating: 1, count: shape.count - 2) + [shape.last!]
        }
        guard let noiseShape else { return shape }
        guard noiseShape.count == shape.count,
              zip(noiseShape, shape).allSatisfy({ $0 == nil || $0 == 1 || $0 == $1 }) else {
            throw LayerError(layer: name, "noise_shape \(noiseShape.map { $0.map(String.init) ?? "None" }) does not fit input \(shape)")
        }
        return zip(noiseShape, shape).map { $0 ?? $1 }
    }

    /// Tape: the mask of factors (0 or `1 / (1 − rate)`) in the mask's shape (see
    /// `maskShape`); empty when the rate is 0.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        guard canTrain else {
            throw LayerError(layer: name, "\(kerasClass) cannot be trained: Mien has no backward pass for it")
        }
        var generator = context.generator(for: name)
        if let rows = context.rows {
            // Part of a batch: the whole batch's mask, then this part's rows of it.
            var whole = x.shape
            whole[0] = context.batchSize
            let shape = try maskShape(for: whole)
            let (_, full) = try forwardTraining(Tensor(shape: shape, repeating: 1), generator: &generator)
            guard let full else { return TrainingForward(x) }
            let mask = full.shape[0] == 1 ? full : full.batch(rows)
            var y = x
            broadcastApply(.multiply, into: &y, mask)
            return TrainingForward(y, tape: Tape([mask]))
        }
        let shape = try maskShape(for: x.shape)
        guard shape != x.shape else {
            let (y, mask) = try forwardTraining(x, generator: &generator)
            return TrainingForward(y, tape: Tape(mask.map { [$0] } ?? []))
        }
        // The same draws as a Dropout on a tensor of ones of the mask's shape: its output is the factors.
        let (_, mask) = try forwardTraining(Tensor(shape: shape, repeating: 1), generator: &generator)
        guard let mask else { return TrainingForward(x) }
        var y = x
        broadcastApply(.multiply, into: &y, mask)
        return TrainingForward(y, tape: Tape([mask]))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard let mask = tape.tensors.first else { return LayerGradients(inputs: [outputGradient]) }
        if mask.shape == outputGradient.shape {
            return LayerGradients(inputs: [try backward(outputGradient: outputGradient, mask: mask)])
        }
        guard mask.rank == outputGradient.rank,
              zip(mask.shape, outputGradient.shape).allSatisfy({ $0 == $1 || $0 == 1 }) else {
            throw LayerError(layer: name, "backward: mask \(mask.shape) does not fit gradient \(outputGradient.shape)")
        }
        var g = outputGradient
        broadcastApply(.multiply, into: &g, mask)
        return LayerGradients(inputs: [g])
    }
}
