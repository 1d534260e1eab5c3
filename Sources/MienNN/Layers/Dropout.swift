/// Keras's `Dropout` and `SpatialDropout1D/2D/3D`: the identity at inference; in training
/// mode, inverted dropout with a seeded mask.
///
/// Each element (each image and channel for the spatial forms) is kept with probability
/// `1 − rate` — kept when a uniform draw `u ∈ [0, 1)` satisfies `u ≥ rate`, as TensorFlow's
/// `dropout` does — and scaled by `1 / (1 − rate)`; the others become 0. The draws come from
/// the training context's stream for this layer's key path (`RandomStream.dropout`, the
/// epoch and the batch), one 64-bit number per mask element (its top 24 bits), so a seeded
/// run gives the same masks on every platform. Keras's masks come from TensorFlow's RNG and
/// cannot be reproduced; only their distribution matches.
public struct Dropout: Layer {
    public var name: String
    public var trainable: Bool = true
    /// Keras's `rate`, in [0, 1).
    public var rate: Float
    /// Keras's `noise_shape`: the shape of the mask, an axis of 1 sharing one draw along it
    /// (EfficientNet's drop-connect is `(None, 1, 1, 1)`: whole images); nil, or nil axes,
    /// take the input's. Unused by the spatial forms.
    public var noiseShape: [Int?]?
    /// The spatial forms' rank (1, 2 or 3: `SpatialDropout2D` drops whole channels of a
    /// `(N, H, W, C)` map, one draw per image and channel); nil for `Dropout`.
    public var spatialRank: Int?

    public init(name: String, rate: Float, noiseShape: [Int?]? = nil, spatialRank: Int? = nil) {
        self.name = name
        self.rate = rate
        self.noiseShape = noiseShape
        self.spatialRank = spatialRank
    }

    public var kerasClass: String { spatialRank.map { "SpatialDropout\($0)D" } ?? "Dropout" }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        if let spatialRank, shape.count != spatialRank + 2 {
            throw LayerError(layer: name, "\(kerasClass) expects a rank-\(spatialRank + 2) input, got rank \(shape.count)")
        }
        return shape
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor { try single(inputs) }

    public var isIdentityAtInference: Bool { true }
    public var usesTrainingFlag: Bool { true }
    public var canTrain: Bool { true }

    /// The mask's shape for input `shape`: `(N, 1, ..., 1, C)` for the spatial forms,
    /// otherwise `noiseShape` with its nil axes filled in.
    func maskShape(for shape: [Int]) throws -> [Int] {
        if spatialRank != nil {
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

    /// The mask of factors (0 or `1 / (1 − rate)`) of the given shape; nil when the rate is 0.
    public func mask<G: RandomNumberGenerator>(shape: [Int], generator: inout G) throws -> Tensor? {
        guard rate >= 0, rate < 1 else {
            throw LayerError(layer: name, "dropout rate \(rate) is outside [0, 1)")
        }
        guard rate > 0 else { return nil }
        let scale = Float(1 / (1 - Double(rate)))
        var mask = Tensor(zeros: shape)
        mask.scalars.withUnsafeMutableBufferPointer { m in
            for i in 0..<m.count {
                let u = Float(generator.next() >> 40) * 0x1p-24
                m[i] = u >= rate ? scale : 0
            }
        }
        return mask
    }

    /// Dropout on a whole tensor with its own generator (the mask has the input's shape): the
    /// output and the mask for `backward(outputGradient:mask:)`, nil when the rate is 0.
    public func forwardTraining<G: RandomNumberGenerator>(_ x: Tensor, generator: inout G) throws
        -> (output: Tensor, mask: Tensor?) {
        guard let mask = try mask(shape: x.shape, generator: &generator) else { return (x, nil) }
        return (Dropout.applying(mask, to: x), mask)
    }

    /// The gradient of `forwardTraining(_:generator:)`'s input.
    public func backward(outputGradient: Tensor, mask: Tensor?) throws -> Tensor {
        guard let mask else { return outputGradient }
        guard mask.shape == outputGradient.shape else {
            throw LayerError(layer: name, "backward: mask \(mask.shape) and gradient \(outputGradient.shape) differ")
        }
        return Dropout.applying(mask, to: outputGradient)
    }

    /// `x` times the mask, broadcasting a mask with axes of 1 (`broadcastApply` runs an
    /// equal-shaped mask as one contiguous loop).
    static func applying(_ mask: Tensor, to x: Tensor) -> Tensor {
        var y = x
        broadcastApply(.multiply, into: &y, mask)
        return y
    }

    /// Tape: the mask (see `maskShape`), empty when the rate is 0. When the batch is split
    /// across cores, the whole batch's mask is drawn and this part keeps its rows, so a split
    /// step draws what the whole one draws.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        var generator = context.generator(for: name)
        var whole = x.shape
        if context.rows != nil { whole[0] = context.batchSize }
        guard var mask = try mask(shape: try maskShape(for: whole), generator: &generator) else {
            return TrainingForward(x)
        }
        if let rows = context.rows, mask.shape[0] != 1 { mask = mask.batch(rows) }
        return TrainingForward(Dropout.applying(mask, to: x), tape: Tape([mask]))
    }

    /// The output gradient times the mask.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard let mask = tape.tensors.first else { return LayerGradients(inputs: [outputGradient]) }
        guard mask.rank == outputGradient.rank,
              zip(mask.shape, outputGradient.shape).allSatisfy({ $0 == $1 || $0 == 1 }) else {
            throw LayerError(layer: name, "backward: mask \(mask.shape) does not fit gradient \(outputGradient.shape)")
        }
        return LayerGradients(inputs: [Dropout.applying(mask, to: outputGradient)])
    }
}
