/// Keras's `Conv2D` with `groups` > 1 (ConvNeXt's 7×7 convolution, RegNet's 3×3): the input
/// channels split into `groups` equal parts, each convolved with its own `filters / groups`
/// output channels. The kernel keeps Keras's shape `[kh, kw, inputChannels / groups, filters]`.
///
/// One group per channel is a depthwise convolution (Keras's output channel `c·m + j` is the
/// depthwise layer's, and the kernels share their memory layout), which runs as one; other
/// groupings run as one `Conv2D` per group on its slice of the channels.
public struct GroupedConv2D: KernelAndBiasLayer {
    public var name: String
    public var kerasClass: String { "Conv2D" }
    public var trainable: Bool = true
    public var kernelSize: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: Padding
    public var activation: Activation
    public var groups: Int
    /// `[kh, kw, inputChannels / groups, filters]`.
    public var kernel: Tensor
    public var bias: Tensor?

    public init(name: String, inputChannels: Int, filters: Int, groups: Int, kernelSize: (Int, Int),
                strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1), padding: Padding = .valid,
                useBias: Bool = true, activation: Activation = .linear) throws {
        guard groups >= 1, inputChannels % groups == 0, filters % groups == 0 else {
            throw LayerError(layer: name, "groups \(groups) must divide the input channels (\(inputChannels)) and the filters (\(filters))")
        }
        self.name = name
        self.groups = groups
        self.kernelSize = kernelSize
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.activation = activation
        kernel = Tensor(zeros: [kernelSize.0, kernelSize.1, inputChannels / groups, filters])
        bias = useBias ? Tensor(zeros: [filters]) : nil
    }

    public var filters: Int { kernel.shape[3] }
    public var inputChannels: Int { kernel.shape[2] * groups }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try convolvedShape(inputShapes, inputChannels: inputChannels, outputChannels: filters,
                           kernelSize: kernelSize, strides: strides, dilation: dilation, padding: padding)
    }

    /// Whether each group is one input channel: a depthwise convolution.
    private var isDepthwise: Bool { kernel.shape[2] == 1 }

    private func depthwise() -> DepthwiseConv2D {
        var layer = DepthwiseConv2D(name: name, inputChannels: groups, kernelSize: kernelSize, strides: strides,
                                    dilation: dilation, padding: padding, depthMultiplier: filters / groups,
                                    useBias: bias != nil, activation: activation)
        layer.depthwiseKernel = kernel.reshaped(layer.depthwiseKernel.shape)
        layer.bias = bias
        return layer
    }

    /// Group `g`'s convolution: its columns of the kernel and its part of the bias.
    private func group(_ g: Int) -> Conv2D {
        let cin = kernel.shape[2], cout = filters / groups
        var layer = Conv2D(name: name, inputChannels: cin, filters: cout, kernelSize: kernelSize, strides: strides,
                           dilation: dilation, padding: padding, useBias: bias != nil, activation: activation)
        var scalars: [Float] = []
        scalars.reserveCapacity(kernel.count / groups)
        for row in 0..<(kernel.count / filters) {
            let start = row * filters + g * cout
            scalars += kernel.scalars[start..<(start + cout)]
        }
        layer.kernel = Tensor(shape: layer.kernel.shape, scalars: scalars)
        layer.bias = bias.map { Tensor(shape: [cout], scalars: Array($0.scalars[(g * cout)..<((g + 1) * cout)])) }
        return layer
    }

    /// Channels `[start, start + count)` of an NHWC tensor.
    private func channels(_ x: Tensor, _ start: Int, _ count: Int) -> Tensor {
        let c = x.shape[3]
        var scalars: [Float] = []
        scalars.reserveCapacity(x.count / c * count)
        for p in 0..<(x.count / c) {
            let first = p * c + start
            scalars += x.scalars[first..<(first + count)]
        }
        return Tensor(shape: Array(x.shape.dropLast()) + [count], scalars: scalars)
    }

    /// The groups' outputs side by side along the channels.
    private func interleaved(_ parts: [Tensor]) -> Tensor {
        let k = parts[0].shape[3], pixels = parts[0].count / k
        var scalars = [Float](repeating: 0, count: pixels * k * parts.count)
        for (g, part) in parts.enumerated() {
            for p in 0..<pixels {
                for j in 0..<k { scalars[(p * parts.count + g) * k + j] = part.scalars[p * k + j] }
            }
        }
        return Tensor(shape: Array(parts[0].shape.dropLast()) + [k * parts.count], scalars: scalars)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        _ = try outputShape(for: [x.shape.map { $0 }])
        if isDepthwise { return try depthwise().forward([x]) }
        let cin = kernel.shape[2]
        return interleaved(try (0..<groups).map { g in try group(g).forward([channels(x, g * cin, cin)]) })
    }
}

// MARK: - Training

extension GroupedConv2D {
    public var canTrain: Bool { true }

    /// Tape: one node per group (the depthwise layer's tape when it is one).
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        _ = try outputShape(for: [x.shape.map { $0 }])
        if isDepthwise {
            let result = try depthwise().forwardTraining([x], context: context)
            return TrainingForward(result.output, tape: Tape(nodes: [result.tape]))
        }
        let cin = kernel.shape[2]
        let results = try (0..<groups).map { g in try group(g).forwardTraining([channels(x, g * cin, cin)], context: context) }
        return TrainingForward(interleaved(results.map(\.output)), tape: Tape(nodes: results.map(\.tape)))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard tape.nodes.count == (isDepthwise ? 1 : groups), tape.nodes.allSatisfy({ $0 != nil }),
              outputGradient.rank == 4, outputGradient.shape[3] == filters else {
            throw LayerError(layer: name, "backward: not this layer's tape or gradient \(outputGradient.shape)")
        }
        if isDepthwise {
            let d = depthwise()
            var result = try d.backward(outputGradient, tape: tape.nodes[0]!, inputs: inputs, weights: weights)
            if let dk = result.weights.removeValue(forKey: "depthwise_kernel") {
                result.weights["kernel"] = dk.reshaped(kernel.shape)
            }
            return result
        }
        let cout = filters / groups
        let parts = try (0..<groups).map { g in
            try group(g).backward(channels(outputGradient, g * cout, cout), tape: tape.nodes[g]!, inputs: inputs, weights: weights)
        }
        var result = LayerGradients(inputs: [nil])
        if inputs.first == true {
            let dxs = try parts.map { part -> Tensor in
                guard let dx = part.inputs.first ?? nil else { throw LayerError(layer: name, "backward gave no input gradient") }
                return dx
            }
            result.inputs = [interleaved(dxs)]
        }
        if weights {
            // Each group's kernel columns and bias back in place.
            var dk = Tensor(zeros: kernel.shape)
            var db = Tensor(zeros: [filters])
            for (g, part) in parts.enumerated() {
                if let k = part.weights["kernel"] {
                    for row in 0..<(kernel.count / filters) {
                        for j in 0..<cout { dk.scalars[row * filters + g * cout + j] = k.scalars[row * cout + j] }
                    }
                }
                if let b = part.weights["bias"] {
                    for j in 0..<cout { db.scalars[g * cout + j] = b.scalars[j] }
                }
            }
            result.weights["kernel"] = dk
            if bias != nil { result.weights["bias"] = db }
        }
        return result
    }
}

extension GroupedConv2D {
    public func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int { 2 * positions(of: output) * kernel.count }
}
