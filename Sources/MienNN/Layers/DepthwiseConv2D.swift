/// Keras's `DepthwiseConv2D` (channels_last): each input channel is filtered by its own
/// `depthMultiplier` kernels; output channel `c·M + m` comes from input channel `c`.
public struct DepthwiseConv2D: InputPaddedLayer {
    public var name: String
    public var kerasClass: String { "DepthwiseConv2D" }
    public var trainable: Bool = true
    public var kernelSize: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: Padding
    public var activation: Activation
    /// `[kh, kw, inputChannels, depthMultiplier]`.
    public var depthwiseKernel: Tensor
    /// `[inputChannels · depthMultiplier]`.
    public var bias: Tensor?
    /// A ZeroPadding2D folded in for execution (see `InputPaddedLayer`).
    public var inputPadding: ((Int, Int), (Int, Int)) = ((0, 0), (0, 0))

    public init(name: String, inputChannels: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                dilation: (Int, Int) = (1, 1), padding: Padding = .valid, depthMultiplier: Int = 1,
                useBias: Bool = true, activation: Activation = .linear) {
        self.name = name
        self.kernelSize = kernelSize
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.activation = activation
        depthwiseKernel = Tensor(zeros: [kernelSize.0, kernelSize.1, inputChannels, depthMultiplier])
        bias = useBias ? Tensor(zeros: [inputChannels * depthMultiplier]) : nil
    }

    public var inputChannels: Int { depthwiseKernel.shape[2] }
    public var depthMultiplier: Int { depthwiseKernel.shape[3] }
    public var outputChannels: Int { inputChannels * depthMultiplier }

    public var parameters: [Parameter] {
        [Parameter("depthwise_kernel", depthwiseKernel)] + (bias.map { [Parameter("bias", $0)] } ?? [])
    }

    /// Keras 3 names the depthwise weight `kernel`; both names are accepted.
    public mutating func setParameter(_ name: String, to value: Tensor) throws {
        switch (name, bias) {
        case ("depthwise_kernel", _), ("kernel", _):
            depthwiseKernel = try checked(value, replacing: depthwiseKernel, as: name)
        case ("bias", let b?): bias = try checked(value, replacing: b, as: name)
        default: throw LayerError(layer: self.name, "DepthwiseConv2D has no weight named '\(name)'")
        }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try convolvedShape(paddedShapes(inputShapes), inputChannels: inputChannels, outputChannels: outputChannels,
                           kernelSize: kernelSize, strides: strides, dilation: dilation, padding: padding)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        let g = try geometry(of: x, kernel: kernelSize, strides: strides, dilation: dilation,
                             padding: padding, inputPadding: inputPadding, channels: inputChannels)
        return depthwiseConvolve(x, kernel: depthwiseKernel, geometry: g, bias: bias, activation: activation)
    }
}

// MARK: - Training

extension DepthwiseConv2D {
    public var canTrain: Bool { true }

    /// Tape: the input, then what the activation's backward needs.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        let g = try geometry(of: x, kernel: kernelSize, strides: strides, dilation: dilation,
                             padding: padding, inputPadding: inputPadding, channels: inputChannels)
        let z = depthwiseConvolve(x, kernel: depthwiseKernel, geometry: g, bias: bias)
        let (y, keep) = activation.trainingOutput(z, lastAxis: outputChannels)
        return TrainingForward(y, tape: Tape([x] + keep))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let x = try tape.tensor(0, layer: name)
        let g = try geometry(of: x, kernel: kernelSize, strides: strides, dilation: dilation,
                             padding: padding, inputPadding: inputPadding, channels: inputChannels)
        try requireGradient(outputGradient, shaped: [g.batch, g.outputHeight, g.outputWidth, outputChannels])
        let dz = try activation.preActivationGradient(outputGradient, tape: tape, offset: 1, layer: name)
        let (dx, dk) = depthwiseConvolutionBackward(dz, input: x, kernel: depthwiseKernel, geometry: g,
                                                    inputGradient: inputs.first ?? false, kernelGradient: weights)
        var result = LayerGradients(inputs: [dx])
        if weights {
            result.weights["depthwise_kernel"] = dk
            if bias != nil { result.weights["bias"] = biasGradient(dz, channels: outputChannels) }
        }
        return result
    }
}

extension DepthwiseConv2D {
    public func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int { 2 * positions(of: output) * depthwiseKernel.count }
}
