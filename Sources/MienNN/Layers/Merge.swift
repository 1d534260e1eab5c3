/// Keras's element-wise merge layers `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`,
/// `Minimum`, as one layer with an op.
///
/// Inputs broadcast as in Keras 3: lower-rank inputs get unit axes inserted after the batch
/// (Keras's `expand_dims(x, 1)`), then numpy rules apply, so squeeze-and-excitation's
/// `[N,H,W,C] * [N,1,1,C]` and `[N,H,W,C] + [N,C]` work. The inputs are combined left to
/// right (`((a + b) + c)`), and `Average` divides the sum by the count, as Keras does.
public struct Merge: Layer {
    public enum Op: String, Sendable, CaseIterable {
        case add, subtract, multiply, average, maximum, minimum

        /// Keras's class name: `Add`, `Subtract`, ...
        public var kerasClass: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
    }

    public var name: String
    public var kerasClass: String { op.kerasClass }
    public var trainable: Bool = true
    public var op: Op

    public init(name: String, op: Op) {
        self.name = name
        self.op = op
    }

    private func checkCount(_ count: Int) throws {
        if op == .subtract {
            guard count == 2 else {
                throw LayerError(layer: name, "Subtract expects exactly 2 inputs, got \(count)")
            }
        } else {
            guard count >= 1 else {
                throw LayerError(layer: name, "\(kerasClass) expects at least 1 input, got \(count)")
            }
        }
    }

    /// Pads a shape to `rank` with unit axes after the batch.
    func expanded<T>(_ shape: [T], to rank: Int, unit: T) -> [T] {
        guard shape.count < rank, !shape.isEmpty else { return shape }
        return [shape[0]] + [T](repeating: unit, count: rank - shape.count) + shape.dropFirst()
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        try checkCount(inputShapes.count)
        let rank = inputShapes.map(\.count).max()!
        var result = expanded(inputShapes[0], to: rank, unit: 1)
        for shape in inputShapes.dropFirst() {
            guard let combined = broadcastShape(result, expanded(shape, to: rank, unit: 1)) else {
                throw LayerError(layer: name, "cannot broadcast input shapes \(inputShapes.map(\.kerasDescription).joined(separator: ", "))")
            }
            result = combined
        }
        return result
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        try checkCount(inputs.count)
        guard !inputs.contains(where: { $0.rank == 0 }) else {
            throw LayerError(layer: name, "expects batched inputs")
        }
        let rank = inputs.map(\.rank).max()!
        let shapes = inputs.map { expanded($0.shape, to: rank, unit: 1) }
        let outShape = try outputShape(for: shapes.map { $0.map { $0 } }).map { $0! }

        var y: Tensor
        if shapes[0] == outShape {
            y = inputs[0].reshaped(outShape)   // Shares storage until written.
        } else {
            y = Tensor(zeros: outShape)
            broadcastApply(.copy, into: &y, inputs[0].reshaped(shapes[0]))
        }
        let step: ElementwiseOp
        switch op {
        case .add, .average: step = .add
        case .subtract: step = .subtract
        case .multiply: step = .multiply
        case .maximum: step = .maximum
        case .minimum: step = .minimum
        }
        for (x, shape) in zip(inputs.dropFirst(), shapes.dropFirst()) {
            broadcastApply(step, into: &y, x.reshaped(shape))
        }
        if op == .average {
            let count = Float(inputs.count)
            y.scalars.withUnsafeMutableBufferPointer { b in
                for i in 0..<b.count { b[i] /= count }
            }
        }
        return y
    }
}

// MARK: - Training

extension Merge {
    public var canTrain: Bool { true }

    /// Tape: the inputs (multiply, maximum, minimum) and the output (maximum, minimum);
    /// the shapes alone for the sums.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let y = try forward(inputs)
        switch op {
        case .add, .subtract, .average: return TrainingForward(y, tape: Tape(shapes: inputs.map(\.shape)))
        case .multiply: return TrainingForward(y, tape: Tape(inputs, shapes: inputs.map(\.shape)))
        case .maximum, .minimum: return TrainingForward(y, tape: Tape(inputs + [y], shapes: inputs.map(\.shape)))
        }
    }

    /// Each input's gradient is the output's, through the op, summed over the axes the input
    /// was broadcast along. Maximum and minimum route it to the first input holding the
    /// result, as TensorFlow's gradients of `maximum(a, b)` (`a >= b`) applied left to right do.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let shapes = tape.shapes
        guard !shapes.isEmpty, inputs.count == shapes.count else {
            throw LayerError(layer: name, "backward: not this layer's tape")
        }
        let rank = shapes.map(\.count).max()!
        let expandedShapes = shapes.map { expanded($0, to: rank, unit: 1) }
        let outShape = outputGradient.shape
        guard outShape.count == rank,
              expandedShapes.allSatisfy({ zip($0, outShape).allSatisfy { $0 == $1 || $0 == 1 } }) else {
            throw LayerError(layer: name, "backward: gradient of shape \(outShape) does not fit the inputs \(shapes)")
        }
        func broadcast(_ t: Tensor, _ shape: [Int]) -> Tensor {
            var out = Tensor(zeros: outShape)
            broadcastApply(.copy, into: &out, t.reshaped(shape))
            return out
        }
        var chosen: [Tensor] = []   // maximum/minimum: where each input wins
        if op == .maximum || op == .minimum {
            let y = try tape.tensor(shapes.count, layer: name)
            var taken = [Bool](repeating: false, count: y.count)
            for k in shapes.indices {
                let x = broadcast(try tape.tensor(k, layer: name), expandedShapes[k])
                var mask = Tensor(zeros: outShape)
                for i in 0..<y.count where !taken[i] && x.scalars[i] == y.scalars[i] {
                    mask.scalars[i] = 1
                    taken[i] = true
                }
                chosen.append(mask)
            }
        }
        var result = LayerGradients(inputs: [])
        for k in shapes.indices {
            guard inputs[k] else { result.inputs.append(nil); continue }
            var g = outputGradient
            switch op {
            case .add: break
            case .subtract where k == 1:
                g.scalars.withUnsafeMutableBufferPointer { b in for i in 0..<b.count { b[i] = -b[i] } }
            case .subtract: break
            case .average:
                let n = Float(shapes.count)
                g.scalars.withUnsafeMutableBufferPointer { b in for i in 0..<b.count { b[i] /= n } }
            case .multiply:
                for j in shapes.indices where j != k {
                    broadcastApply(.multiply, into: &g, try tape.tensor(j, layer: name).reshaped(expandedShapes[j]))
                }
            case .maximum, .minimum:
                broadcastApply(.multiply, into: &g, chosen[k])
            }
            result.inputs.append(reduceBroadcast(g, to: expandedShapes[k]).reshaped(shapes[k]))
        }
        return result
    }
}

/// Keras's `Concatenate` along one axis (counted with the batch; negative from the end).
/// All other dimensions must match.
public struct Concatenate: Layer {
    public var name: String
    public var kerasClass: String { "Concatenate" }
    public var trainable: Bool = true
    public var axis: Int

    public init(name: String, axis: Int = -1) {
        self.name = name
        self.axis = axis
    }

    func resolvedAxis(rank: Int) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else {
            throw LayerError(layer: name, "axis \(axis) is out of range for rank-\(rank) inputs")
        }
        return a
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        guard let first = inputShapes.first else {
            throw LayerError(layer: name, "expects at least 1 input, got 0")
        }
        let a = try resolvedAxis(rank: first.count)
        var result = first
        for shape in inputShapes.dropFirst() {
            guard shape.count == first.count else {
                throw LayerError(layer: name, "inputs have different ranks: \(inputShapes.map(\.kerasDescription).joined(separator: ", "))")
            }
            for i in shape.indices where i != a {
                switch (result[i], shape[i]) {
                case let (x?, y?) where x != y:
                    throw LayerError(layer: name, "inputs differ off the concatenation axis: \(inputShapes.map(\.kerasDescription).joined(separator: ", "))")
                case (nil, let y): result[i] = y
                default: break
                }
            }
            result[a] = result[a].flatMap { x in shape[a].map { x + $0 } }
        }
        return result
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let outShape = try outputShape(for: inputs.map { $0.shape.map { $0 } }).map { $0! }
        if inputs.count == 1 { return inputs[0] }
        let a = try resolvedAxis(rank: outShape.count)
        // Each input contributes one contiguous chunk of `shape[a] · inner` per outer index.
        let outer = outShape[..<a].reduce(1, *)
        let inner = outShape[(a + 1)...].reduce(1, *)
        let outChunk = outShape[a] * inner
        var y = Tensor(zeros: outShape)
        y.scalars.withUnsafeMutableBufferPointer { dst in
            var offset = 0
            for x in inputs {
                let chunk = x.shape[a] * inner
                guard chunk > 0 else { continue }
                x.scalars.withUnsafeBufferPointer { src in
                    for o in 0..<outer {
                        (dst.baseAddress! + o * outChunk + offset).update(from: src.baseAddress! + o * chunk, count: chunk)
                    }
                }
                offset += chunk
            }
        }
        return y
    }
}

extension Concatenate {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        TrainingForward(try forward(inputs), tape: Tape(shapes: inputs.map(\.shape)))
    }

    /// Each input's gradient is its slice of the output's along the axis.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let shapes = tape.shapes
        guard !shapes.isEmpty, let rank = shapes.first?.count, rank == outputGradient.rank else {
            throw LayerError(layer: name, "backward: not this layer's tape")
        }
        let a = try resolvedAxis(rank: rank)
        let lengths = shapes.map { $0[a] }
        let total = lengths.reduce(0, +)
        guard outputGradient.shape[a] == total else {
            throw LayerError(layer: name, "backward: gradient of shape \(outputGradient.shape) for inputs \(shapes)")
        }
        let outer = outputGradient.shape[..<a].reduce(1, *)
        let inner = outputGradient.shape[(a + 1)...].reduce(1, *)
        var result: [Tensor?] = []
        var start = 0
        for (k, shape) in shapes.enumerated() {
            defer { start += lengths[k] }
            guard inputs[k] else { result.append(nil); continue }
            var slice = Tensor(zeros: shape)
            let run = lengths[k] * inner
            outputGradient.scalars.withUnsafeBufferPointer { g in
                slice.scalars.withUnsafeMutableBufferPointer { s in
                    for o in 0..<outer where run > 0 {
                        (s.baseAddress! + o * run).update(from: g.baseAddress! + (o * total + start) * inner, count: run)
                    }
                }
            }
            result.append(slice)
        }
        return LayerGradients(inputs: result)
    }
}
