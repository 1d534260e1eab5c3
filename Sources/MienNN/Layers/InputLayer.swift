/// Keras's `InputLayer`: where a graph's input enters. Identity at run time.
public struct InputLayer: Layer {
    public var name: String
    public var kerasClass: String { "InputLayer" }
    public var trainable: Bool = false
    /// The input shape with the batch dimension first (`nil` where Keras has `None`).
    public var shape: Shape

    public init(name: String, shape: Shape) {
        self.name = name
        self.shape = shape
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { shape }

    public func forward(_ inputs: [Tensor]) throws -> Tensor { try single(inputs) }
}

extension InputLayer: OneChannelTaking {
    public func takingOneChannel(of replicas: Int) -> OneChannelForm? {
        guard shape.count >= 2, shape.last! == nil || shape.last! == replicas else { return nil }
        var one = self
        one.shape[one.shape.count - 1] = 1
        return .passes(one)
    }
}

extension InputLayer {
    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        TrainingForward(try single(inputs))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        LayerGradients(inputs: [outputGradient])
    }
}
