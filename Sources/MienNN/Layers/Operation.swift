/// Tensor arithmetic written in a Keras model as an expression rather than a layer:
/// Keras 3 saves `x / 127.5 - 1.0`, `3.0 + x` or `keras.ops.maximum(x, c)` as operation
/// layers (`TrueDivide`, `Subtract`, `Add`, `Maximum` from `keras.src.ops`), tf.keras as
/// `TFOpLambda` layers (`tf.math.truediv`, `tf.__operators__.add`). Each is one binary
/// element-wise operation on two operands, each either an input tensor or a constant, in
/// the order they were written (`2.0 - x` is not `x - 2.0`), or an activation function
/// called on one tensor (`keras.ops.relu6(x)`, `tf.nn.relu6(x)`).
///
/// Operands broadcast by numpy's rules (aligned at the last axis), as TensorFlow's and
/// Keras's operations do: unlike the merge layers, a `[C]` constant applies per channel.
/// A layer that Keras saved from an expression on tensors (an operation) rather than from a
/// layer object: Keras 3 leaves its operations out of `model.layers`, tf.keras lists its
/// `TFOpLambda`/`SlicingOpLambda` layers there.
public protocol OperationLayer: Layer {
    var isKerasLayer: Bool { get }
}

public struct Operation: OperationLayer {
    public enum Op: Sendable, Equatable {
        case add, subtract, multiply, divide, maximum, minimum
        /// An activation function of the single operand.
        case activation(Activation)
    }

    /// An operand: the layer's input number `index`, or a constant.
    public enum Operand: Sendable {
        case input(Int)
        case constant(Tensor)
    }

    public var name: String
    public var op: Op
    public var operands: [Operand]
    /// The class Keras saved it as (`TrueDivide`, `TFOpLambda`, ...), for summaries.
    public var kerasClass: String
    /// Whether Keras lists it in `model.layers` (and `summary()`): tf.keras's TFOpLambda
    /// layers yes, Keras 3's operations no.
    public var isKerasLayer: Bool { kerasClass == "TFOpLambda" }
    public var trainable: Bool = true

    public init(name: String, op: Op, operands: [Operand], kerasClass: String) throws {
        self.name = name
        self.op = op
        self.operands = operands
        self.kerasClass = kerasClass
        let arity = if case .activation = op { 1 } else { 2 }
        guard operands.count == arity else {
            throw LayerError(layer: name, "the operation takes \(arity) operand(s), got \(operands.count)")
        }
        let indices = operands.compactMap { if case .input(let i) = $0 { i } else { nil } }
        guard !indices.isEmpty, indices.sorted() == Array(0..<indices.count) else {
            throw LayerError(layer: name, "the operands must use the inputs 0..<n once each, got \(indices)")
        }
    }

    /// How many input tensors the layer takes.
    public var inputCount: Int {
        operands.reduce(0) { count, operand in if case .input = operand { count + 1 } else { count } }
    }

    private func checkCount(_ count: Int) throws {
        guard count == inputCount else {
            throw LayerError(layer: name, "\(kerasClass) expects \(inputCount) input(s), got \(count)")
        }
    }

    /// The operands' shapes, constants' included.
    private func operandShapes(_ inputShapes: [Shape]) -> [Shape] {
        operands.map { operand in
            switch operand {
            case .input(let i): inputShapes[i]
            case .constant(let c): c.shape.map { $0 }
            }
        }
    }

    /// Pads a shape with leading unit axes to `rank` (numpy's alignment at the last axis).
    static func aligned<T>(_ shape: [T], to rank: Int, unit: T) -> [T] {
        [T](repeating: unit, count: max(0, rank - shape.count)) + shape
    }

    /// The activation function as a layer, which computes it and its gradient.
    private func activationLayer() -> ActivationLayer? {
        if case .activation(let f) = op { ActivationLayer(name: name, activation: f) } else { nil }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try checkCount(inputShapes.count)
        if activationLayer() != nil { return inputShapes[0] }
        let shapes = operandShapes(inputShapes)
        let rank = shapes.map(\.count).max()!
        guard let result = broadcastShape(Operation.aligned(shapes[0], to: rank, unit: 1),
                                          Operation.aligned(shapes[1], to: rank, unit: 1)) else {
            throw LayerError(layer: name, "cannot broadcast operand shapes \(shapes.map(\.kerasDescription).joined(separator: ", "))")
        }
        return result
    }

    private func values(_ inputs: [Tensor]) -> [Tensor] {
        operands.map { operand in
            switch operand {
            case .input(let i): inputs[i]
            case .constant(let c): c
            }
        }
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        try checkCount(inputs.count)
        if let f = activationLayer() { return try f.forward(inputs) }
        let (a, b) = { (v: [Tensor]) in (v[0], v[1]) }(values(inputs))
        let outShape = try outputShape(for: inputs.map { $0.shape.map { $0 } }).map { $0! }
        let rank = outShape.count
        var y: Tensor
        if a.shape == outShape {
            y = a   // Shares storage until written.
        } else {
            y = Tensor(zeros: outShape)
            broadcastApply(.copy, into: &y, a.reshaped(Operation.aligned(a.shape, to: rank, unit: 1)))
        }
        let step: ElementwiseOp
        switch op {
        case .add: step = .add
        case .subtract: step = .subtract
        case .multiply: step = .multiply
        case .divide: step = .divide
        case .maximum: step = .maximum
        case .minimum: step = .minimum
        case .activation: preconditionFailure("handled above")
        }
        broadcastApply(step, into: &y, b.reshaped(Operation.aligned(b.shape, to: rank, unit: 1)))
        return y
    }
}

// MARK: - Training

extension Operation {
    public var canTrain: Bool { true }

    /// Tape: both operands (constants included) and the output (divide, maximum, minimum).
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        if let f = activationLayer() { return try f.forwardTraining(inputs, context: context) }
        let y = try forward(inputs)
        return TrainingForward(y, tape: Tape(values(inputs) + [y]))
    }

    /// TensorFlow's gradients of the binary operations, each summed over the axes its operand
    /// was broadcast along. Maximum routes the gradient to `a` where `a >= b`, minimum where
    /// `a <= b`, as TensorFlow's `_MaximumGrad`/`_MinimumGrad` do.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard inputs.count == inputCount else {
            throw LayerError(layer: name, "backward: \(inputs.count) input flags for \(inputCount) inputs")
        }
        if let f = activationLayer() {
            return try f.backward(outputGradient, tape: tape, inputs: inputs, weights: weights)
        }
        let a = try tape.tensor(0, layer: name), b = try tape.tensor(1, layer: name)
        let y = try tape.tensor(2, layer: name)
        let outShape = outputGradient.shape
        guard y.shape == outShape else {
            throw LayerError(layer: name, "backward: gradient of shape \(outShape) for an output of shape \(y.shape)")
        }
        let rank = outShape.count
        func full(_ t: Tensor) -> Tensor {
            var out = Tensor(zeros: outShape)
            broadcastApply(.copy, into: &out, t.reshaped(Operation.aligned(t.shape, to: rank, unit: 1)))
            return out
        }
        // Maximum and minimum: where the gradient goes to `a`, decided once for both operands.
        var aWins: [Bool] = []
        if op == .maximum || op == .minimum {
            let fa = full(a), fb = full(b)
            aWins = op == .maximum ? zip(fa.scalars, fb.scalars).map { $0 >= $1 } : zip(fa.scalars, fb.scalars).map { $0 <= $1 }
        }
        /// The gradient of operand `k` (0: a, 1: b) at the output's shape.
        func gradient(_ k: Int) -> Tensor {
            var g = outputGradient
            switch (op, k) {
            case (.add, _), (.subtract, 0): break
            case (.subtract, _):
                g.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = -p[i] } }
            case (.multiply, _):
                broadcastApply(.multiply, into: &g, (k == 0 ? b : a).reshaped(Operation.aligned((k == 0 ? b : a).shape, to: rank, unit: 1)))
            case (.divide, 0):
                broadcastApply(.divide, into: &g, b.reshaped(Operation.aligned(b.shape, to: rank, unit: 1)))
            case (.divide, _):
                // d(a/b)/db = -(a/b)/b = -y/b.
                broadcastApply(.multiply, into: &g, y)
                broadcastApply(.divide, into: &g, b.reshaped(Operation.aligned(b.shape, to: rank, unit: 1)))
                g.scalars.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = -p[i] } }
            case (.activation, _): preconditionFailure("handled above")
            case (.maximum, _), (.minimum, _):
                g.scalars.withUnsafeMutableBufferPointer { p in
                    for i in 0..<p.count where aWins[i] != (k == 0) { p[i] = 0 }
                }
            }
            return g
        }
        var result = LayerGradients(inputs: [Tensor?](repeating: nil, count: inputCount))
        for (k, operand) in operands.enumerated() {
            guard case .input(let index) = operand, inputs[index] else { continue }
            let shape = k == 0 ? a.shape : b.shape
            result.inputs[index] = reduceBroadcast(gradient(k), to: Operation.aligned(shape, to: rank, unit: 1))
                .reshaped(shape)
        }
        return result
    }
}
