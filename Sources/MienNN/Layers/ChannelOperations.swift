/// Indexing the last axis, as `preprocess_input`'s "caffe" mode does to turn RGB into BGR:
/// tf.keras saves `x[..., ::-1]` (a `SlicingOpLambda`), Keras 3 `x[..., 2]` (a `GetItem`
/// operation) three times and stacks the results. `output[..., j] = input[..., indices[j]]`;
/// with `dropsAxis` (one integer index, `x[..., 2]`) the last axis is removed.
public struct LastAxisGather: OperationLayer {
    public var name: String
    /// The class Keras saved it as (`GetItem`, `SlicingOpLambda`).
    public var kerasClass: String
    public var trainable: Bool = true
    public var indices: [Int]
    public var dropsAxis: Bool

    public init(name: String, kerasClass: String, indices: [Int], dropsAxis: Bool) throws {
        self.name = name
        self.kerasClass = kerasClass
        self.indices = indices
        self.dropsAxis = dropsAxis
        guard !indices.isEmpty, !dropsAxis || indices.count == 1 else {
            throw LayerError(layer: name, "a gather takes at least one index, one when it drops the axis")
        }
    }

    /// Whether Keras lists it in `model.layers`: tf.keras's slicing layer yes, Keras 3's
    /// operation no.
    public var isKerasLayer: Bool { kerasClass == "SlicingOpLambda" }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        guard shape.count >= 2, let length = shape.last! else {
            throw LayerError(layer: name, "needs a known last axis, got \(shape.kerasDescription)")
        }
        guard let bad = indices.first(where: { $0 < 0 || $0 >= length }) else {
            return dropsAxis ? Array(shape.dropLast()) : Array(shape.dropLast()) + [indices.count]
        }
        throw LayerError(layer: name, "index \(bad) is out of range for a last axis of \(length)")
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        let outShape = try outputShape(for: [x.shape.map { $0 }]).map { $0! }
        let c = x.shape.last!, k = indices.count
        var y = Tensor(zeros: outShape)
        x.scalars.withUnsafeBufferPointer { src in
            y.scalars.withUnsafeMutableBufferPointer { dst in
                for row in 0..<(x.count / c) {
                    for (j, i) in indices.enumerated() { dst[row * k + j] = src[row * c + i] }
                }
            }
        }
        return y
    }
}

extension LastAxisGather {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        TrainingForward(try forward(inputs), tape: Tape(shapes: inputs.map(\.shape)))
    }

    /// The output's gradient added back at the indices it was gathered from.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        guard let shape = tape.shapes.first, let c = shape.last else {
            throw LayerError(layer: name, "backward: not this layer's tape")
        }
        guard inputs.first == true else { return LayerGradients(inputs: [nil]) }
        var dx = Tensor(zeros: shape)
        let k = indices.count
        guard outputGradient.count == dx.count / c * k else {
            throw LayerError(layer: name, "backward: gradient of shape \(outputGradient.shape) for input \(shape)")
        }
        outputGradient.scalars.withUnsafeBufferPointer { g in
            dx.scalars.withUnsafeMutableBufferPointer { d in
                for row in 0..<(d.count / c) {
                    for (j, i) in indices.enumerated() { d[row * c + i] += g[row * k + j] }
                }
            }
        }
        return LayerGradients(inputs: [dx])
    }
}

/// Keras 3's `keras.ops.stack(tensors, axis=-1)`: tensors of one shape along a new last axis.
public struct StackLastAxis: OperationLayer {
    public var name: String
    public var kerasClass: String { "Stack" }
    public var trainable: Bool = true

    public init(name: String) { self.name = name }

    /// Keras 3's operation, which `model.layers` leaves out.
    public var isKerasLayer: Bool { false }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        guard let first = inputShapes.first else { throw LayerError(layer: name, "expects at least 1 input, got 0") }
        var result = first
        for shape in inputShapes.dropFirst() {
            guard shape.count == first.count else {
                throw LayerError(layer: name, "inputs have different shapes: \(inputShapes.map(\.kerasDescription).joined(separator: ", "))")
            }
            for i in shape.indices {
                switch (result[i], shape[i]) {
                case let (a?, b?) where a != b:
                    throw LayerError(layer: name, "inputs have different shapes: \(inputShapes.map(\.kerasDescription).joined(separator: ", "))")
                case (nil, let b): result[i] = b
                default: break
                }
            }
        }
        return result + [inputShapes.count]
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let outShape = try outputShape(for: inputs.map { $0.shape.map { $0 } }).map { $0! }
        let k = inputs.count
        var y = Tensor(zeros: outShape)
        y.scalars.withUnsafeMutableBufferPointer { dst in
            for (j, x) in inputs.enumerated() {
                x.scalars.withUnsafeBufferPointer { src in
                    for i in 0..<src.count { dst[i * k + j] = src[i] }
                }
            }
        }
        return y
    }
}

extension StackLastAxis {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        TrainingForward(try forward(inputs), tape: Tape(shapes: inputs.map(\.shape)))
    }

    /// Each input's gradient is its slot of the new axis.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let shapes = tape.shapes
        let k = shapes.count
        guard k > 0, inputs.count == k, outputGradient.shape == shapes[0] + [k] else {
            throw LayerError(layer: name, "backward: gradient of shape \(outputGradient.shape) for inputs \(shapes)")
        }
        let gradients = (0..<k).map { j -> Tensor? in
            guard inputs[j] else { return nil }
            var dx = Tensor(zeros: shapes[j])
            outputGradient.scalars.withUnsafeBufferPointer { g in
                dx.scalars.withUnsafeMutableBufferPointer { d in
                    for i in 0..<d.count { d[i] = g[i * k + j] }
                }
            }
            return dx
        }
        return LayerGradients(inputs: gradients)
    }
}
