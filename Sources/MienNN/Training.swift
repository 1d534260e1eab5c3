/// What one training-mode call keeps for its backward pass: the tensors it needs (an input,
/// an output, a dropout mask, batch statistics) and, for a model, its nodes' own tapes.
public struct Tape: Sendable {
    public var tensors: [Tensor]
    /// Shapes a layer needs without the values (Flatten: its input's shape).
    public var shapes: [[Int]]
    public var nodes: [Tape?]

    public init(_ tensors: [Tensor] = [], shapes: [[Int]] = [], nodes: [Tape?] = []) {
        self.tensors = tensors
        self.shapes = shapes
        self.nodes = nodes
    }

    /// Tensor `index`, or an error naming the layer when the tape is not the layer's own.
    public func tensor(_ index: Int, layer: String) throws -> Tensor {
        guard index < tensors.count else {
            throw LayerError(layer: layer, "backward: the tape holds \(tensors.count) tensors, not \(index + 1) (not this layer's tape)")
        }
        return tensors[index]
    }
}

/// The result of `Layer.forwardTraining`.
public struct TrainingForward: Sendable {
    public var output: Tensor
    public var tape: Tape
    /// New values of non-trainable weights by name (a model: by key path), applied after
    /// the step as Keras assigns them during the call: BatchNormalization's moving statistics.
    public var updates: [String: Tensor]

    public init(_ output: Tensor, tape: Tape = Tape(), updates: [String: Tensor] = [:]) {
        self.output = output
        self.tape = tape
        self.updates = updates
    }
}

/// The result of `Layer.backward`.
public struct LayerGradients: Sendable {
    /// One per input; nil where it was not asked for.
    public var inputs: [Tensor?]
    /// The gradient of each trainable weight by name (a model: by key path `layer/weight`).
    public var weights: [String: Tensor]

    public init(inputs: [Tensor?], weights: [String: Tensor] = [:]) {
        self.inputs = inputs
        self.weights = weights
    }
}

/// What a training-mode call needs besides its inputs: where its random numbers come from.
/// Every layer that draws (Dropout) gets its own stream, from the seed, the epoch, the batch
/// and the layer's key path, so a step is reproducible whatever ran before it (a resumed run
/// draws what the uninterrupted one drew).
public struct TrainingContext: Sendable {
    public var seed: UInt64
    public var epoch: Int
    public var batch: Int
    /// The key path of the model being called, inside the outermost one ("" at the top).
    public var path: String
    /// Inside a frozen model (`trainable = False`): its BatchNormalization layers run in
    /// inference mode, as Keras's do once `model.trainable = False` has reached every layer.
    public var frozen: Bool

    /// When the batch is split across cores: the rows of the whole batch this call has, and
    /// the whole batch's size. Random layers draw for the whole batch and keep their rows, so
    /// a split step draws what the whole one draws.
    public var rows: Range<Int>?
    public var batchSize = 0

    public init(seed: UInt64, epoch: Int = 0, batch: Int = 0, path: String = "", frozen: Bool = false) {
        self.seed = seed
        self.epoch = epoch
        self.batch = batch
        self.path = path
        self.frozen = frozen
    }

    /// The stream of `layer`'s random numbers in this step: Dropout's, or another use's
    /// (`.imageAugmentation`), so that no two kinds of layer share numbers.
    public func generator(for layer: String, stream: RandomStream = .dropout) -> SeededGenerator {
        let key = path.isEmpty ? layer : "\(path)/\(layer)"
        return SeededGenerator(seed: seed, stream, UInt64(epoch), UInt64(batch), TrainingContext.hash(key))
    }

    /// FNV-1a of the UTF-8 bytes: a stable number for a layer's key path.
    public static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return h
    }

    /// The context of a model nested in this one, under its layer name.
    public func nested(_ layer: String, trainable: Bool) -> TrainingContext {
        var context = self
        context.path = path.isEmpty ? layer : "\(path)/\(layer)"
        context.frozen = frozen || !trainable
        return context
    }
}

// MARK: - Helpers for layers

extension Tensor {
    /// `self += other`, element-wise (same shape).
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: \(shape) and \(other.shape) differ")
        broadcastApply(.add, into: &self, other)
    }
}

extension Layer {
    /// The training forward of a layer whose backward needs only its input's shape
    /// (Flatten, Reshape, ZeroPadding2D, Cropping2D): the inference output.
    func shapeKeepingForward(_ inputs: [Tensor]) throws -> TrainingForward {
        let x = try single(inputs)
        return TrainingForward(try forward([x]), tape: Tape(shapes: [x.shape]))
    }

    /// The training forward of a layer whose backward needs its input (ReLU, PReLU).
    func inputKeepingForward(_ inputs: [Tensor]) throws -> TrainingForward {
        let x = try single(inputs)
        return TrainingForward(try forward([x]), tape: Tape([x]))
    }

    /// The gradient of an output that is its one input reshaped: the output gradient in
    /// the input's shape.
    func reshapedBack(_ outputGradient: Tensor, tape: Tape) throws -> LayerGradients {
        guard let shape = tape.shapes.first, Tensor.count(of: shape) == outputGradient.count else {
            throw LayerError(layer: name, "backward: gradient \(outputGradient.shape) does not match the input (not this layer's tape)")
        }
        return LayerGradients(inputs: [outputGradient.reshaped(shape)])
    }

    /// Checks that the output gradient has the output's shape.
    func requireGradient(_ outputGradient: Tensor, shaped shape: [Int]) throws {
        guard outputGradient.shape == shape else {
            throw LayerError(layer: name, "backward: gradient of shape \(outputGradient.shape), expected \(shape)")
        }
    }
}

extension Activation {
    /// The training forward's activation of `z`: the output, and the tensors the backward
    /// needs (none when linear; the output; the pre-activation too when the derivative needs it).
    func trainingOutput(_ z: Tensor, lastAxis: Int) -> (output: Tensor, keep: [Tensor]) {
        if self == .linear { return (z, []) }
        var y = z
        apply(&y.scalars, lastAxis: lastAxis)
        return (y, backwardNeedsInput ? [y, z] : [y])
    }

    /// The gradient of the pre-activation from the output's, with what `trainingOutput`
    /// kept, stored in `tape` from `offset` on.
    func preActivationGradient(_ g: Tensor, tape: Tape, offset: Int, layer: String) throws -> Tensor {
        if self == .linear { return g }
        let y = try tape.tensor(offset, layer: layer)
        guard y.shape == g.shape else {
            throw LayerError(layer: layer, "backward: gradient of shape \(g.shape), expected \(y.shape)")
        }
        let z = backwardNeedsInput ? try tape.tensor(offset + 1, layer: layer) : nil
        return backward(input: z, output: y, outputGradient: g)
    }
}

/// A layer whose output is its one input in another shape (Flatten, Reshape): training runs
/// the inference forward and keeps the input's shape; the gradient is reshaped back.
public protocol ReshapingLayer: Layer {}

extension ReshapingLayer {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        try shapeKeepingForward(inputs)
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        try reshapedBack(outputGradient, tape: tape)
    }
}

/// A layer that is an element-wise affine map of its one input (Rescaling, Normalization):
/// the input's gradient is the output's times the map's slope.
public protocol ElementwiseAffineLayer: Layer {}

extension ElementwiseAffineLayer {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        try affineForward(inputs)
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        try affineBackward(outputGradient, tape: tape)
    }
}

/// A layer that applies one activation function to its one input (Activation, LeakyReLU, ELU).
public protocol ActivationFunctionLayer: Layer {
    var function: Activation { get }
}

extension ActivationFunctionLayer {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        let (y, keep) = function.trainingOutput(x, lastAxis: x.shape.last ?? 1)
        return TrainingForward(y, tape: Tape(keep))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        LayerGradients(inputs: [try function.preActivationGradient(outputGradient, tape: tape, offset: 0, layer: name)])
    }
}

extension Layer {
    /// The training forward of a layer that is an element-wise affine map of its one input
    /// (Rescaling, Normalization): the inference output; the tape holds the slope
    /// `f(1) − f(0)` at every element, which is the input's gradient factor.
    func affineForward(_ inputs: [Tensor]) throws -> TrainingForward {
        let x = try single(inputs)
        let y = try forward([x])
        var slope = try forward([Tensor(shape: x.shape, repeating: 1)])
        let zero = try forward([Tensor(zeros: x.shape)])
        slope.scalars.withUnsafeMutableBufferPointer { s in
            for i in 0..<s.count { s[i] -= zero.scalars[i] }
        }
        return TrainingForward(y, tape: Tape([slope]))
    }

    func affineBackward(_ outputGradient: Tensor, tape: Tape) throws -> LayerGradients {
        var g = outputGradient
        let slope = try tape.tensor(0, layer: name)
        try requireGradient(g, shaped: slope.shape)
        g.scalars.withUnsafeMutableBufferPointer { d in
            for i in 0..<d.count { d[i] *= slope.scalars[i] }
        }
        return LayerGradients(inputs: [g])
    }
}

/// A layer that applies an activation of its own last (Keras's `activation=` of Dense and
/// the convolutions, and the Activation layer): the inference rewrite fuses into it, and
/// training computes the loss from its pre-activation when the activation is the loss's.
public protocol ActivatedLayer: Layer {
    var activation: Activation { get set }
}

extension Dense: ActivatedLayer {}
extension Conv2D: ActivatedLayer {}
extension DepthwiseConv2D: ActivatedLayer {}
extension SeparableConv2D: ActivatedLayer {}
extension ActivationLayer: ActivatedLayer {}
