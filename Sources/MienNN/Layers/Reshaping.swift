import MienFiles

/// Keras's `ZeroPadding2D` (channels_last): zero rows above/below and zero columns left/right.
public struct ZeroPadding2D: Layer {
    public var name: String
    public var kerasClass: String { "ZeroPadding2D" }
    public var trainable: Bool = true
    /// `((top, bottom), (left, right))`, Keras's normalized form.
    public var padding: ((Int, Int), (Int, Int))

    public init(name: String, padding: ((Int, Int), (Int, Int)) = ((1, 1), (1, 1))) {
        self.name = name
        self.padding = padding
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireRank(shape, 4)
        let ((top, bottom), (left, right)) = padding
        return [shape[0], shape[1].map { $0 + top + bottom }, shape[2].map { $0 + left + right }, shape[3]]
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        try requireRank(x.shape.map { $0 }, 4)
        let ((top, bottom), (left, right)) = padding
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return copyWindow(x, into: [n, h + top + bottom, w + left + right, c],
                          rows: h, cols: w, from: (0, 0), to: (top, left))
    }
}

extension ZeroPadding2D: OneChannelTaking {
    public func takingOneChannel(of replicas: Int) -> OneChannelForm? { .passes(self) }
}

/// Keras's `Cropping2D` (channels_last): drops rows from the top/bottom and columns from
/// the left/right.
public struct Cropping2D: Layer {
    public var name: String
    public var kerasClass: String { "Cropping2D" }
    public var trainable: Bool = true
    /// `((top, bottom), (left, right))`, Keras's normalized form.
    public var cropping: ((Int, Int), (Int, Int))

    public init(name: String, cropping: ((Int, Int), (Int, Int)) = ((0, 0), (0, 0))) {
        self.name = name
        self.cropping = cropping
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireRank(shape, 4)
        return [shape[0], try cropped(shape[1], cropping.0), try cropped(shape[2], cropping.1), shape[3]]
    }

    private func cropped(_ length: Int?, _ crop: (Int, Int)) throws -> Int? {
        guard let length else { return nil }
        guard length - crop.0 - crop.1 > 0 else {
            throw LayerError(layer: name, "cropping \(crop) leaves nothing of an axis of length \(length)")
        }
        return length - crop.0 - crop.1
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        try requireRank(x.shape.map { $0 }, 4)
        let ((top, _), (left, _)) = cropping
        guard let h = try cropped(x.shape[1], cropping.0), let w = try cropped(x.shape[2], cropping.1) else {
            return x
        }
        return copyWindow(x, into: [x.shape[0], h, w, x.shape[3]], rows: h, cols: w,
                          from: (top, left), to: (0, 0))
    }
}

extension Layer {
    /// Copies a `rows × cols` window of every image of `x` starting at `from` into a zero
    /// tensor of `shape` at `to`: one contiguous run of `cols · C` floats per row.
    func copyWindow(_ x: Tensor, into shape: [Int], rows: Int, cols: Int,
                    from: (Int, Int), to: (Int, Int)) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outH, outW) = (shape[1], shape[2])
        var y = Tensor(zeros: shape)
        guard rows > 0, cols > 0, c > 0 else { return y }
        x.scalars.withUnsafeBufferPointer { src in
            y.scalars.withUnsafeMutableBufferPointer { dst in
                for image in 0..<n {
                    for r in 0..<rows {
                        let s = ((image * h + from.0 + r) * w + from.1) * c
                        let d = ((image * outH + to.0 + r) * outW + to.1) * c
                        (dst.baseAddress! + d).update(from: src.baseAddress! + s, count: cols * c)
                    }
                }
            }
        }
        return y
    }
}

/// Keras's `UpSampling2D` (channels_last): `nearest` repeats each pixel `size` times;
/// `bilinear` is `tf.image.resize` to `(H·sh, W·sw)` (Keras 3 and tf_keras both; checked
/// equal in TF 2.21).
public struct UpSampling2D: Layer {
    public var name: String
    public var kerasClass: String { "UpSampling2D" }
    public var trainable: Bool = true
    public var size: (Int, Int)
    public var interpolation: Interpolation

    public init(name: String, size: (Int, Int) = (2, 2), interpolation: Interpolation = .nearest) {
        self.name = name
        self.size = size
        self.interpolation = interpolation
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireRank(shape, 4)
        guard size.0 > 0, size.1 > 0 else {
            throw LayerError(layer: name, "size \(size) must be positive")
        }
        return [shape[0], shape[1].map { $0 * size.0 }, shape[2].map { $0 * size.1 }, shape[3]]
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        _ = try outputShape(for: [x.shape.map { $0 }])
        switch interpolation {
        case .nearest:
            return repeatPixels(x, size: size)
        case .bilinear:
            guard x.shape[1] > 0, x.shape[2] > 0 else { return x }
            return resize(x, height: x.shape[1] * size.0, width: x.shape[2] * size.1, interpolation: .bilinear)
        }
    }
}

/// Keras's `Reshape`: the dimensions after the batch become `targetShape`, where one entry
/// may be -1 (inferred).
public struct Reshape: Layer {
    public var name: String
    public var kerasClass: String { "Reshape" }
    public var trainable: Bool = true
    /// Without the batch dimension.
    public var targetShape: [Int]

    public init(name: String, targetShape: [Int]) {
        self.name = name
        self.targetShape = targetShape
    }

    /// `targetShape` with the -1 filled in for `elements` values per sample, or nil for the
    /// -1 if `elements` is unknown.
    private func resolved(elements: Int?) throws -> [Int?] {
        let unknown = targetShape.indices.filter { targetShape[$0] == -1 }
        guard unknown.count <= 1, targetShape.allSatisfy({ $0 == -1 || $0 >= 0 }) else {
            throw LayerError(layer: name, "invalid target shape \(targetShape): at most one -1 and no other negative sizes")
        }
        guard let known = CheckedSize.product(targetShape.filter { $0 != -1 }) else {
            throw LayerError(layer: name, "target shape \(targetShape) overflows")
        }
        guard let elements else { return targetShape.map { $0 == -1 ? nil : $0 } }
        if let slot = unknown.first {
            guard known > 0, elements % known == 0 else {
                throw LayerError(layer: name, "cannot reshape \(elements) values per sample to \(targetShape)")
            }
            var shape = targetShape
            shape[slot] = elements / known
            return shape
        }
        guard known == elements else {
            throw LayerError(layer: name, "cannot reshape \(elements) values per sample to \(targetShape)")
        }
        return targetShape
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        guard !shape.isEmpty else { throw LayerError(layer: name, "expects a batched input") }
        let dims = shape.dropFirst()
        let elements: Int? = dims.contains { $0 == nil } ? nil : dims.reduce(1) { $0 * $1! }
        return [shape[0]] + (try resolved(elements: elements))
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        guard x.rank >= 1 else { throw LayerError(layer: name, "expects a batched input") }
        let perSample = x.shape.dropFirst().reduce(1, *)
        x.reshape([x.shape[0]] + (try resolved(elements: perSample)).map { $0! })
        return x
    }
}

/// Keras's `Flatten`: `[N, d1, d2, ...]` → `[N, d1·d2·...]` in row-major (channels_last) order.
public struct Flatten: Layer {
    public var name: String
    public var kerasClass: String { "Flatten" }
    public var trainable: Bool = true

    public init(name: String) {
        self.name = name
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        guard !shape.isEmpty else { throw LayerError(layer: name, "expects a batched input") }
        let dims = shape.dropFirst()
        return [shape[0], dims.contains { $0 == nil } ? nil : dims.reduce(1) { $0 * $1! }]
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        var x = try single(inputs)
        guard x.rank >= 1 else { throw LayerError(layer: name, "expects a batched input") }
        x.reshape([x.shape[0], x.shape.dropFirst().reduce(1, *)])
        return x
    }
}

/// Keras's `Permute`: reorders the axes after the batch; `dims` is 1-based as in Keras
/// (`(2, 1)` swaps the two axes after the batch).
public struct Permute: Layer {
    public var name: String
    public var kerasClass: String { "Permute" }
    public var trainable: Bool = true
    public var dims: [Int]

    public init(name: String, dims: [Int]) {
        self.name = name
        self.dims = dims
    }

    /// The full 0-based permutation (batch first), checked against the input rank.
    func permutation(rank: Int) throws -> [Int] {
        guard dims.sorted() == Array(1...max(dims.count, 1)), dims.count + 1 == rank else {
            throw LayerError(layer: name, "dims \(dims) is not a permutation of the \(rank - 1) axes after the batch")
        }
        return [0] + dims
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        return try permutation(rank: shape.count).map { shape[$0] }
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        return transpose(x, permutation: try permutation(rank: x.rank))
    }
}


// MARK: - Training

extension ZeroPadding2D {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        try shapeKeepingForward(inputs)
    }

    /// The gradient is the output's, cropped back to the input.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard let shape = tape.shapes.first, shape.count == 4 else { throw LayerError(layer: name, "backward: not this layer's tape") }
        let ((top, bottom), (left, right)) = padding
        try requireGradient(outputGradient, shaped: [shape[0], shape[1] + top + bottom, shape[2] + left + right, shape[3]])
        return LayerGradients(inputs: [copyWindow(outputGradient, into: shape, rows: shape[1], cols: shape[2],
                                                  from: (top, left), to: (0, 0))])
    }
}

extension Cropping2D {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        try shapeKeepingForward(inputs)
    }

    /// The gradient is the output's, padded back with zeros where the crop dropped cells.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard let shape = tape.shapes.first, shape.count == 4 else { throw LayerError(layer: name, "backward: not this layer's tape") }
        let ((top, bottom), (left, right)) = cropping
        let (rows, cols) = (shape[1] - top - bottom, shape[2] - left - right)
        try requireGradient(outputGradient, shaped: [shape[0], rows, cols, shape[3]])
        return LayerGradients(inputs: [copyWindow(outputGradient, into: shape, rows: rows, cols: cols,
                                                  from: (0, 0), to: (top, left))])
    }
}

extension Permute {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        TrainingForward(try forward(inputs))
    }

    /// The gradient is the output's under the inverse permutation.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let forward = try permutation(rank: outputGradient.rank)
        var inverse = forward
        for (i, axis) in forward.enumerated() { inverse[axis] = i }
        return LayerGradients(inputs: [transpose(outputGradient, permutation: inverse)])
    }
}

extension UpSampling2D {
    /// Nearest only: the bilinear resize has no backward here.
    public var canTrain: Bool { interpolation == .nearest }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        guard canTrain else {
            throw LayerError(layer: name, "UpSampling2D with bilinear interpolation cannot be trained: Mien has no backward pass for it")
        }
        return TrainingForward(try forward(inputs))
    }

    /// Each input pixel's gradient is the sum over the `size` block it was repeated into.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let g = outputGradient
        guard g.rank == 4, g.shape[1] % size.0 == 0, g.shape[2] % size.1 == 0 else {
            throw LayerError(layer: name, "backward: gradient of shape \(g.shape) is not a multiple of \(size)")
        }
        let (n, h, w, c) = (g.shape[0], g.shape[1] / size.0, g.shape[2] / size.1, g.shape[3])
        var dx = Tensor(zeros: [n, h, w, c])
        for image in 0..<n {
            for oy in 0..<(h * size.0) {
                for ox in 0..<(w * size.1) {
                    let src = ((image * h * size.0 + oy) * w * size.1 + ox) * c
                    let dst = ((image * h + oy / size.0) * w + ox / size.1) * c
                    for ch in 0..<c { dx.scalars[dst + ch] += g.scalars[src + ch] }
                }
            }
        }
        return LayerGradients(inputs: [dx])
    }
}

extension Flatten: ReshapingLayer {}

extension Reshape: ReshapingLayer {}
