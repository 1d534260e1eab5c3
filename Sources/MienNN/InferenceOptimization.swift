/// Rewrites a graph for inference: the same function with fewer passes over memory.
extension Graph {
    /// A copy with every BatchNormalization folded into the convolution or dense layer that
    /// feeds it (when nothing else reads that layer's output and it has no activation), each
    /// Activation layer fused into such a layer before it the same way, and
    /// the layers that are the identity at inference (Dropout, GaussianNoise, ...) removed,
    /// recursively in nested models. Outputs equal the original's up to float rounding.
    ///
    /// With `forRunning`, it also makes rewrites that Keras cannot express, so a graph
    /// meant for export must not use it and one meant to run should: a ZeroPadding2D that
    /// feeds only a `valid` Conv2D or DepthwiseConv2D becomes that layer's `inputPadding` (no
    /// padded copy of the input), each inverted-residual block becomes one
    /// `InvertedResidualBlock` (its expanded activation never written to memory), the other
    /// convolutions and the dense layers become `PackedConv2D` and `PackedDense` (weights
    /// packed once; `PackableForInference`), and a layer that replicates one channel no
    /// longer does when its reader can take the one channel (`ChannelReplicating`,
    /// `OneChannelTaking`).
    public func optimizedForInference(forRunning: Bool = false) throws -> Graph {
        try (forRunning ? takingReplicatedChannelsOnce() : self).optimized(forRunning: forRunning)
    }

    private func optimized(forRunning: Bool) throws -> Graph {
        var layers = self.layers
        for i in layers.indices {
            if let nested = layers[i] as? Graph {
                layers[i] = try nested.optimizedForInference(forRunning: forRunning)
            }
        }
        let consumers = consumerCounts
        let callsPerLayer = self.callsPerLayer

        // `replacement[n]` is the node whose output stands for node n's.
        var replacement = Array(nodes.indices)
        // Whether changing `source`'s output changes only what reaches `start`'s one reader:
        // every node from `start` back to `source` (the nodes it stands for, through their
        // first inputs) has a single reader. conv → Dropout → BN with the Dropout's output
        // also read by an Add must not fold the BN into the convolution.
        func soleReader(from start: Int, to source: Int) -> Bool {
            var n = start
            while true {
                guard consumers[n] == 1 else { return false }
                if n == source { return true }
                guard let next = nodes[n].inputs.first, next < n else { return false }
                n = next
            }
        }
        for (index, node) in nodes.enumerated() where !inputNodes.contains(index) {
            let layer = layers[node.layer]
            if layer.isIdentityAtInference, node.inputs.count == 1 {
                replacement[index] = replacement[node.inputs[0]]
            } else if forRunning, var conv = layer as? any InputPaddedLayer, node.inputs.count == 1,
                      conv.padding == .valid, !conv.hasInputPadding, callsPerLayer[node.layer] == 1 {
                let source = replacement[node.inputs[0]]
                guard !inputNodes.contains(source), consumers[node.inputs[0]] == 1, consumers[source] == 1,
                      let pad = layers[nodes[source].layer] as? ZeroPadding2D, nodes[source].inputs.count == 1,
                      callsPerLayer[nodes[source].layer] == 1 else { continue }
                conv.inputPadding = pad.padding
                layers[node.layer] = conv
                // The padding node now stands for its own input: only this layer read it.
                replacement[source] = replacement[nodes[source].inputs[0]]
            } else if let bn = layer as? BatchNormalization, node.inputs.count == 1 {
                let source = replacement[node.inputs[0]]
                let sourceLayer = nodes[source].layer
                guard soleReader(from: node.inputs[0], to: source), callsPerLayer[sourceLayer] == 1,
                      !inputNodes.contains(source),
                      let folded = Graph.fold(bn, into: layers[sourceLayer]) else { continue }
                layers[sourceLayer] = folded
                replacement[index] = source
            } else if let activation = layer as? ActivationLayer, node.inputs.count == 1 {
                // The activation runs in the convolution's own epilogue instead of another
                // pass (and copy) over the tensor.
                let source = replacement[node.inputs[0]]
                let sourceLayer = nodes[source].layer
                guard soleReader(from: node.inputs[0], to: source), callsPerLayer[sourceLayer] == 1,
                      !inputNodes.contains(source),
                      let fused = Graph.fuse(activation.activation, into: layers[sourceLayer]) else { continue }
                layers[sourceLayer] = fused
                replacement[index] = source
            }
        }

        // Keep the nodes still referenced, in order, and the layers they call.
        let graph = try compacted(layers: layers, nodes: nodes, kept: nodes.indices.filter { replacement[$0] == $0 },
                                  source: { replacement[$0] })
        return forRunning ? try graph.fusingInvertedResiduals().packingWeights() : graph
    }

    /// This graph with every `[1×1 Conv2D] → DepthwiseConv2D → 1×1 Conv2D [→ Add]` chain
    /// whose intermediate outputs have no other reader replaced by one
    /// `InvertedResidualBlock` node (the Add's other input must be the chain's input).
    func fusingInvertedResiduals() throws -> Graph {
        var layers = try self.layers.map { try ($0 as? Graph)?.fusingInvertedResiduals() ?? $0 }
        var nodes = self.nodes
        let consumers = consumerCounts
        let callsPerLayer = self.callsPerLayer
        // The reader of each node that has exactly one.
        var reader = [Int?](repeating: nil, count: nodes.count)
        for (index, node) in nodes.enumerated() { for i in node.inputs where consumers[i] == 1 { reader[i] = index } }
        /// The layer of `node` as an `L`, when the node is its layer's only call, on one input.
        func sole<L>(_ node: Int, as type: L.Type) -> L? {
            guard !inputNodes.contains(node), callsPerLayer[nodes[node].layer] == 1,
                  nodes[node].inputs.count == 1 else { return nil }
            return layers[nodes[node].layer] as? L
        }
        var removed = Set<Int>()
        for index in nodes.indices where !removed.contains(index) {
            // `index` is the projection; walk back through the depthwise and the expansion.
            guard let project = sole(index, as: Conv2D.self), let dw = nodes[index].inputs.first,
                  consumers[dw] == 1, let depthwise = sole(dw, as: DepthwiseConv2D.self) else { continue }
            var input = nodes[dw].inputs[0]
            var expandNode: Int?
            if consumers[input] == 1, let e = sole(input, as: Conv2D.self), e.kernelSize == (1, 1),
               InvertedResidualBlock.fits(expand: e, depthwise: depthwise, project: project, residual: false) {
                expandNode = input
                input = nodes[input].inputs[0]
            }
            // The block's Add: the projection's only reader, adding the block's input.
            var add: Int?
            if let a = reader[index], !inputNodes.contains(a), callsPerLayer[nodes[a].layer] == 1,
               let merge = layers[nodes[a].layer] as? Merge, merge.op == .add, nodes[a].inputs.count == 2, Set(nodes[a].inputs) == [index, input], nodeShapes[a] == nodeShapes[input] {
                add = a
            }
            guard let block = InvertedResidualBlock(expand: expandNode.map { layers[nodes[$0].layer] as! Conv2D },
                                                    depthwise: depthwise, project: project,
                                                    residual: add != nil) else { continue }
            // The projection's layer slot holds the block; the last node of the chain calls it.
            layers[nodes[index].layer] = block
            let last = add ?? index
            nodes[last] = Node(layer: nodes[index].layer, inputs: [input])
            removed.formUnion([dw, index, expandNode].compactMap { $0 }.filter { $0 != last })
        }
        guard !removed.isEmpty || self.layers.contains(where: { $0 is Graph }) else { return self }
        return try compacted(layers: layers, nodes: nodes, kept: nodes.indices.filter { !removed.contains($0) })
    }

    /// This graph with each `PackableForInference` layer that has a packed form (the same
    /// function on weights packed once) replaced by it, recursively.
    func packingWeights() throws -> Graph {
        var changed = false
        let layers = try self.layers.map { layer -> any Layer in
            if let nested = layer as? Graph { changed = true; return try nested.packingWeights() }
            guard let packed = (layer as? any PackableForInference)?.packedForInference() else { return layer }
            changed = true
            return packed
        }
        return changed ? try compacted(layers: layers, nodes: nodes, kept: Array(nodes.indices)) : self
    }

    /// `layer` with `activation` as its own, when it has none yet and can carry one.
    static func fuse(_ activation: Activation, into layer: any Layer) -> (any Layer)? {
        // Into a layer that computes something before its activation, not into another
        // Activation layer (that would only move the node).
        guard var l = layer as? any ActivatedLayer, !(layer is ActivationLayer), l.activation == .linear else { return nil }
        l.activation = activation
        return l
    }

    /// `layer` followed by `bn`, as one layer: `bn(W·x + b) = (s·W)·x + (s·b + t)` per output
    /// channel, where `s, t` is the normalization's affine map. Nil when it cannot fold.
    static func fold(_ bn: BatchNormalization, into layer: any Layer) -> (any Layer)? {
        let (scale, shift) = bn.affine
        func scaled(_ kernel: Tensor, channelOf: (Int) -> Int) -> Tensor {
            var k = kernel
            for i in k.scalars.indices { k.scalars[i] *= scale[channelOf(i)] }
            return k
        }
        func bias(_ bias: Tensor?) -> Tensor {
            var b = bias ?? Tensor(zeros: [scale.count])
            for c in b.scalars.indices { b.scalars[c] = b.scalars[c] * scale[c] + shift[c] }
            return b
        }
        switch layer {
        case var l as Conv2D where l.activation == .linear && l.filters == scale.count:
            l.kernel = scaled(l.kernel) { $0 % scale.count }
            l.bias = bias(l.bias)
            return l
        case var l as DepthwiseConv2D where l.activation == .linear && l.outputChannels == scale.count:
            // Output channel c·M + m is the flattened last two kernel axes.
            l.depthwiseKernel = scaled(l.depthwiseKernel) { $0 % scale.count }
            l.bias = bias(l.bias)
            return l
        case var l as SeparableConv2D where l.activation == .linear && l.filters == scale.count:
            l.pointwiseKernel = scaled(l.pointwiseKernel) { $0 % scale.count }
            l.bias = bias(l.bias)
            return l
        case var l as Dense where l.activation == .linear && l.units == scale.count:
            l.kernel = scaled(l.kernel) { $0 % scale.count }
            l.bias = bias(l.bias)
            return l
        default:
            return nil
        }
    }
}

/// A layer that has a faster form for inference on weights packed once; the form computes
/// the same function. `optimizedForInference(forRunning: true)` asks each layer for it.
public protocol PackableForInference: Layer {
    /// The packed form, or nil when the layer gains nothing from one (or cannot have one).
    func packedForInference() -> (any Layer)?
}

/// A faster form of `original` at inference (`PackedConv2D`, `PackedDense`): its parameters
/// (frozen), output shape and FLOPs are the original's.
public protocol InferenceForm: Layer {
    associatedtype Original: Layer
    var original: Original { get }
}

extension InferenceForm {
    public var parameters: [Parameter] {
        original.parameters.map { Parameter($0.name, $0.value, trainable: false) }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { try original.outputShape(for: inputShapes) }

    public func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int {
        try original.flopsPerImage(inputs: inputs, output: output)
    }
}

/// A layer whose output repeats one channel (`InputAdapter` replicating a gray face into a
/// backbone's three): `optimizedForInference(forRunning: true)` lets its reader take the one
/// channel instead when the reader can (`OneChannelTaking`), so the layers up to the first
/// convolution run on a third of the values and the convolution on a third of the taps.
public protocol ChannelReplicating: Layer {
    /// How many copies of one channel the output holds (1: it replicates nothing).
    var replicas: Int { get }
    /// This layer with its output's single channel, not replicated.
    func withoutReplicas() -> any Layer
}

/// How a layer takes one channel where it was given `replicas` identical ones.
public enum OneChannelForm {
    /// The new layer's output is the old one's first channel (its output still repeats).
    case passes(any Layer)
    /// The new layer's output equals the old one's.
    case ends(any Layer)
}

/// A layer that can take one channel in place of identical copies of it.
public protocol OneChannelTaking: Layer {
    /// This layer given the one channel of `replicas` identical ones, or nil when it cannot
    /// take it.
    func takingOneChannel(of replicas: Int) -> OneChannelForm?
}

extension Graph: OneChannelTaking {
    /// Follows the chain from the single input, each node the only reader of the one before,
    /// until a layer `ends` the replication (a convolution summing its kernel over the copies);
    /// nil when the chain branches, reaches the output still replicated, or meets a layer
    /// that cannot take one channel.
    public func takingOneChannel(of replicas: Int) -> OneChannelForm? {
        guard inputNodes.count == 1 else { return nil }
        var layers = self.layers
        let consumers = consumerCounts
        let callsPerLayer = self.callsPerLayer
        var node = inputNodes[0]
        while callsPerLayer[nodes[node].layer] == 1,
              let form = (layers[nodes[node].layer] as? any OneChannelTaking)?.takingOneChannel(of: replicas) {
            switch form {
            case .ends(let layer):
                layers[nodes[node].layer] = layer
                return (try? compacted(layers: layers, nodes: nodes, kept: Array(nodes.indices))).map { .ends($0) }
            case .passes(let layer):
                layers[nodes[node].layer] = layer
            }
            guard node != outputNode, consumers[node] == 1,
                  let next = nodes.indices.first(where: { nodes[$0].inputs == [node] }) else { return nil }
            node = next
        }
        return nil
    }

    /// This graph with each `ChannelReplicating` node whose only reader can take the one
    /// channel (`OneChannelTaking`) no longer replicating it.
    func takingReplicatedChannelsOnce() throws -> Graph {
        var layers = self.layers
        let consumers = consumerCounts
        let callsPerLayer = self.callsPerLayer
        var changed = false
        for (index, node) in nodes.enumerated() {
            guard let source = layers[node.layer] as? any ChannelReplicating, source.replicas > 1,
                  callsPerLayer[node.layer] == 1, consumers[index] == 1, index != outputNode,
                  let reader = nodes.indices.first(where: { nodes[$0].inputs == [index] }),
                  callsPerLayer[nodes[reader].layer] == 1,
                  case .ends(let taking)? = (layers[nodes[reader].layer] as? any OneChannelTaking)?
                      .takingOneChannel(of: source.replicas) else { continue }
            layers[node.layer] = source.withoutReplicas()
            layers[nodes[reader].layer] = taking
            changed = true
        }
        return changed ? try compacted(layers: layers, nodes: nodes, kept: Array(nodes.indices)) : self
    }
}
