/// Keras's `RandomContrast`: `(x − mean) · f + mean`, the mean over each image's height and
/// width per channel, clipped to the value range. The contrast factor `f` is uniform in
/// `[1 − lower, 1 + upper]`. Keras 3 draws one per image and clips to its `value_range`;
/// tf.keras 2 draws one for the whole batch (`tf.image.stateless_random_contrast`) and
/// clips to [0, 255], so `kerasMajor` keeps which one the model was saved with.
///
/// The factor's config differs too: Keras 3 reads a number f as `[0, f]` (a factor in
/// [1, 1 + f]), tf.keras 2 as `[f, f]` (in [1 − f, 1 + f]); the builder resolves it.
public struct RandomContrast: RandomImageLayer {
    public var name: String
    public var kerasClass: String { "RandomContrast" }
    public var trainable: Bool = true
    /// `lower` and `upper` of the factor range `[1 − lower, 1 + upper]`.
    public var factor: FactorRange
    public var valueRange: (Double, Double)
    public var kerasMajor: Int

    public init(name: String, factor: FactorRange, valueRange: (Double, Double) = (0, 255), kerasMajor: Int = 3) {
        self.name = name
        self.factor = factor
        self.valueRange = valueRange
        self.kerasMajor = kerasMajor
    }


    /// The contrast factors of a batch of `count` images: one each (Keras 3), or one
    /// repeated (tf.keras 2).
    public func draw<G: RandomNumberGenerator>(count: Int, generator: inout G) -> [Float] {
        let one = { (g: inout G) in uniformFloat(1 - factor.lower, 1 + factor.upper, &g) }
        if kerasMajor >= 3 { return (0..<count).map { _ in one(&generator) } }
        return [Float](repeating: one(&generator), count: count)
    }

    /// Each image's contrast adjusted by its factor, then clipped; also each image and
    /// channel's mean (for the backward pass).
    func adjusted(_ x: Tensor, factors: [Float]) throws -> (output: Tensor, means: [Float]) {
        try requireImages(x.shape.map { $0 })
        guard factors.count == x.shape[0] else {
            throw LayerError(layer: name, "\(factors.count) contrast factors for \(x.shape[0]) images")
        }
        let (n, pixels, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        let (low, high) = (Float(valueRange.0), Float(valueRange.1))
        var y = x
        var means = [Float](repeating: 0, count: n * c)
        y.scalars.withUnsafeMutableBufferPointer { v in
            for image in 0..<n {
                let base = image * pixels * c
                var sums = [Double](repeating: 0, count: c)
                for p in 0..<pixels { for k in 0..<c { sums[k] += Double(v[base + p * c + k]) } }
                let mean = sums.map { Float($0 / Double(max(pixels, 1))) }
                for k in 0..<c { means[image * c + k] = mean[k] }
                let f = factors[image]
                for p in 0..<pixels {
                    for k in 0..<c {
                        let i = base + p * c + k
                        v[i] = min(max((v[i] - mean[k]) * f + mean[k], low), high)
                    }
                }
            }
        }
        return (y, means)
    }

    /// Keras's `transform_images` with the given contrast factors (one per image).
    public func apply(_ factors: [Float], to x: Tensor) throws -> Tensor {
        try adjusted(x, factors: factors).output
    }

    /// Tape: the input, and the factors.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        var (generator, whole, rows) = augmentationDraws(x, context)
        let factors = Array(draw(count: whole, generator: &generator)[rows])
        return TrainingForward(try apply(factors, to: x), tape: Tape([x, Tensor(shape: [factors.count], scalars: factors)]))
    }

    /// Where the adjusted value lies inside the range (TensorFlow's clip passes the gradient
    /// there, ends included): `dx = f·g + (1 − f)·mean(g)` per image and channel, the mean
    /// over its pixels.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard inputs.first == true else { return LayerGradients(inputs: [nil]) }
        let x = try tape.tensor(0, layer: name), factors = try tape.tensor(1, layer: name).scalars
        try requireGradient(outputGradient, shaped: x.shape)
        let (_, means) = try adjusted(x, factors: factors)
        let (n, pixels, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        let (low, high) = (Float(valueRange.0), Float(valueRange.1))
        var g = outputGradient
        g.scalars.withUnsafeMutableBufferPointer { d in
            x.scalars.withUnsafeBufferPointer { v in
                for image in 0..<n {
                    let base = image * pixels * c
                    let f = factors[image]
                    var sums = [Double](repeating: 0, count: c)
                    for p in 0..<pixels {
                        for k in 0..<c {
                            let i = base + p * c + k
                            let mean = means[image * c + k]
                            let value = (v[i] - mean) * f + mean
                            if !(value >= low && value <= high) { d[i] = 0 }
                            sums[k] += Double(d[i])
                        }
                    }
                    for p in 0..<pixels {
                        for k in 0..<c {
                            let i = base + p * c + k
                            d[i] = f * d[i] + (1 - f) * Float(sums[k] / Double(max(pixels, 1)))
                        }
                    }
                }
            }
        }
        return LayerGradients(inputs: [g])
    }
}

/// Keras's `RandomBrightness` (both versions alike): each image plus
/// `δ = u · (high − low)`, u uniform in the factor's range, clipped to the value range.
public struct RandomBrightness: RandomImageLayer {
    public var name: String
    public var kerasClass: String { "RandomBrightness" }
    public var trainable: Bool = true
    public var factor: FactorRange
    /// Sorted, as Keras keeps it.
    public var valueRange: (Double, Double)

    public init(name: String, factor: FactorRange, valueRange: (Double, Double) = (0, 255)) {
        self.name = name
        self.factor = factor
        self.valueRange = valueRange
    }


    /// One δ per image: the float32 draw times the range's width in float32, as Keras.
    public func draw<G: RandomNumberGenerator>(count: Int, generator: inout G) -> [Float] {
        let width = Float(valueRange.1 - valueRange.0)
        return (0..<count).map { _ in factor.draw(&generator) * width }
    }

    /// Keras's `transform_images` with the given deltas (one per image).
    public func apply(_ deltas: [Float], to x: Tensor) throws -> Tensor {
        try requireImages(x.shape.map { $0 })
        guard deltas.count == x.shape[0] else {
            throw LayerError(layer: name, "\(deltas.count) brightness deltas for \(x.shape[0]) images")
        }
        let perImage = x.count / max(x.shape[0], 1)
        let (low, high) = (Float(valueRange.0), Float(valueRange.1))
        var y = x
        y.scalars.withUnsafeMutableBufferPointer { v in
            for (n, delta) in deltas.enumerated() {
                for i in n * perImage..<(n + 1) * perImage { v[i] = min(max(v[i] + delta, low), high) }
            }
        }
        return y
    }

    /// Tape: the output (the gradient passes where it is inside the range).
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        var (generator, whole, rows) = augmentationDraws(x, context)
        let deltas = Array(draw(count: whole, generator: &generator)[rows])
        var unclipped = x
        let perImage = x.count / max(x.shape[0], 1)
        unclipped.scalars.withUnsafeMutableBufferPointer { v in
            for (n, delta) in deltas.enumerated() { for i in n * perImage..<(n + 1) * perImage { v[i] += delta } }
        }
        return TrainingForward(try apply(deltas, to: x), tape: Tape([unclipped]))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard inputs.first == true else { return LayerGradients(inputs: [nil]) }
        let unclipped = try tape.tensor(0, layer: name)
        try requireGradient(outputGradient, shaped: unclipped.shape)
        let (low, high) = (Float(valueRange.0), Float(valueRange.1))
        var g = outputGradient
        g.scalars.withUnsafeMutableBufferPointer { d in
            for i in 0..<d.count where !(unclipped.scalars[i] >= low && unclipped.scalars[i] <= high) { d[i] = 0 }
        }
        return LayerGradients(inputs: [g])
    }
}
