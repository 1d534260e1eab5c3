/// Rewrites a graph for inference: the same function with fewer passes over memory.
extension Graph {
    /// A copy with every BatchNormalization folded into the convolution or dense layer that
    /// feeds it (when nothing else reads that layer's output and it has no activation), each
    /// Activation layer fused into such a layer before it the same way, and
    /// the layers that are the identity at inference (Dropout, GaussianNoise, ...) removed,
    /// recursively in nested models. Outputs equal the original's up to float rounding.
    ///
    /// With `foldingZeroPadding`, a ZeroPadding2D that feeds only a `valid` DepthwiseConv2D
    /// becomes that layer's `inputPadding` (no padded copy of the input). Keras has no such
    /// option, so a graph meant for export must not use it; one meant to run should.
    public func optimizedForInference(foldingZeroPadding: Bool = false) throws -> Graph {
        var layers = self.layers
        for i in layers.indices {
            if let nested = layers[i] as? Graph {
                layers[i] = try nested.optimizedForInference(foldingZeroPadding: foldingZeroPadding)
            }
        }
        var consumers = [Int](repeating: 0, count: nodes.count)
        for node in nodes { for i in node.inputs { consumers[i] += 1 } }
        consumers[outputNode] += 1
        let callsPerLayer = nodes.reduce(into: [Int: Int]()) { $0[$1.layer, default: 0] += 1 }

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
            } else if foldingZeroPadding, var conv = layer as? DepthwiseConv2D, node.inputs.count == 1,
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
        let kept = nodes.indices.filter { replacement[$0] == $0 }
        let newIndex = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1, $0) })
        let usedLayers = Set(kept.map { nodes[$0].layer })
        let keptLayers = layers.indices.filter { usedLayers.contains($0) }
        let layerIndex = Dictionary(uniqueKeysWithValues: keptLayers.enumerated().map { ($1, $0) })
        var graph = try Graph(
            name: name, kerasClass: kerasClass, layers: keptLayers.map { layers[$0] },
            nodes: kept.map { Node(layer: layerIndex[nodes[$0].layer]!,
                                   inputs: nodes[$0].inputs.map { newIndex[replacement[$0]]! }) },
            inputNodes: inputNodes.map { newIndex[$0]! }, outputNode: newIndex[replacement[outputNode]]!)
        graph.trainable = trainable
        return graph
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
