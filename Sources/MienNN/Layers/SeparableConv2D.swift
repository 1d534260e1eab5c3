/// Keras's `SeparableConv2D` (channels_last): a depthwise convolution (no bias of its own)
/// followed by a 1×1 pointwise convolution, then bias and activation.
public struct SeparableConv2D: Layer {
    public var name: String
    public var kerasClass: String { "SeparableConv2D" }
    public var trainable: Bool = true
    public var kernelSize: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: Padding
    public var activation: Activation
    /// `[kh, kw, inputChannels, depthMultiplier]`.
    public var depthwiseKernel: Tensor
    /// `[1, 1, inputChannels · depthMultiplier, filters]`.
    public var pointwiseKernel: Tensor
    public var bias: Tensor?

    public init(name: String, inputChannels: Int, filters: Int, kernelSize: (Int, Int),
                strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1), padding: Padding = .valid,
                depthMultiplier: Int = 1, useBias: Bool = true, activation: Activation = .linear) {
        self.name = name
        self.kernelSize = kernelSize
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.activation = activation
        depthwiseKernel = Tensor(zeros: [kernelSize.0, kernelSize.1, inputChannels, depthMultiplier])
        pointwiseKernel = Tensor(zeros: [1, 1, inputChannels * depthMultiplier, filters])
        bias = useBias ? Tensor(zeros: [filters]) : nil
    }

    public var inputChannels: Int { depthwiseKernel.shape[2] }
    public var depthMultiplier: Int { depthwiseKernel.shape[3] }
    public var filters: Int { pointwiseKernel.shape[3] }

    /// Keras's order: depthwise, pointwise, bias.
    public var parameters: [Parameter] {
        [Parameter("depthwise_kernel", depthwiseKernel), Parameter("pointwise_kernel", pointwiseKernel)]
            + (bias.map { [Parameter("bias", $0)] } ?? [])
    }

    public mutating func setParameter(_ name: String, to value: Tensor) throws {
        switch (name, bias) {
        case ("depthwise_kernel", _):
            depthwiseKernel = try checked(value, replacing: depthwiseKernel, as: name)
        case ("pointwise_kernel", _):
            pointwiseKernel = try checked(value, replacing: pointwiseKernel, as: name)
        case ("bias", let b?): bias = try checked(value, replacing: b, as: name)
        default: throw LayerError(layer: self.name, "SeparableConv2D has no weight named '\(name)'")
        }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try convolvedShape(inputShapes, inputChannels: inputChannels, outputChannels: filters,
                           kernelSize: kernelSize, strides: strides, dilation: dilation, padding: padding)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        let g = try geometry(of: x, kernel: kernelSize, strides: strides, dilation: dilation,
                             padding: padding, channels: inputChannels)
        let depthwise = depthwiseConvolve(x, kernel: depthwiseKernel, geometry: g)
        // A 1×1, stride-1, unpadded window: convolve turns it into one sgemm.
        guard let pointwise = WindowGeometry(input: depthwise.shape, kernel: (1, 1), strides: (1, 1),
                                             padding: .valid) else {
            throw LayerError(layer: name, "empty depthwise output \(depthwise.shape)")
        }
        return convolve(depthwise, kernel: pointwiseKernel, geometry: pointwise, bias: bias, activation: activation)
    }
}

// MARK: - Training

extension SeparableConv2D {
    public var canTrain: Bool { true }

    /// Tape: the input, the depthwise output, then what the activation's backward needs.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        let g = try geometry(of: x, kernel: kernelSize, strides: strides, dilation: dilation,
                             padding: padding, channels: inputChannels)
        let depthwise = depthwiseConvolve(x, kernel: depthwiseKernel, geometry: g)
        let z = convolve(depthwise, kernel: pointwiseKernel, geometry: try pointwiseGeometry(depthwise), bias: bias)
        let (y, keep) = activation.trainingOutput(z, lastAxis: filters)
        return TrainingForward(y, tape: Tape([x, depthwise] + keep))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let x = try tape.tensor(0, layer: name)
        let depthwise = try tape.tensor(1, layer: name)
        let g = try geometry(of: x, kernel: kernelSize, strides: strides, dilation: dilation,
                             padding: padding, channels: inputChannels)
        try requireGradient(outputGradient, shaped: [g.batch, g.outputHeight, g.outputWidth, filters])
        let dz = try activation.preActivationGradient(outputGradient, tape: tape, offset: 2, layer: name)
        let needDepthwise = weights || inputs.first == true
        let (dDepthwise, dPointwise) = convolutionBackward(dz, input: depthwise, kernel: pointwiseKernel,
                                                           geometry: try pointwiseGeometry(depthwise),
                                                           inputGradient: needDepthwise, kernelGradient: weights)
        var result = LayerGradients(inputs: [nil])
        if let dDepthwise {
            let (dx, dk) = depthwiseConvolutionBackward(dDepthwise, input: x, kernel: depthwiseKernel, geometry: g,
                                                        inputGradient: inputs.first ?? false, kernelGradient: weights)
            result.inputs = [dx]
            if weights { result.weights["depthwise_kernel"] = dk }
        }
        if weights {
            result.weights["pointwise_kernel"] = dPointwise
            if bias != nil { result.weights["bias"] = biasGradient(dz, channels: filters) }
        }
        return result
    }

    private func pointwiseGeometry(_ depthwise: Tensor) throws -> WindowGeometry {
        guard let g = WindowGeometry(input: depthwise.shape, kernel: (1, 1), strides: (1, 1), padding: .valid) else {
            throw LayerError(layer: name, "empty depthwise output \(depthwise.shape)")
        }
        return g
    }
}

extension SeparableConv2D {
    public func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int { 2 * positions(of: output) * (depthwiseKernel.count + pointwiseKernel.count) }
}
