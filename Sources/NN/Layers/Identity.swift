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

    /// The Keras classes that are the identity at inference.
    public static let kerasClasses: Set<String> = [
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
        "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    ]

    public init(name: String, kerasClass: String, options: [String: Float] = [:]) {
        self.name = name
        self.kerasClass = kerasClass
        self.options = options
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

    /// Tape: the mask of factors (0 or `1 / (1 − rate)`), one per element (Dropout) or per
    /// image and channel (spatial); empty when the rate is 0.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        guard canTrain else {
            throw LayerError(layer: name, "\(kerasClass) cannot be trained: Mien has no backward pass for it")
        }
        var generator = context.generator(for: name)
        guard kerasClass != "Dropout" else {
            let (y, mask) = try forwardTraining(x, generator: &generator)
            return TrainingForward(y, tape: Tape(mask.map { [$0] } ?? []))
        }
        guard x.rank >= 3 else { throw LayerError(layer: name, "\(kerasClass) expects a rank-3 or higher input, got \(x.shape)") }
        let channels = x.shape.last!
        // The same draws as a Dropout on an [N, C] tensor of ones: its mask is the factors.
        let (_, mask) = try Identity(name: name, kerasClass: "Dropout", options: options)
            .forwardTraining(Tensor(shape: [x.shape[0], channels], repeating: 1), generator: &generator)
        guard let mask else { return TrainingForward(x) }
        return TrainingForward(Identity.scaled(x, byChannelMask: mask), tape: Tape([mask]))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard let mask = tape.tensors.first else { return LayerGradients(inputs: [outputGradient]) }
        if mask.shape == outputGradient.shape {
            return LayerGradients(inputs: [try backward(outputGradient: outputGradient, mask: mask)])
        }
        guard outputGradient.rank >= 3, mask.shape == [outputGradient.shape[0], outputGradient.shape.last!] else {
            throw LayerError(layer: name, "backward: mask \(mask.shape) does not fit gradient \(outputGradient.shape)")
        }
        return LayerGradients(inputs: [Identity.scaled(outputGradient, byChannelMask: mask)])
    }

    /// `x` (`[N, ..., C]`) with each image's channel c multiplied by `mask[n, c]`.
    static func scaled(_ x: Tensor, byChannelMask mask: Tensor) -> Tensor {
        var y = x
        let (n, c) = (mask.shape[0], mask.shape[1])
        let perImage = n == 0 ? 0 : x.count / n
        y.scalars.withUnsafeMutableBufferPointer { out in
            mask.scalars.withUnsafeBufferPointer { m in
                for i in 0..<n {
                    for j in 0..<perImage { out[i * perImage + j] *= m[i * c + j % c] }
                }
            }
        }
        return y
    }
}
