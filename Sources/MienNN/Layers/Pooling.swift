/// Keras's `MaxPooling2D` (channels_last). `same` padding never wins the max: padded cells
/// are ignored, not read as zero.
public struct MaxPooling2D: WindowPooling {
    public var name: String
    public var kerasClass: String { "MaxPooling2D" }
    public var trainable: Bool = true
    public var poolSize: (Int, Int)
    public var strides: (Int, Int)
    public var padding: Padding

    /// `strides` defaults to `poolSize`, as in Keras.
    public init(name: String, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                padding: Padding = .valid) {
        self.name = name
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
    }

    public static var averages: Bool { false }
}

/// Keras's `AveragePooling2D` (channels_last). With `same` padding the average is over the
/// real cells only (TensorFlow excludes padding from the count).
public struct AveragePooling2D: WindowPooling {
    public var name: String
    public var kerasClass: String { "AveragePooling2D" }
    public var trainable: Bool = true
    public var poolSize: (Int, Int)
    public var strides: (Int, Int)
    public var padding: Padding

    /// `strides` defaults to `poolSize`, as in Keras.
    public init(name: String, poolSize: (Int, Int) = (2, 2), strides: (Int, Int)? = nil,
                padding: Padding = .valid) {
        self.name = name
        self.poolSize = poolSize
        self.strides = strides ?? poolSize
        self.padding = padding
    }

    public static var averages: Bool { true }
}

/// Keras's `GlobalAveragePooling2D`: the mean over height and width, `[N, C]`, or
/// `[N, 1, 1, C]` with `keepdims`.
public struct GlobalAveragePooling2D: Layer {
    public var name: String
    public var kerasClass: String { "GlobalAveragePooling2D" }
    public var trainable: Bool = true
    public var keepDims: Bool

    public init(name: String, keepDims: Bool = false) {
        self.name = name
        self.keepDims = keepDims
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try globalPooledShape(inputShapes, keepDims: keepDims)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        try globalPooled(inputs, average: true, keepDims: keepDims)
    }
}

/// Keras's `GlobalMaxPooling2D`: the maximum over height and width, `[N, C]`, or
/// `[N, 1, 1, C]` with `keepdims`.
public struct GlobalMaxPooling2D: Layer {
    public var name: String
    public var kerasClass: String { "GlobalMaxPooling2D" }
    public var trainable: Bool = true
    public var keepDims: Bool

    public init(name: String, keepDims: Bool = false) {
        self.name = name
        self.keepDims = keepDims
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try globalPooledShape(inputShapes, keepDims: keepDims)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        try globalPooled(inputs, average: false, keepDims: keepDims)
    }
}

/// What MaxPooling2D and AveragePooling2D share: the window and its shape rule.
public protocol WindowPooling: Layer {
    var poolSize: (Int, Int) { get }
    var strides: (Int, Int) { get }
    var padding: Padding { get }
    /// Average (true) or maximum (false) over the window.
    static var averages: Bool { get }
}

extension WindowPooling {
    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireRank(shape, 4)
        return [shape[0],
                try windowOutput(shape[1], poolSize.0, strides.0, 1, padding),
                try windowOutput(shape[2], poolSize.1, strides.1, 1, padding),
                shape[3]]
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        let g = try geometry(of: x, kernel: poolSize, strides: strides, padding: padding, channels: nil)
        return pool(x, geometry: g, average: Self.averages)
    }
}

extension Layer {
    func globalPooledShape(_ inputShapes: [Shape], keepDims: Bool) throws -> Shape {
        let shape = try single(inputShapes)
        try requireRank(shape, 4)
        return keepDims ? [shape[0], 1, 1, shape[3]] : [shape[0], shape[3]]
    }

    func globalPooled(_ inputs: [Tensor], average: Bool, keepDims: Bool) throws -> Tensor {
        let x = try single(inputs)
        try requireRank(x.shape.map { $0 }, 4)
        var y = globalPool(x, average: average)
        if keepDims { y.reshape([x.shape[0], 1, 1, x.shape[3]]) }
        return y
    }
}

// MARK: - Training

extension WindowPooling {
    public var canTrain: Bool { true }

    /// Tape: the input (its shape only, for the average) and, for the maximum, the output.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        let y = try forward([x])
        return TrainingForward(y, tape: Self.averages ? Tape(shapes: [x.shape]) : Tape([x, y]))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let input = Self.averages ? nil : try tape.tensor(0, layer: name)
        guard let shape = input?.shape ?? tape.shapes.first, shape.count == 4 else {
            throw LayerError(layer: name, "backward: not this layer's tape")
        }
        guard let geometry = WindowGeometry(input: shape, kernel: poolSize, strides: strides, padding: padding) else {
            throw LayerError(layer: name, "backward: window \(poolSize) does not fit input \(shape)")
        }
        try requireGradient(outputGradient, shaped: [shape[0], geometry.outputHeight, geometry.outputWidth, shape[3]])
        let output = Self.averages ? nil : try tape.tensor(1, layer: name)
        return LayerGradients(inputs: [poolBackward(outputGradient, input: input, output: output,
                                                    geometry: geometry, average: Self.averages)])
    }
}

extension Layer {
    func globalPoolingForward(_ inputs: [Tensor], average: Bool, keepDims: Bool) throws -> TrainingForward {
        let x = try single(inputs)
        let y = try globalPooled([x], average: average, keepDims: keepDims)
        return TrainingForward(y, tape: Tape(average ? [] : [x, y], shapes: [x.shape]))
    }

    func globalPoolingBackward(_ outputGradient: Tensor, tape: Tape, average: Bool) throws -> LayerGradients {
        guard let shape = tape.shapes.first, shape.count == 4 else {
            throw LayerError(layer: name, "backward: not this layer's tape")
        }
        guard outputGradient.count == shape[0] * shape[3] else {
            throw LayerError(layer: name, "backward: gradient of shape \(outputGradient.shape) for input \(shape)")
        }
        let input = average ? nil : try tape.tensor(0, layer: name)
        let output = average ? nil : try tape.tensor(1, layer: name)
        return LayerGradients(inputs: [globalPoolBackward(outputGradient, inputShape: shape, input: input, output: output)])
    }
}

/// The global poolings' training: the average spreads the gradient over the pixels, the
/// maximum routes it to the first pixel holding the maximum.
public protocol GlobalPoolingLayer: Layer {
    var keepDims: Bool { get }
    /// Average (true) or maximum (false).
    static var averages: Bool { get }
}

extension GlobalPoolingLayer {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        try globalPoolingForward(inputs, average: Self.averages, keepDims: keepDims)
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        try globalPoolingBackward(outputGradient, tape: tape, average: Self.averages)
    }
}

extension GlobalAveragePooling2D: GlobalPoolingLayer {
    public static var averages: Bool { true }
}

extension GlobalMaxPooling2D: GlobalPoolingLayer {
    public static var averages: Bool { false }
}
