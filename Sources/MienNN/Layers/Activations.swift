import MienCKernels
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
        let channels = x.shape.last ?? 1
        if alpha.shape.last == channels, alpha.count == channels, channels > 0 {
            // One slope per channel, shared over every other axis (MTCNN's PReLUs): a C loop
            // without branches; the general broadcast took a tenth of a face detection.
            var y = Tensor(uninitialized: x.shape)
            x.scalars.withUnsafeBufferPointer { v in
                y.scalars.withUnsafeMutableBufferPointer { o in
                    alpha.scalars.withUnsafeBufferPointer { a in
                        mien_prelu_channels(v.baseAddress, o.baseAddress, v.count / channels, Int32(channels), a.baseAddress)
                    }
                }
            }
            return y
        }
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

// MARK: - Backward (training)

extension Activation {
    /// Whether `backward` needs the activation's input (the pre-activation `z`) and not only
    /// its output: swish, GELU, mish, hard swish and leaky ReLU cannot be differentiated from
    /// the output alone. All others (linear, relu, relu6, sigmoid, hard sigmoid, tanh,
    /// softmax, log-softmax, elu, selu, softplus, softsign, exponential) use the output only.
    public var backwardNeedsInput: Bool {
        switch self {
        case .swish, .gelu, .mish, .hardSwish, .leakyReLU: return true
        default: return false
        }
    }

    /// The gradient with respect to the activation's input, given its output `y = f(z)` and
    /// the gradient `g` with respect to `y`: `g · f'(z)` element-wise, and the full
    /// Jacobian-vector product over the last axis for softmax (`y ⊙ (g − Σ g·y)`) and
    /// log-softmax (`g − softmax · Σ g`). Derivatives at the kinks follow TensorFlow's
    /// kernels: relu passes the gradient where `y > 0`, relu6 where `0 < y < 6`, hard sigmoid
    /// where `0 < y < 1`.
    ///
    /// `input` (the pre-activation) must be given when `backwardNeedsInput`; it is ignored
    /// otherwise. All buffers have the same count; `lastAxis` is the length of the last axis.
    public func backward(input: UnsafeBufferPointer<Float>?, output y: UnsafeBufferPointer<Float>,
                         outputGradient g: UnsafeBufferPointer<Float>,
                         into d: UnsafeMutableBufferPointer<Float>, lastAxis: Int) {
        let n = y.count
        precondition(g.count == n && d.count == n, "activation backward: buffer sizes differ")
        if backwardNeedsInput {
            precondition(input?.count == n, "activation backward: \(self) needs the pre-activation input")
        }
        switch self {
        case .linear:
            for i in 0..<n { d[i] = g[i] }
        case .relu:
            for i in 0..<n { d[i] = y[i] > 0 ? g[i] : 0 }
        case .relu6:
            for i in 0..<n { d[i] = y[i] > 0 && y[i] < 6 ? g[i] : 0 }
        case .sigmoid:
            for i in 0..<n { d[i] = g[i] * y[i] * (1 - y[i]) }
        case .hardSigmoid(let slope):
            for i in 0..<n { d[i] = y[i] > 0 && y[i] < 1 ? g[i] * slope : 0 }
        case .tanh:
            for i in 0..<n { d[i] = g[i] * (1 - y[i] * y[i]) }
        case .softmax:
            guard lastAxis > 0 else { return }
            var start = 0
            while start < n {
                var dot: Float = 0
                for i in start..<start + lastAxis { dot += g[i] * y[i] }
                for i in start..<start + lastAxis { d[i] = y[i] * (g[i] - dot) }
                start += lastAxis
            }
        case .logSoftmax:
            guard lastAxis > 0 else { return }
            var start = 0
            while start < n {
                var sum: Float = 0
                for i in start..<start + lastAxis { sum += g[i] }
                for i in start..<start + lastAxis { d[i] = g[i] - Foundation.exp(y[i]) * sum }
                start += lastAxis
            }
        case .elu(let alpha):
            // y = alpha·(e^z − 1) for z ≤ 0, so f'(z) = alpha·e^z = y + alpha.
            for i in 0..<n { d[i] = y[i] > 0 ? g[i] : g[i] * (y[i] + alpha) }
        case .selu:
            let alpha: Float = 1.6732632423543772848170429916717
            let scale: Float = 1.0507009873554804934193349852946
            for i in 0..<n { d[i] = y[i] > 0 ? g[i] * scale : g[i] * (y[i] + scale * alpha) }
        case .softplus:
            // f'(z) = sigmoid(z) = 1 − e^(−y).
            for i in 0..<n { d[i] = g[i] * -Foundation.expm1(-y[i]) }
        case .softsign:
            // f'(z) = 1 / (1 + |z|)² = (1 − |y|)².
            for i in 0..<n {
                let t = 1 - abs(y[i])
                d[i] = g[i] * t * t
            }
        case .exponential:
            for i in 0..<n { d[i] = g[i] * y[i] }
        case .leakyReLU(let slope):
            let z = input!
            for i in 0..<n { d[i] = z[i] > 0 ? g[i] : g[i] * slope }
        case .swish:
            let z = input!
            for i in 0..<n {
                let s = Activation.sigmoid(z[i])
                d[i] = g[i] * (s + z[i] * s * (1 - s))
            }
        case .hardSwish:
            // z · clip(z/6 + 1/2, 0, 1): 0 below −3, 1 above 3, z/3 + 1/2 between.
            let z = input!
            for i in 0..<n {
                let v = z[i]
                d[i] = v <= -3 ? 0 : (v >= 3 ? g[i] : g[i] * (v / 3 + 0.5))
            }
        case .gelu(let approximate):
            let z = input!
            if approximate {
                let c: Float = 0.7978845608028654  // sqrt(2 / pi)
                for i in 0..<n {
                    let v = z[i]
                    let t = Foundation.tanh(c * (v + 0.044715 * v * v * v))
                    let dInner = c * (1 + 3 * 0.044715 * v * v)
                    d[i] = g[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dInner)
                }
            } else {
                let invSqrt2: Float = 0.7071067811865476
                let invSqrt2Pi: Float = 0.3989422804014327
                for i in 0..<n {
                    let v = z[i]
                    let cdf = 0.5 * (1 + Foundation.erf(v * invSqrt2))
                    d[i] = g[i] * (cdf + v * invSqrt2Pi * Foundation.exp(-0.5 * v * v))
                }
            }
        case .mish:
            // z · tanh(softplus(z)): tanh(sp) + z · (1 − tanh²(sp)) · sigmoid(z).
            let z = input!
            for i in 0..<n {
                let v = z[i]
                let t = Foundation.tanh(max(v, 0) + Foundation.log1p(Foundation.exp(-abs(v))))
                d[i] = g[i] * (t + v * (1 - t * t) * Activation.sigmoid(v))
            }
        }
    }

    /// `backward` on tensors of one shape; `input` is the pre-activation (needed only when
    /// `backwardNeedsInput`).
    public func backward(input: Tensor?, output: Tensor, outputGradient: Tensor) -> Tensor {
        precondition(output.shape == outputGradient.shape,
                     "activation backward: output \(output.shape) and gradient \(outputGradient.shape) differ")
        if let input { precondition(input.shape == output.shape, "activation backward: input shape differs") }
        var result = Tensor(zeros: output.shape)
        let lastAxis = output.shape.last ?? 1
        output.scalars.withUnsafeBufferPointer { y in
            outputGradient.scalars.withUnsafeBufferPointer { g in
                result.scalars.withUnsafeMutableBufferPointer { d in
                    if let input {
                        input.scalars.withUnsafeBufferPointer { z in
                            backward(input: z, output: y, outputGradient: g, into: d, lastAxis: lastAxis)
                        }
                    } else {
                        backward(input: nil, output: y, outputGradient: g, into: d, lastAxis: lastAxis)
                    }
                }
            }
        }
        return result
    }
}

extension ActivationLayer {
    /// The gradient with respect to the layer's input, from its `input` and `output` in a
    /// forward pass and the gradient with respect to the output (see `Activation.backward`).
    public func backward(input: Tensor, output: Tensor, outputGradient: Tensor) throws -> Tensor {
        guard input.shape == output.shape, output.shape == outputGradient.shape else {
            throw LayerError(layer: name, "backward: input \(input.shape), output \(output.shape) and gradient \(outputGradient.shape) must have one shape")
        }
        return activation.backward(input: activation.backwardNeedsInput ? input : nil,
                                   output: output, outputGradient: outputGradient)
    }
}

extension ReLU {
    public var canTrain: Bool { true }

    /// Tape: the input.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        try inputKeepingForward(inputs)
    }

    /// Keras's `clip(x · [x > t], 0, max) − slope · relu(t − x)`: 1 where `x > t` and
    /// `0 < x < max`, plus `slope` where `x < t`.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let x = try tape.tensor(0, layer: name)
        try requireGradient(outputGradient, shaped: x.shape)
        var g = outputGradient
        let (t, slope, upper) = (threshold, negativeSlope, maxValue ?? .infinity)
        g.scalars.withUnsafeMutableBufferPointer { d in
            for i in 0..<d.count {
                let v = x.scalars[i]
                let factor: Float = (v > t && v > 0 && v < upper ? 1 : 0) + (v < t ? slope : 0)
                d[i] *= factor
            }
        }
        return LayerGradients(inputs: [g])
    }
}

extension PReLU {
    public var canTrain: Bool { true }

    /// Tape: the input.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        try inputKeepingForward(inputs)
    }

    /// Keras's `relu(x) − alpha · relu(−x)`: the input's factor is 1 where `x > 0` and
    /// `alpha` where `x < 0`; alpha's gradient sums `g · min(x, 0)` over the batch and the
    /// shared axes.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let x = try tape.tensor(0, layer: name)
        try requireGradient(outputGradient, shaped: x.shape)
        var slopes = Tensor(zeros: x.shape)
        broadcastApply(.copy, into: &slopes, alpha.reshaped([1] + alpha.shape))
        var dx = outputGradient
        var dAlpha = outputGradient
        for i in 0..<x.count {
            let v = x.scalars[i]
            dx.scalars[i] *= v > 0 ? 1 : (v < 0 ? slopes.scalars[i] : 0)
            dAlpha.scalars[i] *= min(v, 0)
        }
        var result = LayerGradients(inputs: [dx])
        if weights { result.weights["alpha"] = reduceBroadcast(dAlpha, to: [1] + alpha.shape).reshaped(alpha.shape) }
        return result
    }
}

extension Softmax {
    public var canTrain: Bool { true }

    /// Tape: the output.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let y = try forward(inputs)
        return TrainingForward(y, tape: Tape([y]))
    }

    /// `y ⊙ (g − Σ_axis g·y)` along the layer's axis.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let y = try tape.tensor(0, layer: name)
        try requireGradient(outputGradient, shaped: y.shape)
        let a = try resolvedAxis(rank: y.rank)
        let length = y.shape[a]
        let inner = y.shape[(a + 1)...].reduce(1, *)
        let outer = y.shape[..<a].reduce(1, *)
        var dx = outputGradient
        for o in 0..<outer {
            for i in 0..<inner {
                var dot: Float = 0
                for k in 0..<length {
                    let at = (o * length + k) * inner + i
                    dot += outputGradient.scalars[at] * y.scalars[at]
                }
                for k in 0..<length {
                    let at = (o * length + k) * inner + i
                    dx.scalars[at] = y.scalars[at] * (outputGradient.scalars[at] - dot)
                }
            }
        }
        return LayerGradients(inputs: [dx])
    }
}

extension ActivationLayer: ActivationFunctionLayer {
    public var function: Activation { activation }
}

extension LeakyReLU: ActivationFunctionLayer {
    public var function: Activation { .leakyReLU(slope: slope) }
}

extension ELU: ActivationFunctionLayer {
    public var function: Activation { .elu(alpha: alpha) }
}
