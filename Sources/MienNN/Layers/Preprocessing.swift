/// Keras's `Resizing` preprocessing layer (channels_last): `tf.image.resize` to
/// `height × width` (no crop or pad to aspect ratio). See `resize` for the exact sampling,
/// which was verified bit-for-bit against TensorFlow.
public struct Resizing: Layer {
    public var name: String
    public var kerasClass: String { "Resizing" }
    public var trainable: Bool = true
    public var height: Int
    public var width: Int
    public var interpolation: Interpolation

    public init(name: String, height: Int, width: Int, interpolation: Interpolation = .bilinear) {
        self.name = name
        self.height = height
        self.width = width
        self.interpolation = interpolation
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireRank(shape, 4)
        guard height > 0, width > 0 else {
            throw LayerError(layer: name, "target size \(height)×\(width) must be positive")
        }
        return [shape[0], height, width, shape[3]]
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        _ = try outputShape(for: [x.shape.map { $0 }])
        guard x.shape[1] > 0, x.shape[2] > 0 else {
            throw LayerError(layer: name, "cannot resize an empty image \(x.shape)")
        }
        return resize(x, height: height, width: width, interpolation: interpolation)
    }
}

/// Keras's `Rescaling`: `x * scale + offset`, each either one value or one per channel
/// (last axis).
public struct Rescaling: Layer {
    public var name: String
    public var kerasClass: String { "Rescaling" }
    public var trainable: Bool = true
    public var scale: [Float]
    public var offset: [Float]

    public init(name: String, scale: [Float], offset: [Float] = [0]) {
        self.name = name
        self.scale = scale
        self.offset = offset
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try checkLengths(lastAxis: shape.last ?? nil, rank: shape.count)
        return shape
    }

    private func checkLengths(lastAxis: Int?, rank: Int) throws {
        for (label, values) in [("scale", scale), ("offset", offset)] {
            guard values.count == 1 || (rank >= 2 && (lastAxis == nil || values.count == lastAxis)) else {
                throw LayerError(layer: name, "\(label) has \(values.count) values; expected 1 or one per channel (\(lastAxis.map(String.init) ?? "?"))")
            }
        }
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        let channels = x.shape.last ?? 1
        try checkLengths(lastAxis: channels, rank: x.rank)
        let s = scale.count == 1 ? [Float](repeating: scale[0], count: channels) : scale
        let o = offset.count == 1 ? [Float](repeating: offset[0], count: channels) : offset
        guard channels > 0 else { return x }
        if s.allSatisfy({ $0 == s[0] }), o.allSatisfy({ $0 == o[0] }) {
            // One scale and offset (the usual `1/255` or `1/127.5, -1`): a single loop that vectorizes.
            let (scale, offset) = (s[0], o[0])
            x.scalars.withUnsafeMutableBufferPointer { b in
                guard let p = b.baseAddress else { return }
                for i in 0..<b.count { p[i] = p[i] * scale + offset }
            }
            return x
        }
        x.scalars.withUnsafeMutableBufferPointer { b in
            var start = 0
            while start < b.count {
                for c in 0..<channels { b[start + c] = b[start + c] * s[c] + o[c] }
                start += channels
            }
        }
        return x
    }
}

extension Rescaling: OneChannelTaking {
    /// One scale and one offset for every channel keep identical channels identical.
    public func takingOneChannel(of replicas: Int) -> OneChannelForm? {
        guard let s = scale.first, let o = offset.first, scale.allSatisfy({ $0 == s }), offset.allSatisfy({ $0 == o }),
              scale.count == 1 || scale.count == replicas, offset.count == 1 || offset.count == replicas else { return nil }
        var one = self
        (one.scale, one.offset) = ([s], [o])
        return .passes(one)
    }
}

/// Keras's `Normalization` over the last axis: `(x − mean) / max(sqrt(variance), 1e-7)`, or
/// with `invert`, `mean + x · max(sqrt(variance), 1e-7)`; `mean` and `variance` hold one
/// value or one per channel.
///
/// Verified in TF 2.21 with Keras 3.15 and tf_keras 2.21 (same formula, epsilon
/// `backend.epsilon()` = 1e-7 in both, a true division; bit-identical in numpy float32,
/// including a zero-variance channel). An `adapt()`ed layer stores the weights `mean`,
/// `variance` (shape `[C]` for axis -1, `[]` for axis None) and `count` (shape `[]`);
/// a layer given `mean=`/`variance=` in its config stores none.
public struct Normalization: Layer {
    public var name: String
    public var kerasClass: String { "Normalization" }
    public var trainable: Bool = true
    public var mean: Tensor
    public var variance: Tensor
    /// The number of samples `adapt()` saw; stored, never used at inference.
    public var count: Tensor
    public var axisLength: Int
    public var invert: Bool
    /// Whether the Keras layer was `adapt()`ed, so its statistics are weights in the file.
    public var storesWeights: Bool

    /// `mean` and `variance` have 1 or `axisLength` values.
    public init(name: String, mean: [Float], variance: [Float], axisLength: Int, invert: Bool = false,
                storesWeights: Bool = false) {
        self.name = name
        // Keras's weight shape: one per channel, or a scalar for a single global statistic.
        let shape = { (values: [Float]) in values.count == 1 && axisLength != 1 ? [] : [values.count] }
        self.mean = Tensor(shape: shape(mean), scalars: mean)
        self.variance = Tensor(shape: shape(variance), scalars: variance)
        count = Tensor(shape: [], scalars: [0])
        self.axisLength = axisLength
        self.invert = invert
        self.storesWeights = storesWeights
    }

    public var parameters: [Parameter] {
        guard storesWeights else { return [] }
        return [Parameter("mean", mean, trainable: false), Parameter("variance", variance, trainable: false),
                Parameter("count", count, trainable: false)]
    }

    public mutating func setParameter(_ name: String, to value: Tensor) throws {
        guard storesWeights else {
            throw LayerError(layer: self.name, "Normalization without adapt() has no weight named '\(name)'")
        }
        // With one channel Keras's `[1]` (axis -1) and `[]` (axis None) hold the same value.
        var value = value
        if value.count == 1, value.rank <= 1 {
            let current = name == "mean" ? mean.shape : name == "variance" ? variance.shape : count.shape
            if current.count <= 1, Tensor.count(of: current) == 1 { value.reshape(current) }
        }
        switch name {
        case "mean": mean = try checked(value, replacing: mean, as: name)
        case "variance": variance = try checked(value, replacing: variance, as: name)
        case "count": count = try checked(value, replacing: count, as: name)
        default: throw LayerError(layer: self.name, "Normalization has no weight named '\(name)'")
        }
    }

    private func checkShape(lastAxis: Int?) throws {
        guard lastAxis == nil || lastAxis == axisLength else {
            throw LayerError(layer: name, "expects \(axisLength) channels on the last axis, got \(lastAxis!)")
        }
        for (label, t) in [("mean", mean), ("variance", variance)] where t.count != 1 && t.count != axisLength {
            throw LayerError(layer: name, "\(label) has \(t.count) values; expected 1 or \(axisLength)")
        }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        guard shape.count >= 2 else {
            throw LayerError(layer: name, "expects a batched input with channels, got \(shape.kerasDescription)")
        }
        try checkShape(lastAxis: shape.last!)
        return shape
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        guard x.rank >= 2 else {
            throw LayerError(layer: name, "expects a batched input with channels, got shape \(x.shape)")
        }
        try checkShape(lastAxis: x.shape.last!)
        let channels = axisLength
        guard channels > 0 else { return x }
        let epsilon: Float = 1e-7   // Keras's backend.epsilon().
        var m = [Float](repeating: 0, count: channels), d = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            m[c] = mean.scalars[mean.count == 1 ? 0 : c]
            d[c] = max(variance.scalars[variance.count == 1 ? 0 : c].squareRoot(), epsilon)
        }
        x.scalars.withUnsafeMutableBufferPointer { b in
            var start = 0
            while start < b.count {
                if invert {
                    for c in 0..<channels { b[start + c] = m[c] + b[start + c] * d[c] }
                } else {
                    // A true division, as Keras does: bit-identical results.
                    for c in 0..<channels { b[start + c] = (b[start + c] - m[c]) / d[c] }
                }
                start += channels
            }
        }
        return x
    }
}

// MARK: - Training

extension Rescaling: ElementwiseAffineLayer {}

extension Normalization: ElementwiseAffineLayer {}
