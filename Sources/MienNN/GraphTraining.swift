/// Training a model: forward in training mode keeping each call's tape, then backward in
/// reverse node order, summing the gradients of an output that several layers read (a
/// residual connection) and of a layer called more than once (shared weights).
extension Graph {
    public var canTrain: Bool { untrainableLayer == nil }

    /// A frozen model runs its BatchNormalization layers in inference mode.
    public var mixesSamples: Bool { trainable && layers.contains { $0.mixesSamples } }

    /// The first layer (nested models searched) without a backward pass, as
    /// `(key path, Keras class)`: what training refuses before it reads any data.
    public var untrainableLayer: (path: String, kerasClass: String)? {
        for node in nodes {
            let layer = layers[node.layer]
            if let nested = layer as? Graph {
                if let inner = nested.untrainableLayer { return ("\(nested.name)/\(inner.path)", inner.kerasClass) }
            } else if !layer.canTrain {
                return (layer.name, layer.kerasClass)
            }
        }
        return nil
    }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        var values = try boundInputs(inputs)
        var remaining = consumerCounts
        var tapes = [Tape?](repeating: nil, count: nodes.count)
        var updates: [String: Tensor] = [:]
        for (index, node) in nodes.enumerated() where values[index] == nil {
            var args: [Tensor] = []
            for i in node.inputs {
                guard let value = values[i] else { throw LayerError(layer: name, "node \(i) was not computed") }
                args.append(value)
                remaining[i] -= 1
                if remaining[i] == 0 { values[i] = nil }
            }
            let layer = layers[node.layer]
            let inner = layer is Graph ? context.nested(layer.name, trainable: layer.trainable) : context
            let result = try layer.forwardTraining(args, context: inner)
            values[index] = result.output
            tapes[index] = result.tape
            for (key, value) in result.updates { updates[Graph.path(layer: layer.name, key)] = value }
        }
        guard let output = values[outputNode] else { throw LayerError(layer: name, "output was not computed") }
        return TrainingForward(output, tape: Tape(nodes: tapes), updates: updates)
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs wanted: [Bool], weights: Bool) throws -> LayerGradients {
        guard tape.nodes.count == nodes.count, wanted.count == inputNodes.count else {
            throw LayerError(layer: name, "backward: the tape is not this model's")
        }
        // Which nodes' outputs need a gradient: those that lead back to a trainable weight
        // or to an input whose gradient is wanted.
        var upstream = [Bool](repeating: false, count: nodes.count)
        for (slot, index) in inputNodes.enumerated() { upstream[index] = wanted[slot] }
        let trainingWeights = weights && trainable
        for (index, node) in nodes.enumerated() where !inputNodes.contains(index) {
            let layer = layers[node.layer]
            let ownWeights = trainingWeights && layer.trainable && layer.parameters.contains { $0.trainable }
            upstream[index] = ownWeights || node.inputs.contains { upstream[$0] }
        }

        var gradients = [Tensor?](repeating: nil, count: nodes.count)
        gradients[outputNode] = outputGradient
        var weightGradients: [String: Tensor] = [:]
        for index in stride(from: nodes.count - 1, through: 0, by: -1) {
            guard !inputNodes.contains(index), upstream[index], let g = gradients[index] else { continue }
            gradients[index] = nil
            let node = nodes[index]
            let layer = layers[node.layer]
            guard let nodeTape = tape.nodes[index] else {
                throw LayerError(layer: layer.name, "backward: no tape for this call")
            }
            let result = try layer.backward(g, tape: nodeTape, inputs: node.inputs.map { upstream[$0] },
                                            weights: trainingWeights && layer.trainable)
            for (slot, input) in node.inputs.enumerated() where upstream[input] {
                guard slot < result.inputs.count, let dx = result.inputs[slot] else {
                    throw LayerError(layer: layer.name, "backward gave no gradient for input \(slot)")
                }
                if gradients[input] == nil { gradients[input] = dx } else { gradients[input]!.add(dx) }
            }
            for (key, value) in result.weights {
                let path = Graph.path(layer: layer.name, key)
                if weightGradients[path] == nil { weightGradients[path] = value } else { weightGradients[path]!.add(value) }
            }
        }
        return LayerGradients(inputs: inputNodes.enumerated().map { slot, index in wanted[slot] ? gradients[index] : nil },
                              weights: weightGradients)
    }
}
