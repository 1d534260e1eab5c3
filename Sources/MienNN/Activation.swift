import Foundation

/// Keras's element-wise activations, as named by `activation=` and the `Activation` layer.
///
/// Each case runs as one tight loop over the buffer (no per-element closures).
public enum Activation: Sendable, Equatable {
    case linear
    case relu
    case relu6
    case sigmoid
    /// `clip(slope * x + 0.5, 0, 1)`: Keras 2 uses slope 0.2, Keras 3 uses 1/6.
    case hardSigmoid(slope: Float)
    /// `x * hard_sigmoid(x)` with Keras 3's slope 1/6.
    case hardSwish
    case tanh
    /// Over the last axis.
    case softmax
    case logSoftmax
    case swish
    case elu(alpha: Float)
    case selu
    case gelu(approximate: Bool)
    case softplus
    case softsign
    case exponential
    case mish
    case leakyReLU(slope: Float)

    /// Keras 2's `hard_sigmoid`.
    public static let hardSigmoidKeras2 = Activation.hardSigmoid(slope: 0.2)
    /// Keras 3's `hard_sigmoid` (`relu6(x + 3) / 6`).
    public static let hardSigmoidKeras3 = Activation.hardSigmoid(slope: 1.0 / 6.0)

    /// The activations that are a clamp (`linear` an unbounded one), which kernels apply
    /// as they store each result; nil for the others.
    public var clampRange: ClosedRange<Float>? {
        switch self {
        case .linear: -Float.infinity...Float.infinity
        case .relu: 0...Float.infinity
        case .relu6: 0...6
        default: nil
        }
    }

    /// Looks up Keras's name for an activation; `kerasMajor` selects between the
    /// definitions that differ across Keras versions. Nil if unknown.
    public init?(kerasName: String, kerasMajor: Int = 3) {
        switch kerasName {
        case "linear", "identity": self = .linear
        case "relu": self = .relu
        case "relu6": self = .relu6
        case "sigmoid": self = .sigmoid
        case "hard_sigmoid": self = kerasMajor >= 3 ? .hardSigmoidKeras3 : .hardSigmoidKeras2
        case "hard_silu", "hard_swish": self = .hardSwish
        case "tanh": self = .tanh
        case "softmax": self = .softmax
        case "log_softmax": self = .logSoftmax
        case "swish", "silu": self = .swish
        case "elu": self = .elu(alpha: 1)
        case "selu": self = .selu
        case "gelu": self = .gelu(approximate: false)
        case "softplus": self = .softplus
        case "softsign": self = .softsign
        case "exponential": self = .exponential
        case "mish": self = .mish
        case "leaky_relu": self = .leakyReLU(slope: 0.2)
        default: return nil
        }
    }

    public static let kerasNames = [
        "linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "hard_silu", "hard_swish", "tanh",
        "softmax", "log_softmax", "swish", "silu", "elu", "selu", "gelu", "softplus", "softsign",
        "exponential", "mish", "leaky_relu",
    ]

    /// Applies the activation in place; `lastAxis` is the length of the last axis
    /// (needed by softmax).
    public func apply(_ x: inout [Float], lastAxis: Int) {
        x.withUnsafeMutableBufferPointer { apply($0, lastAxis: lastAxis) }
    }

    public func apply(_ x: UnsafeMutableBufferPointer<Float>, lastAxis: Int) {
        let n = x.count
        switch self {
        case .linear:
            return
        case .relu:
            for i in 0..<n { x[i] = max(x[i], 0) }
        case .relu6:
            for i in 0..<n { x[i] = min(max(x[i], 0), 6) }
        case .sigmoid:
            for i in 0..<n { x[i] = Activation.sigmoid(x[i]) }
        case .hardSigmoid(let slope):
            for i in 0..<n { x[i] = min(max(slope * x[i] + 0.5, 0), 1) }
        case .hardSwish:
            for i in 0..<n { x[i] = x[i] * min(max(x[i] / 6 + 0.5, 0), 1) }
        case .tanh:
            for i in 0..<n { x[i] = Foundation.tanh(x[i]) }
        case .softmax, .logSoftmax:
            let log = self == .logSoftmax
            guard lastAxis > 0 else { return }
            var start = 0
            while start < n {
                var m = -Float.infinity
                for i in start..<start + lastAxis { m = max(m, x[i]) }
                var sum: Float = 0
                for i in start..<start + lastAxis {
                    let e = Foundation.exp(x[i] - m)
                    sum += e
                    if !log { x[i] = e }
                }
                if log {
                    let lse = m + Foundation.log(sum)
                    for i in start..<start + lastAxis { x[i] -= lse }
                } else {
                    let inv = 1 / sum
                    for i in start..<start + lastAxis { x[i] *= inv }
                }
                start += lastAxis
            }
        case .swish:
            for i in 0..<n { x[i] = x[i] * Activation.sigmoid(x[i]) }
        case .elu(let alpha):
            for i in 0..<n where x[i] <= 0 { x[i] = alpha * (Foundation.exp(x[i]) - 1) }
        case .selu:
            let alpha: Float = 1.6732632423543772848170429916717
            let scale: Float = 1.0507009873554804934193349852946
            for i in 0..<n {
                x[i] = x[i] > 0 ? scale * x[i] : scale * alpha * (Foundation.exp(x[i]) - 1)
            }
        case .gelu(let approximate):
            if approximate {
                let c: Float = 0.7978845608028654  // sqrt(2 / pi)
                for i in 0..<n {
                    let v = x[i]
                    x[i] = 0.5 * v * (1 + Foundation.tanh(c * (v + 0.044715 * v * v * v)))
                }
            } else {
                for i in 0..<n { x[i] = 0.5 * x[i] * (1 + Foundation.erf(x[i] * Float(0.7071067811865476))) }
            }
        case .softplus:
            // log(1 + e^x) computed without overflow for large x.
            for i in 0..<n {
                let v = x[i]
                x[i] = max(v, 0) + Foundation.log1p(Foundation.exp(-abs(v)))
            }
        case .softsign:
            for i in 0..<n { x[i] = x[i] / (1 + abs(x[i])) }
        case .exponential:
            for i in 0..<n { x[i] = Foundation.exp(x[i]) }
        case .mish:
            for i in 0..<n {
                let v = x[i]
                x[i] = v * Foundation.tanh(max(v, 0) + Foundation.log1p(Foundation.exp(-abs(v))))
            }
        case .leakyReLU(let slope):
            for i in 0..<n where x[i] < 0 { x[i] *= slope }
        }
    }

    @inline(__always)
    static func sigmoid(_ v: Float) -> Float {
        // Stable for large |v|: never computes exp of a large positive number.
        if v >= 0 { return 1 / (1 + Foundation.exp(-v)) }
        let e = Foundation.exp(v)
        return e / (1 + e)
    }
}
