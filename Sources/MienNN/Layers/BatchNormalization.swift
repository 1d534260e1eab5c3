import Foundation

/// Keras's `BatchNormalization` over the last axis, in inference mode: it normalizes with
/// the moving statistics. Epsilon and momentum come from each layer's Keras config
/// (Keras's defaults are 1e-3 and 0.99, not PyTorch's 1e-5 and 0.1).
public struct BatchNormalization: Layer {
    public var name: String
    public var kerasClass: String { "BatchNormalization" }
    public var trainable: Bool = true
    public var epsilon: Float
    public var momentum: Float
    public var gamma: Tensor?
    public var beta: Tensor?
    public var movingMean: Tensor
    public var movingVariance: Tensor

    public init(name: String, channels: Int, epsilon: Float = 1e-3, momentum: Float = 0.99,
                center: Bool = true, scale: Bool = true) {
        self.name = name
        self.epsilon = epsilon
        self.momentum = momentum
        gamma = scale ? Tensor(shape: [channels], repeating: 1) : nil
        beta = center ? Tensor(zeros: [channels]) : nil
        movingMean = Tensor(zeros: [channels])
        movingVariance = Tensor(shape: [channels], repeating: 1)
    }

    public var channels: Int { movingMean.count }

    /// With `training=True` a trainable BatchNormalization uses the batch's statistics; a
    /// frozen one keeps its moving statistics (Keras 3 and tf.keras 2 both).
    public var usesTrainingFlag: Bool { trainable }

    /// Batch statistics mix the samples (a frozen layer uses its moving ones).
    public var mixesSamples: Bool { trainable }

    /// Keras's order: gamma, beta (those that exist), then the moving statistics.
    public var parameters: [Parameter] {
        (gamma.map { [Parameter("gamma", $0)] } ?? []) + (beta.map { [Parameter("beta", $0)] } ?? [])
            + [Parameter("moving_mean", movingMean, trainable: false),
               Parameter("moving_variance", movingVariance, trainable: false)]
    }

    public mutating func setParameter(_ name: String, to value: Tensor) throws {
        switch (name, gamma, beta) {
        case ("gamma", let g?, _): gamma = try checked(value, replacing: g, as: name)
        case ("beta", _, let b?): beta = try checked(value, replacing: b, as: name)
        case ("moving_mean", _, _): movingMean = try checked(value, replacing: movingMean, as: name)
        case ("moving_variance", _, _): movingVariance = try checked(value, replacing: movingVariance, as: name)
        default: throw LayerError(layer: self.name, "BatchNormalization has no weight named '\(name)'")
        }
    }

    /// The per-channel affine map `x * scale + shift` that inference-mode normalization is.
    public var affine: (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            let inv = 1 / (movingVariance.scalars[c] + epsilon).squareRoot() * (gamma?.scalars[c] ?? 1)
            scale[c] = inv
            shift[c] = (beta?.scalars[c] ?? 0) - movingMean.scalars[c] * inv
        }
        return (scale, shift)
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        guard shape.count >= 2, shape.last! == channels else {
            throw LayerError(layer: name, "expects \(channels) channels on the last axis, got \(shape.kerasDescription)")
        }
        return shape
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        guard x.rank >= 2, x.shape.last! == channels else {
            throw LayerError(layer: name, "got input of shape \(x.shape), expected \(channels) channels")
        }
        let (scale, shift) = affine
        x.scalars.withUnsafeMutableBufferPointer { buffer in
            var start = 0
            while start < buffer.count {
                for c in 0..<scale.count { buffer[start + c] = buffer[start + c] * scale[c] + shift[c] }
                start += scale.count
            }
        }
        return x
    }
}

// MARK: - Training

extension BatchNormalization {
    public var canTrain: Bool { true }

    /// Whether a training call normalizes with the batch's statistics: a trainable layer
    /// outside a frozen model. A frozen one runs in inference mode even while training,
    /// as Keras 3 (and tf.keras 2) do.
    func usesBatchStatistics(_ context: TrainingContext) -> Bool { trainable && !context.frozen }

    /// With batch statistics: `x̂ = (x − mean) / sqrt(var + ε)` over every axis but the last
    /// (the biased variance), `y = γ·x̂ + β`, and the moving statistics move by
    /// `moving = moving · momentum + batch · (1 − momentum)`, Keras 3's update. Tape: `x̂`
    /// and `1/sqrt(var + ε)`. In inference mode: the affine map; tape: the input.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        guard usesBatchStatistics(context) else {
            return TrainingForward(try forward([x]), tape: Tape([x]))
        }
        guard x.rank >= 2, x.shape.last! == channels else {
            throw LayerError(layer: name, "got input of shape \(x.shape), expected \(channels) channels")
        }
        let c = channels
        let rows = x.count / max(c, 1)
        guard rows > 0 else { throw LayerError(layer: name, "training on an empty batch") }
        var sum = [Double](repeating: 0, count: c)
        x.scalars.withUnsafeBufferPointer { v in
            for r in 0..<rows { for j in 0..<c { sum[j] += Double(v[r * c + j]) } }
        }
        let mean = sum.map { $0 / Double(rows) }
        var squares = [Double](repeating: 0, count: c)
        x.scalars.withUnsafeBufferPointer { v in
            for r in 0..<rows {
                for j in 0..<c {
                    let d = Double(v[r * c + j]) - mean[j]
                    squares[j] += d * d
                }
            }
        }
        let variance = squares.map { $0 / Double(rows) }
        let inverse = variance.map { Float(1 / ($0 + Double(epsilon)).squareRoot()) }
        let meanF = mean.map { Float($0) }
        var normalized = x
        var y = x
        normalized.scalars.withUnsafeMutableBufferPointer { n in
            y.scalars.withUnsafeMutableBufferPointer { out in
                for r in 0..<rows {
                    for j in 0..<c {
                        let v = (n[r * c + j] - meanF[j]) * inverse[j]
                        n[r * c + j] = v
                        out[r * c + j] = v * (gamma?.scalars[j] ?? 1) + (beta?.scalars[j] ?? 0)
                    }
                }
            }
        }
        let m = momentum
        var movingMean = self.movingMean, movingVariance = self.movingVariance
        for j in 0..<c {
            movingMean.scalars[j] = movingMean.scalars[j] * m + meanF[j] * (1 - m)
            movingVariance.scalars[j] = movingVariance.scalars[j] * m + Float(variance[j]) * (1 - m)
        }
        return TrainingForward(y, tape: Tape([normalized, Tensor(shape: [c], scalars: inverse)]),
                               updates: ["moving_mean": movingMean, "moving_variance": movingVariance])
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let c = channels
        let first = try tape.tensor(0, layer: name)
        try requireGradient(outputGradient, shaped: first.shape)
        let rows = first.count / max(c, 1)
        let g = outputGradient
        let gammaValues = gamma?.scalars ?? [Float](repeating: 1, count: c)
        // With batch statistics the tape holds x̂ and 1/σ; in inference mode, x.
        let batchMode = tape.tensors.count == 2
        let (scale, _) = affine
        let inverse = batchMode ? try tape.tensor(1, layer: name).scalars
            : movingVariance.scalars.map { 1 / ($0 + epsilon).squareRoot() }
        if !batchMode && !weights {
            // Frozen: an affine map per channel, whose gradient needs no sums.
            var dx = g
            dx.scalars.withUnsafeMutableBufferPointer { out in
                scale.withUnsafeBufferPointer { s in
                    for r in 0..<rows { for j in 0..<c { out[r * c + j] *= s[j] } }
                }
            }
            return LayerGradients(inputs: [inputs.first == true ? dx : nil])
        }
        var sumG = [Float](repeating: 0, count: c), sumGX = [Float](repeating: 0, count: c)
        let mean = movingMean.scalars
        first.scalars.withUnsafeBufferPointer { v in
            g.scalars.withUnsafeBufferPointer { d in
                for r in 0..<rows {
                    for j in 0..<c {
                        let normalized = batchMode ? v[r * c + j] : (v[r * c + j] - mean[j]) * inverse[j]
                        sumG[j] += d[r * c + j]
                        sumGX[j] += d[r * c + j] * normalized
                    }
                }
            }
        }
        var result = LayerGradients(inputs: [nil])
        if inputs.first == true {
            var dx = Tensor(zeros: first.shape)
            first.scalars.withUnsafeBufferPointer { v in
                g.scalars.withUnsafeBufferPointer { d in
                    dx.scalars.withUnsafeMutableBufferPointer { out in
                        let count = Float(rows)
                        for r in 0..<rows {
                            for j in 0..<c {
                                let i = r * c + j
                                if batchMode {
                                    // dx = γ/(σ·M) · (M·g − Σg − x̂·Σ(g·x̂))
                                    out[i] = gammaValues[j] * inverse[j] / count
                                        * (count * d[i] - sumG[j] - v[i] * sumGX[j])
                                } else {
                                    out[i] = d[i] * scale[j]
                                }
                            }
                        }
                    }
                }
            }
            result.inputs = [dx]
        }
        if weights {
            if gamma != nil { result.weights["gamma"] = Tensor(shape: [c], scalars: sumGX) }
            if beta != nil { result.weights["beta"] = Tensor(shape: [c], scalars: sumG) }
        }
        return result
    }
}
