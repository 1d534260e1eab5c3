import Foundation

/// Keras's `LayerNormalization` over the trailing axes of each sample (ConvNeXt: the
/// channel axis, epsilon 1e-6): `y = (x − mean) / sqrt(var + ε) · γ + β`, mean and biased
/// variance over the normalized axes of one sample, computed as Keras 3 does it
/// (`inv = rsqrt(var + ε) · γ`, `y = x · inv + (β − mean · inv)`); tf.keras 2's fused and
/// unfused paths compute the same within float rounding.
///
/// `gamma` and `beta` hold one value per element of the normalized axes, in Keras's weight
/// shape (`paramShape`); the computation reads them as one flat vector over those axes in
/// row-major order, as Keras's own reshape to the broadcast shape does.
///
/// `rmsScaling` is Keras 3's deprecated `rms_scaling=True`: `y = x · rsqrt(var + ε) · γ`
/// (it scales by the variance, not the root mean square, and has no beta).
public struct LayerNormalization: Layer {
    public var name: String
    public var kerasClass: String { "LayerNormalization" }
    public var trainable: Bool = true
    public var epsilon: Float
    public var gamma: Tensor?
    public var beta: Tensor?
    public var rmsScaling: Bool
    /// How many trailing axes (batch excluded) are normalized together.
    public var axisCount: Int
    /// Keras's shape of gamma and beta: the normalized axes' lengths, in the order of the
    /// config's `axis` list.
    public var paramShape: [Int]

    public init(name: String, paramShape: [Int], axisCount: Int? = nil, epsilon: Float = 1e-3, center: Bool = true,
                scale: Bool = true, rmsScaling: Bool = false) {
        self.name = name
        self.epsilon = epsilon
        self.paramShape = paramShape
        self.axisCount = axisCount ?? paramShape.count
        self.rmsScaling = rmsScaling
        gamma = scale || rmsScaling ? Tensor(shape: paramShape, repeating: 1) : nil
        beta = center && !rmsScaling ? Tensor(zeros: paramShape) : nil
    }

    /// The number of values normalized together (one sample's trailing axes).
    public var groupSize: Int { Tensor.count(of: paramShape) }

    public var parameters: [Parameter] {
        (gamma.map { [Parameter("gamma", $0)] } ?? []) + (beta.map { [Parameter("beta", $0)] } ?? [])
    }

    public mutating func setParameter(_ name: String, to value: Tensor) throws {
        switch (name, gamma, beta) {
        case ("gamma", let g?, _): gamma = try checked(value, replacing: g, as: name)
        case ("beta", _, let b?): beta = try checked(value, replacing: b, as: name)
        default: throw LayerError(layer: self.name, "LayerNormalization has no weight named '\(name)'")
        }
    }

    /// The trailing `axisCount` axes must hold `groupSize` values (in any order of lengths
    /// that Keras's weight shape came from).
    private func check(_ shape: [Int?]) throws {
        guard shape.count > axisCount else {
            throw LayerError(layer: name, "normalizes the last \(axisCount) axes, which a rank-\(shape.count) input (batch included) does not have")
        }
        let trailing = shape.suffix(axisCount)
        guard trailing.allSatisfy({ $0 != nil }), trailing.reduce(1, { $0 * $1! }) == groupSize else {
            throw LayerError(layer: name, "expects \(paramShape) values on the normalized axes, got \(shape.kerasDescription)")
        }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try check(shape)
        return shape
    }

    /// Each group's mean and `1 / sqrt(var + ε)` (the mean and variance summed in double).
    func statistics(_ x: Tensor) -> (mean: [Float], inverse: [Float]) {
        let d = groupSize
        let rows = d == 0 ? 0 : x.count / d
        var mean = [Float](repeating: 0, count: rows), inverse = [Float](repeating: 0, count: rows)
        x.scalars.withUnsafeBufferPointer { v in
            for r in 0..<rows {
                let row = v.baseAddress! + r * d
                var sum = 0.0
                for j in 0..<d { sum += Double(row[j]) }
                let m = sum / Double(d)
                var squares = 0.0
                for j in 0..<d {
                    let e = Double(row[j]) - m
                    squares += e * e
                }
                mean[r] = Float(m)
                inverse[r] = 1 / (Float(squares / Double(d)) + epsilon).squareRoot()
            }
        }
        return (mean, inverse)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        try check(x.shape.map { $0 })
        return normalize(x, statistics(x))
    }

    private func normalize(_ x: Tensor, _ stats: (mean: [Float], inverse: [Float])) -> Tensor {
        let d = groupSize
        var y = x
        let g = gamma?.scalars, b = beta?.scalars
        y.scalars.withUnsafeMutableBufferPointer { out in
            for r in 0..<stats.mean.count {
                let row = out.baseAddress! + r * d
                let (m, inv) = (stats.mean[r], stats.inverse[r])
                if rmsScaling {
                    for j in 0..<d { row[j] = row[j] * inv * (g?[j] ?? 1) }
                } else {
                    for j in 0..<d {
                        let scaled = inv * (g?[j] ?? 1)
                        row[j] = row[j] * scaled + (-m * scaled + (b?[j] ?? 0))
                    }
                }
            }
        }
        return y
    }

    // MARK: Training

    public var canTrain: Bool { true }

    /// Tape: the input and each group's mean and inverse deviation.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        try check(x.shape.map { $0 })
        let stats = statistics(x)
        return TrainingForward(normalize(x, stats),
                               tape: Tape([x, Tensor(shape: [stats.mean.count], scalars: stats.mean),
                                           Tensor(shape: [stats.inverse.count], scalars: stats.inverse)]))
    }

    /// With `x̂ = (x − mean)·r`, `y = γ·x̂ + β`: `dγ = Σ g·x̂`, `dβ = Σ g` over the samples, and
    /// `dx = r·(gγ − mean(gγ) − x̂·mean(gγ·x̂))` over each group. With `rmsScaling`,
    /// `y = γ·x·r`: `dγ = Σ g·x·r` and `dx = r·gγ − r³·(x − mean)·mean(gγ·x)`.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let x = try tape.tensor(0, layer: name)
        let mean = try tape.tensor(1, layer: name).scalars, inverse = try tape.tensor(2, layer: name).scalars
        try requireGradient(outputGradient, shaped: x.shape)
        let d = groupSize
        guard mean.count * d == x.count, inverse.count == mean.count else {
            throw LayerError(layer: name, "backward: the tape is not this layer's")
        }
        let g = gamma?.scalars ?? [Float](repeating: 1, count: d)
        var dx = inputs.first == true ? Tensor(zeros: x.shape) : nil
        var dGamma = [Double](repeating: 0, count: d), dBeta = [Double](repeating: 0, count: d)
        var scaled = [Double](repeating: 0, count: d)
        x.scalars.withUnsafeBufferPointer { xs in
            outputGradient.scalars.withUnsafeBufferPointer { gs in
                for r in 0..<mean.count {
                    let (m, inv) = (Double(mean[r]), Double(inverse[r]))
                    var sumG = 0.0, sumGX = 0.0
                    for j in 0..<d {
                        let i = r * d + j
                        let gy = Double(gs[i])
                        let normalized = rmsScaling ? Double(xs[i]) * inv : (Double(xs[i]) - m) * inv
                        dGamma[j] += gy * normalized
                        dBeta[j] += gy
                        scaled[j] = gy * Double(g[j])
                        sumG += scaled[j]
                        sumGX += scaled[j] * (rmsScaling ? Double(xs[i]) : normalized)
                    }
                    guard dx != nil else { continue }
                    let n = Double(d)
                    dx!.scalars.withUnsafeMutableBufferPointer { out in
                        for j in 0..<d {
                            let i = r * d + j
                            if rmsScaling {
                                out[i] = Float(inv * scaled[j] - inv * inv * inv * (Double(xs[i]) - m) * sumGX / n)
                            } else {
                                let normalized = (Double(xs[i]) - m) * inv
                                out[i] = Float(inv * (scaled[j] - sumG / n - normalized * sumGX / n))
                            }
                        }
                    }
                }
            }
        }
        var result = LayerGradients(inputs: [dx])
        if weights {
            if gamma != nil { result.weights["gamma"] = Tensor(shape: paramShape, scalars: dGamma.map { Float($0) }) }
            if beta != nil { result.weights["beta"] = Tensor(shape: paramShape, scalars: dBeta.map { Float($0) }) }
        }
        return result
    }
}

/// ConvNeXt's `LayerScale` (keras.applications.convnext, both Keras versions): the input
/// times a per-channel weight `gamma` of `projection_dim` values, initialized to
/// `init_values` (kept for the export back to Keras; the file holds the trained values).
public struct LayerScale: Layer {
    public var name: String
    public var kerasClass: String { "LayerScale" }
    public var trainable: Bool = true
    public var gamma: Tensor
    public var initValues: Float

    public init(name: String, projectionDim: Int, initValues: Float = 1e-6) {
        self.name = name
        self.initValues = initValues
        gamma = Tensor(shape: [projectionDim], repeating: initValues)
    }

    public var projectionDim: Int { gamma.count }

    /// tf.keras names the weight `gamma`; Keras 3 leaves it unnamed (`variable` in its files),
    /// and a layer's single weight loads by position either way.
    public var parameters: [Parameter] { [Parameter("gamma", gamma)] }

    public mutating func setParameter(_ name: String, to value: Tensor) throws {
        guard name == "gamma" else { throw LayerError(layer: self.name, "LayerScale has no weight named '\(name)'") }
        gamma = try checked(value, replacing: gamma, as: name)
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        // Keras would broadcast a last axis of 1 to projection_dim values; ConvNeXt never does.
        guard shape.count >= 2, shape.last! == projectionDim else {
            throw LayerError(layer: name, "expects \(projectionDim) channels on the last axis (projection_dim), got \(shape.kerasDescription)")
        }
        return shape
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        _ = try outputShape(for: [x.shape.map { $0 }])
        return scaled(x)
    }

    /// `x` times gamma along the last axis.
    private func scaled(_ x: Tensor) -> Tensor {
        Dropout.applying(gamma.reshaped(Array(repeating: 1, count: x.rank - 1) + [projectionDim]), to: x)
    }

    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        try inputKeepingForward(inputs)
    }

    /// `dx = g·γ`, `dγ = Σ g·x` over every axis but the last.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let x = try tape.tensor(0, layer: name)
        try requireGradient(outputGradient, shaped: x.shape)
        var result = LayerGradients(inputs: [inputs.first == true ? scaled(outputGradient) : nil])
        if weights {
            let c = projectionDim
            var sums = [Double](repeating: 0, count: c)
            x.scalars.withUnsafeBufferPointer { xs in
                outputGradient.scalars.withUnsafeBufferPointer { gs in
                    for i in 0..<xs.count { sums[i % c] += Double(gs[i]) * Double(xs[i]) }
                }
            }
            result.weights["gamma"] = Tensor(shape: [c], scalars: sums.map { Float($0) })
        }
        return result
    }
}
