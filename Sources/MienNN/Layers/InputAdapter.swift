/// How a raw face becomes a backbone's input: a 48×48 grayscale FER face is resized
/// (bilinear, as Keras's `Resizing`: half-pixel centres, no antialiasing) to the backbone's
/// input size, replicated to its channels and scaled.
///
/// It is a layer, the first stage of the model, so a model carries its own preprocessing
/// and an exported model takes the raw face.
public struct InputAdapter: Layer, Codable, Equatable {
    public var name: String
    public var kerasClass: String { "InputAdapter" }
    public var trainable: Bool = false
    /// The raw image the model accepts: `[height, width, channels]` (FER: 48×48×1).
    public var inputSize: [Int]
    /// The backbone's input: `[height, width, channels]`.
    public var outputSize: [Int]
    public var interpolation: Interpolation
    /// Applied to raw pixel values after resizing: `x * scale + offset` (1 and 0 when the
    /// backbone normalizes inside itself, as the bundled EfficientNet-Lite0 does).
    public var scale: Float
    public var offset: Float

    public init(name: String = "input_adapter", inputSize: [Int] = [48, 48, 1], outputSize: [Int],
                interpolation: Interpolation = .bilinear, scale: Float = 1, offset: Float = 0) {
        self.name = name
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.interpolation = interpolation
        self.scale = scale
        self.offset = offset
    }

    /// The default backbone input for FER faces: 96×96 keeps the 48×48 detail at a
    /// quarter of the work of the backbone's native 224×224.
    public static let defaultFERSize = 96

    /// An adapter for FER faces feeding a backbone of `size × size × channels`.
    public static func fer(size: Int = defaultFERSize, channels: Int = 3, scale: Float = 1,
                           offset: Float = 0) -> InputAdapter {
        InputAdapter(inputSize: [48, 48, 1], outputSize: [size, size, channels], scale: scale, offset: offset)
    }

    /// Checks the sizes (read from a file, they are untrusted) against `ModelLimits`.
    public func validate() throws {
        guard inputSize.count == 3, outputSize.count == 3, (inputSize + outputSize).allSatisfy({ $0 > 0 }) else {
            throw LayerError(layer: name, "sizes must be [height, width, channels] > 0, got \(inputSize) -> \(outputSize)")
        }
        try ModelLimits.check([nil] + inputSize.map { Optional($0) }, layer: name, what: "input")
        try ModelLimits.check([nil] + outputSize.map { Optional($0) }, layer: name)
        guard scale.isFinite, offset.isFinite else {
            throw LayerError(layer: name, "scale \(scale) and offset \(offset) must be finite")
        }
        guard inputSize[2] == outputSize[2] || inputSize[2] == 1 else {
            throw LayerError(layer: name, "cannot turn \(inputSize[2]) channels into \(outputSize[2]): only 1 channel is replicated")
        }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try validate()
        let shape = try single(inputShapes)
        guard shape.count == 4, shape[3] == inputSize[2] else {
            throw LayerError(layer: name, "expects [batch, height, width, \(inputSize[2])], got \(shape.kerasDescription)")
        }
        return [shape[0]] + outputSize.map { Optional($0) }
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        _ = try outputShape(for: [x.shape.map { Optional($0) }])
        guard x.shape[1] > 0, x.shape[2] > 0 else {
            throw LayerError(layer: name, "cannot resize an empty image \(x.shape)")
        }
        // Resize before replicating channels: the same result for a third of the work.
        var y = (x.shape[1], x.shape[2]) == (outputSize[0], outputSize[1])
            ? x : resize(x, height: outputSize[0], width: outputSize[1], interpolation: interpolation)
        if y.shape[3] != outputSize[2] { y = replicateChannels(y, to: outputSize[2]) }
        if scale != 1 || offset != 0 {
            let (s, o) = (scale, offset)
            y.scalars.withUnsafeMutableBufferPointer { b in
                for i in b.indices { b[i] = b[i] * s + o }
            }
        }
        return y
    }

    /// The model a user runs: raw faces in, the backbone's output out. The backbone stays
    /// a nested model, so its weights keep their Keras names.
    public func prepended(to backbone: Graph, name: String? = nil) throws -> Graph {
        let input = InputLayer(name: "face", shape: [nil] + inputSize.map { Optional($0) })
        return try Graph(name: name ?? backbone.name, layers: [input, self, backbone],
                         nodes: [.init(layer: 0, inputs: []), .init(layer: 1, inputs: [0]), .init(layer: 2, inputs: [1])],
                         inputNodes: [0], outputNode: 2)
    }
}

extension InputAdapter: ChannelReplicating {
    public var replicas: Int { inputSize.count == 3 && inputSize[2] == 1 && outputSize.count == 3 ? outputSize[2] : 1 }

    public func withoutReplicas() -> any Layer {
        var one = self
        one.outputSize[2] = 1
        return one
    }
}

/// Copies a one-channel NHWC tensor into `channels` identical channels.
func replicateChannels(_ x: Tensor, to channels: Int) -> Tensor {
    precondition(x.shape[3] == 1)
    var y = Tensor(zeros: Array(x.shape.dropLast()) + [channels])
    x.scalars.withUnsafeBufferPointer { src in
        y.scalars.withUnsafeMutableBufferPointer { dst in
            for p in src.indices {
                let v = src[p]
                for c in 0..<channels { dst[p * channels + c] = v }
            }
        }
    }
    return y
}

extension Interpolation: Codable {}
