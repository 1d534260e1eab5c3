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
