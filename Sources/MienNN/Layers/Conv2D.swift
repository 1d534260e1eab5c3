/// Keras's `Conv2D` (channels_last, `groups` = 1): HWIO kernel, optional bias and activation.
public struct Conv2D: KernelAndBiasLayer, InputPaddedLayer {
    public var name: String
    public var kerasClass: String { "Conv2D" }
    public var trainable: Bool = true
    public var kernelSize: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: Padding
    public var activation: Activation
    /// `[kh, kw, inputChannels, filters]`.
    public var kernel: Tensor
    public var bias: Tensor?
    public var inputPadding: ((Int, Int), (Int, Int)) = ((0, 0), (0, 0))

    public init(name: String, inputChannels: Int, filters: Int, kernelSize: (Int, Int),
                strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1), padding: Padding = .valid,
                useBias: Bool = true, activation: Activation = .linear) {
        self.name = name
        self.kernelSize = kernelSize
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.activation = activation
        kernel = Tensor(zeros: [kernelSize.0, kernelSize.1, inputChannels, filters])
        bias = useBias ? Tensor(zeros: [filters]) : nil
    }

    public var filters: Int { kernel.shape[3] }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try convolvedShape(paddedShapes(inputShapes), inputChannels: kernel.shape[2], outputChannels: filters,
                           kernelSize: kernelSize, strides: strides, dilation: dilation, padding: padding)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        return convolve(x, kernel: kernel, geometry: try geometry(of: x), bias: bias, activation: activation)
    }

    /// Its window over the NHWC input `x` (with the folded input zeros), checked.
    func geometry(of x: Tensor) throws -> WindowGeometry {
        try geometry(of: x, kernel: kernelSize, strides: strides, dilation: dilation, padding: padding,
                     inputPadding: inputPadding, channels: kernel.shape[2])
    }
}

extension Conv2D: OneChannelTaking {
    /// Copies of one channel meet the same taps: the kernel summed over its input channels
    /// takes the one channel (a stem on a gray face replicated to RGB: a third of the work).
    public func takingOneChannel(of replicas: Int) -> OneChannelForm? {
        let (kh, kw, c, f) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
        guard c == replicas else { return nil }
        var summed = [Float](repeating: 0, count: kh * kw * f)
        for tap in 0..<(kh * kw) {
            for channel in 0..<c {
                for filter in 0..<f { summed[tap * f + filter] += kernel.scalars[(tap * c + channel) * f + filter] }
            }
        }
        var one = self
        one.kernel = Tensor(shape: [kh, kw, 1, f], scalars: summed)
        return .ends(one)
    }
}

/// A window layer that can take the zeros of a ZeroPadding2D before it as its own
/// (`optimizedForInference(forRunning: true)`), which saves writing and reading a padded
/// copy of its input. Not a Keras option: export refuses a layer that has them.
public protocol InputPaddedLayer: Layer {
    var padding: Padding { get }
    /// Zeros around the input before the window, `((top, bottom), (left, right))`.
    var inputPadding: ((Int, Int), (Int, Int)) { get set }
}

extension InputPaddedLayer {
    public var hasInputPadding: Bool { inputPadding.0 != (0, 0) || inputPadding.1 != (0, 0) }

    /// The input shapes after the folded-in zeros.
    func paddedShapes(_ inputShapes: [Shape]) throws -> [Shape] {
        hasInputPadding ? [try ZeroPadding2D(name: name, padding: inputPadding).outputShape(for: inputShapes)]
                        : inputShapes
    }
}

extension Layer {
    /// The output shape of a convolution window over a rank-4 input with `inputChannels`.
    func convolvedShape(_ inputShapes: [Shape], inputChannels: Int, outputChannels: Int, kernelSize: (Int, Int),
                        strides: (Int, Int), dilation: (Int, Int), padding: Padding) throws -> Shape {
        let shape = try single(inputShapes)
        try requireRank(shape, 4)
        guard shape[3] == inputChannels else {
            throw LayerError(layer: name, "expects \(inputChannels) input channels, got \(shape.kerasDescription)")
        }
        return [shape[0],
                try windowOutput(shape[1], kernelSize.0, strides.0, dilation.0, padding),
                try windowOutput(shape[2], kernelSize.1, strides.1, dilation.1, padding),
                outputChannels]
    }

    /// One spatial output length for a window op, or an error naming the layer.
    func windowOutput(_ input: Int?, _ kernel: Int, _ stride: Int, _ dilation: Int,
                      _ padding: Padding) throws -> Int? {
        guard let input else { return nil }
        guard let axis = resolvePadding(padding, input: input, kernel: kernel, stride: stride,
                                        dilation: dilation) else {
            throw LayerError(layer: name, "window \(kernel) (dilation \(dilation)) does not fit input size \(input) with 'valid' padding")
        }
        return axis.output
    }

    /// The window geometry of a rank-4 NHWC input, checked against the expected channels.
    func geometry(of x: Tensor, kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int) = (1, 1),
                  padding: Padding, inputPadding: ((Int, Int), (Int, Int)) = ((0, 0), (0, 0)),
                  channels: Int?) throws -> WindowGeometry {
        guard x.rank == 4, channels == nil || x.shape[3] == channels else {
            throw LayerError(layer: name, "got input of shape \(x.shape), expected [batch, height, width, \(channels.map(String.init) ?? "channels")]")
        }
        guard let g = WindowGeometry(input: x.shape, kernel: kernel, strides: strides, dilation: dilation,
                                     padding: padding, inputPadding: inputPadding) else {
            throw LayerError(layer: name, "window \(kernel) does not fit input \(x.shape) with 'valid' padding")
        }
        return g
    }
}

// MARK: - Training

extension Conv2D {
    public var canTrain: Bool { true }

    /// Tape: the input, then what the activation's backward needs.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        let g = try geometry(of: x)
        let z = convolve(x, kernel: kernel, geometry: g, bias: bias)
        let (y, keep) = activation.trainingOutput(z, lastAxis: filters)
        return TrainingForward(y, tape: Tape([x] + keep))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let x = try tape.tensor(0, layer: name)
        let g = try geometry(of: x)
        try requireGradient(outputGradient, shaped: [g.batch, g.outputHeight, g.outputWidth, filters])
        let dz = try activation.preActivationGradient(outputGradient, tape: tape, offset: 1, layer: name)
        let (dx, dk) = convolutionBackward(dz, input: x, kernel: kernel, geometry: g,
                                           inputGradient: inputs.first ?? false, kernelGradient: weights)
        var result = LayerGradients(inputs: [dx])
        if weights {
            result.weights["kernel"] = dk
            if bias != nil { result.weights["bias"] = biasGradient(dz, channels: filters) }
        }
        return result
    }
}

extension Conv2D {
    public func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int { 2 * positions(of: output) * kernel.count }
}
