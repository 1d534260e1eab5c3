import Foundation

/// Keras's `Activation` layer: one of the named activations, element-wise (softmax over
/// the last axis). Named `ActivationLayer` because `Activation` is the function enum.
public struct ActivationLayer: Layer {
    public var name: String
    public var kerasClass: String { "Activation" }
    public var trainable: Bool = true
    public var activation: Activation

    public init(name: String, activation: Activation) {
        self.name = name
        self.activation = activation
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { try single(inputShapes) }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        activation.apply(&x.scalars, lastAxis: x.shape.last ?? 1)
        return x
    }
}

/// Keras's `ReLU` layer. Keras documents `x >= max_value → max_value;
/// threshold <= x < max_value → x; otherwise negative_slope · (x − threshold)`, but both
/// Keras 3 and tf_keras compute `clip(x · [x > threshold], 0, max_value)
/// − negative_slope · relu(threshold − x)`, which gives 0 (not `threshold`) at
/// `x == threshold` when threshold ≠ 0 (checked in TF 2.21 with threshold 1). We compute
/// what Keras computes.
public struct ReLU: Layer {
    public var name: String
    public var kerasClass: String { "ReLU" }
    public var trainable: Bool = true
    public var maxValue: Float?
    public var negativeSlope: Float
    public var threshold: Float

    public init(name: String, maxValue: Float? = nil, negativeSlope: Float = 0, threshold: Float = 0) {
        self.name = name
        self.maxValue = maxValue
        self.negativeSlope = negativeSlope
        self.threshold = threshold
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { try single(inputShapes) }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        let (t, slope) = (threshold, negativeSlope)
        let upper = maxValue ?? .infinity
        x.scalars.withUnsafeMutableBufferPointer { b in
            if t == 0 && slope == 0 {
                for i in 0..<b.count { b[i] = min(max(b[i], 0), upper) }
            } else {
                for i in 0..<b.count {
                    let v = b[i]
                    // Same operations as Keras, so rounding matches.
                    let positive = min(max(v > t ? v : 0, 0), upper)
                    b[i] = positive - slope * max(t - v, 0)
                }
            }
        }
        return x
    }
}

/// Keras's `LeakyReLU`: `x` for `x > 0`, else `slope · x`. Keras 2 calls the slope `alpha`,
/// Keras 3 `negative_slope`; both default to 0.3 (not tf.nn's 0.2).
public struct LeakyReLU: Layer {
    public var name: String
    public var kerasClass: String { "LeakyReLU" }
    public var trainable: Bool = true
    public var slope: Float

    public init(name: String, slope: Float = 0.3) {
        self.name = name
        self.slope = slope
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { try single(inputShapes) }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        Activation.leakyReLU(slope: slope).apply(&x.scalars, lastAxis: x.shape.last ?? 1)
        return x
    }
}

/// Keras's `PReLU`: `max(0, x) + alpha · min(0, x)` with a learned `alpha` whose shape is the
/// input shape without batch, with each `shared_axes` dimension set to 1 (broadcast there).
public struct PReLU: Layer {
    public var name: String
    public var kerasClass: String { "PReLU" }
    public var trainable: Bool = true
    public var alpha: Tensor

    public init(name: String, alphaShape: [Int]) {
        self.name = name
        alpha = Tensor(zeros: alphaShape)
    }

    public var parameters: [Parameter] { [Parameter("alpha", alpha)] }

    public mutating func setParameter(_ name: String, to value: Tensor) throws {
        guard name == "alpha" else {
            throw LayerError(layer: self.name, "PReLU has no weight named '\(name)'")
        }
        alpha = try checked(value, replacing: alpha, as: name)
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireRank(shape, alpha.rank + 1)
        for (dim, a) in zip(shape.dropFirst(), alpha.shape) where a != 1 && dim != nil && dim != a {
            throw LayerError(layer: name, "alpha of shape \(alpha.shape) does not fit input \(shape.kerasDescription)")
        }
        return shape
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        _ = try outputShape(for: [x.shape.map { $0 }])
        let slopes = alpha.reshaped([1] + alpha.shape)
        broadcastApply(.prelu, into: &x, slopes)
        return x
    }
}

/// Keras's `Softmax` layer over one axis (Keras counts axes with the batch, `-1` is the last).
public struct Softmax: Layer {
    public var name: String
    public var kerasClass: String { "Softmax" }
    public var trainable: Bool = true
    public var axis: Int

    public init(name: String, axis: Int = -1) {
        self.name = name
        self.axis = axis
    }

    /// The axis as a non-negative index into a shape of this rank.
    func resolvedAxis(rank: Int) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else {
            throw LayerError(layer: name, "axis \(axis) is out of range for a rank-\(rank) input")
        }
        return a
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        _ = try resolvedAxis(rank: shape.count)
        return shape
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        let a = try resolvedAxis(rank: x.rank)
        let length = x.shape[a]
        if a == x.rank - 1 {
            Activation.softmax.apply(&x.scalars, lastAxis: length)
            return x
        }
        // Softmax along a strided axis: for every (outer, inner) pair, `length` values
        // `inner` apart. Loops run over the contiguous inner index.
        let inner = x.shape[(a + 1)...].reduce(1, *)
        let outer = x.shape[..<a].reduce(1, *)
        guard length > 0, inner > 0 else { return x }
        var peak = [Float](repeating: 0, count: inner)
        var sum = [Float](repeating: 0, count: inner)
        x.scalars.withUnsafeMutableBufferPointer { b in
            for o in 0..<outer {
                let base = o * length * inner
                for i in 0..<inner { peak[i] = -.infinity; sum[i] = 0 }
                for k in 0..<length {
                    for i in 0..<inner { peak[i] = max(peak[i], b[base + k * inner + i]) }
                }
                for k in 0..<length {
                    for i in 0..<inner {
                        let e = Foundation.exp(b[base + k * inner + i] - peak[i])
                        b[base + k * inner + i] = e
                        sum[i] += e
                    }
                }
                for i in 0..<inner { sum[i] = 1 / sum[i] }
                for k in 0..<length {
                    for i in 0..<inner { b[base + k * inner + i] *= sum[i] }
                }
            }
        }
        return x
    }
}

/// Keras's `ELU` layer: `x` for `x > 0`, else `alpha · (exp(x) − 1)`.
public struct ELU: Layer {
    public var name: String
    public var kerasClass: String { "ELU" }
    public var trainable: Bool = true
    public var alpha: Float

    public init(name: String, alpha: Float = 1) {
        self.name = name
        self.alpha = alpha
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { try single(inputShapes) }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        Activation.elu(alpha: alpha).apply(&x.scalars, lastAxis: x.shape.last ?? 1)
        return x
    }
}
