/// A named weight of a layer, as Keras stores it.
public struct Parameter: Sendable {
    /// Keras's weight name without the layer prefix: `kernel`, `bias`, `moving_mean`, ...
    /// Inside a nested model it is a key path: `block1a_dwconv/depthwise_kernel`.
    public var name: String
    public var value: Tensor
    /// Whether the optimizer may change it (BatchNormalization's moving statistics never).
    public var trainable: Bool

    public init(_ name: String, _ value: Tensor, trainable: Bool = true) {
        self.name = name
        self.value = value
        self.trainable = trainable
    }
}

/// An error raised by a layer; it always names the layer.
public struct LayerError: Error, CustomStringConvertible, Equatable {
    public var layer: String
    public var message: String

    public init(layer: String, _ message: String) {
        self.layer = layer
        self.message = message
    }

    public var description: String { "layer '\(layer)': \(message)" }
}

/// A layer: its parameters and a forward function, in the spirit of Keras's layer classes.
///
/// Layers are built with their input shape known (as Keras's `build`), so their
/// parameters have their final shapes from the start and loading can check them.
public protocol Layer: Sendable {
    /// The Keras layer name, unique within its model.
    var name: String { get set }
    /// The Keras class name, e.g. `Conv2D`, used for summaries.
    var kerasClass: String { get }
    /// Keras's `layer.trainable`. A frozen BatchNormalization runs in inference mode.
    var trainable: Bool { get set }
    /// The weights in Keras's own order for this layer.
    var parameters: [Parameter] { get }
    /// Replaces one weight by name; throws if the name is unknown or the shape differs.
    mutating func setParameter(_ name: String, to value: Tensor) throws
    /// The output shape for the given input shapes (batch dimension first, `nil` if unknown).
    func outputShape(for inputShapes: [Shape]) throws -> Shape
    /// Runs the layer in inference mode on a batch.
    func forward(_ inputs: [Tensor]) throws -> Tensor
    /// Whether a call with Keras's `training=True` computes something else than inference
    /// (Dropout, a trainable BatchNormalization): the importer refuses a model saved with such
    /// a call rather than run it in inference mode and give other numbers than Keras.
    var usesTrainingFlag: Bool { get }
    /// Whether inference passes the single input through unchanged (Dropout, GaussianNoise):
    /// `optimizedForInference` drops such layers.
    var isIdentityAtInference: Bool { get }

    // Training (see Training.swift): every layer that has a backward pass implements these
    // three; the defaults refuse, naming the layer and its class.

    /// Floating-point operations per image for inputs of these shapes: 2 per multiply-add of
    /// a convolution or a product with weights, 0 for the rest (see FLOPs.swift).
    func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int

    /// Whether the layer has a training forward and a backward pass.
    var canTrain: Bool { get }
    /// Whether a training-mode call's output for one sample depends on the batch's other
    /// samples (BatchNormalization with batch statistics): then a batch cannot be split
    /// across cores.
    var mixesSamples: Bool { get }
    /// Runs the layer in training mode (Keras's `training=True`): the output, what `backward`
    /// needs, and new values for non-trainable weights (BatchNormalization's moving statistics).
    func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward
    /// The gradients of one `forwardTraining` call, given the gradient of its output: of the
    /// inputs asked for in `inputs` (one flag per input) and, with `weights`, of every
    /// trainable weight by name.
    func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients
}

public extension Layer {
    var parameters: [Parameter] { [] }

    var usesTrainingFlag: Bool { false }

    var isIdentityAtInference: Bool { false }

    func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int { 0 }

    var canTrain: Bool { false }

    var mixesSamples: Bool { false }

    func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        throw LayerError(layer: name, "\(kerasClass) cannot be trained: Mien has no backward pass for it")
    }

    func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        throw LayerError(layer: name, "\(kerasClass) cannot be trained: Mien has no backward pass for it")
    }

    mutating func setParameter(_ name: String, to value: Tensor) throws {
        throw LayerError(layer: self.name, "\(kerasClass) has no weight named '\(name)'")
    }

    /// Keras's `count_params()`.
    var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Checks that `value` has the shape of `current` and returns it; the one shape check
    /// every weight assignment goes through.
    func checked(_ value: Tensor, replacing current: Tensor, as weightName: String) throws -> Tensor {
        guard value.shape == current.shape else {
            throw LayerError(layer: name,
                             "weight '\(weightName)' has shape \(value.shape), expected \(current.shape)")
        }
        return value
    }

    /// The single input of a one-input layer.
    func single(_ inputs: [Tensor]) throws -> Tensor {
        guard inputs.count == 1 else {
            throw LayerError(layer: name, "expects 1 input, got \(inputs.count)")
        }
        return inputs[0]
    }

    /// The single input shape of a one-input layer.
    func single(_ shapes: [Shape]) throws -> Shape {
        guard shapes.count == 1 else {
            throw LayerError(layer: name, "expects 1 input, got \(shapes.count)")
        }
        return shapes[0]
    }

    /// Checks an input's rank (batch included).
    func requireRank(_ shape: Shape, _ rank: Int) throws {
        guard shape.count == rank else {
            throw LayerError(layer: name, "expects a rank-\(rank) input, got \(shape.kerasDescription)")
        }
    }
}

/// A layer whose weights are Keras's `kernel` and an optional `bias` (Dense, Conv2D), in that
/// order: their one list of parameters and their one shape-checked assignment.
public protocol KernelAndBiasLayer: Layer {
    var kernel: Tensor { get set }
    var bias: Tensor? { get set }
}

public extension KernelAndBiasLayer {
    var parameters: [Parameter] {
        [Parameter("kernel", kernel)] + (bias.map { [Parameter("bias", $0)] } ?? [])
    }

    mutating func setParameter(_ name: String, to value: Tensor) throws {
        switch (name, bias) {
        case ("kernel", _): kernel = try checked(value, replacing: kernel, as: name)
        case ("bias", let b?): bias = try checked(value, replacing: b, as: name)
        default: throw LayerError(layer: self.name, "\(kerasClass) has no weight named '\(name)'")
        }
    }
}
