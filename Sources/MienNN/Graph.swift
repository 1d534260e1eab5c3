import MienFiles

/// A model as a directed acyclic graph of layers: Keras's `Functional` and `Sequential`.
///
/// A graph is itself a `Layer`, so a model nested inside another (a backbone inside a
/// transfer-learning model) is just a node of the outer graph.
public struct Graph: Layer {
    /// One call of a layer; `inputs` are indices of earlier nodes. A layer called twice
    /// (a shared layer) has two nodes.
    public struct Node: Sendable {
        public var layer: Int
        public var inputs: [Int]

        public init(layer: Int, inputs: [Int]) {
            self.layer = layer
            self.inputs = inputs
        }
    }

    public var name: String
    public var kerasClass: String
    public var trainable: Bool = true
    /// The layers in Keras's `model.layers` order (input layers included).
    public var layers: [any Layer]
    /// Nodes in an order where every node comes after its inputs.
    public private(set) var nodes: [Node]
    /// Nodes that receive the graph's inputs, in `model.inputs` order.
    public private(set) var inputNodes: [Int]
    public private(set) var outputNode: Int
    /// Output shape of every node, computed once when the graph is built.
    public private(set) var nodeShapes: [Shape]

    /// Builds a graph and infers every node's shape. The input shapes come from the
    /// `InputLayer`s named by `inputNodes`.
    public init(name: String, kerasClass: String = "Functional", layers: [any Layer], nodes: [Node],
                inputNodes: [Int], outputNode: Int) throws {
        self.name = name
        self.kerasClass = kerasClass
        self.layers = layers
        self.nodes = nodes
        self.inputNodes = inputNodes
        self.outputNode = outputNode
        self.nodeShapes = []
        for (index, node) in nodes.enumerated() {
            guard node.layer >= 0, node.layer < layers.count else {
                throw LayerError(layer: name, "node \(index) refers to a missing layer")
            }
            guard node.inputs.allSatisfy({ $0 >= 0 && $0 < index }) else {
                throw LayerError(layer: name, "node \(index) (\(layers[node.layer].name)) has a dangling or cyclic input")
            }
        }
        let declared = try inputNodes.enumerated().map { slot, index -> Shape in
            guard index >= 0, index < nodes.count, let input = layers[nodes[index].layer] as? InputLayer else {
                throw LayerError(layer: name, "input \(slot) is not an InputLayer")
            }
            return input.shape
        }
        self.nodeShapes = try propagate(declared)
        guard outputNode >= 0, outputNode < nodes.count else {
            throw LayerError(layer: name, "output node \(outputNode) does not exist")
        }
    }

    public var inputShapes: [Shape] { inputNodes.map { nodeShapes[$0] } }

    /// A nested model called with `training=True` runs its Dropout and BatchNormalization so.
    public var usesTrainingFlag: Bool { layers.contains { $0.usesTrainingFlag } }

    /// Whether a Keras Sequential model can express this graph: one input, and each layer
    /// called once, on the previous layer's output.
    public var isChain: Bool {
        inputNodes == [0] && outputNode == nodes.count - 1 && nodes.count == layers.count
            && nodes.enumerated().allSatisfy { i, node in node.layer == i && node.inputs == (i == 0 ? [] : [i - 1]) }
    }
    public var outputShape: Shape { nodeShapes[outputNode] }

    /// The same graph with `transform` applied to every layer, nested models included
    /// (a nested model's own layers are transformed before it is).
    public func mapLayers(_ transform: (any Layer) throws -> any Layer) throws -> Graph {
        var copy = self
        for i in copy.layers.indices {
            if let nested = copy.layers[i] as? Graph { copy.layers[i] = try nested.mapLayers(transform) }
            copy.layers[i] = try transform(copy.layers[i])
        }
        return copy
    }

    /// The layer with this Keras name, if any.
    public func layerIndex(named layerName: String) -> Int? {
        layers.firstIndex { $0.name == layerName }
    }

    // MARK: Layer

    /// The key path of a layer's weight, `layer/weight`. A `/` in the layer's name (tf.keras
    /// DenseNet's `conv1/conv`) is escaped as `%2F` (and `%` as `%25`), so that the first
    /// `/` always ends the layer's name and every path reads back to its weight.
    public static func path(layer: String, _ weight: String) -> String {
        var escaped = ""
        for c in layer {
            switch c {
            case "%": escaped += "%25"
            case "/": escaped += "%2F"
            default: escaped.append(c)
            }
        }
        return escaped + "/" + weight
    }

    /// A layer's name from its escaped form in a key path.
    public static func layerName(inPath escaped: Substring) -> String {
        var name = ""
        var rest = escaped[...]
        while let c = rest.first {
            if rest.hasPrefix("%2F") { name += "/"; rest = rest.dropFirst(3) }
            else if rest.hasPrefix("%25") { name += "%"; rest = rest.dropFirst(3) }
            else { name.append(c); rest = rest.dropFirst() }
        }
        return name
    }

    /// Every weight of every layer as a key path `layer/weight`, in layer order.
    public var parameters: [Parameter] {
        layers.flatMap { layer in
            layer.parameters.map { p in
                Parameter(Graph.path(layer: layer.name, p.name), p.value,
                          trainable: p.trainable && layer.trainable && trainable)
            }
        }
    }

    public mutating func setParameter(_ path: String, to value: Tensor) throws {
        guard let slash = path.firstIndex(of: "/"),
              let index = layerIndex(named: Graph.layerName(inPath: path[..<slash])) else {
            throw LayerError(layer: name, "no layer for weight '\(path)'")
        }
        try layers[index].setParameter(String(path[path.index(after: slash)...]), to: value)
    }

    /// The output shape for these inputs, which may be more specific than the declared
    /// ones (a backbone declared for any image size, called on 96×96).
    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        guard inputShapes.count == inputNodes.count else {
            throw LayerError(layer: name, "expects \(inputNodes.count) inputs, got \(inputShapes.count)")
        }
        for (given, expected) in zip(inputShapes, self.inputShapes) where !Graph.compatible(given, expected) {
            throw LayerError(layer: name, "input shape \(given.kerasDescription) does not fit \(expected.kerasDescription)")
        }
        if inputShapes == self.inputShapes { return outputShape }
        return try propagate(inputShapes)[outputNode]
    }

    /// The most values one image holds in any activation of the graph (nested models
    /// included) for inputs of these shapes: what one image in flight costs in memory.
    public func largestActivation(for inputShapes: [Shape]) throws -> Int {
        let shapes = try propagate(inputShapes)
        var largest = 0
        for (index, node) in nodes.enumerated() {
            let perImage = CheckedSize.product(shapes[index].dropFirst().map { $0 ?? 1 }) ?? Int.max
            largest = max(largest, perImage)
            if let nested = layers[node.layer] as? Graph {
                largest = max(largest, try nested.largestActivation(for: node.inputs.map { shapes[$0] }))
            }
        }
        return largest
    }

    /// Every node's output shape, given the input shapes, each checked against
    /// `ModelLimits` (so no shape can overflow or ask for gigabytes when the graph runs).
    private func propagate(_ inputShapes: [Shape]) throws -> [Shape] {
        var shapes: [Shape] = []
        shapes.reserveCapacity(nodes.count)
        for (index, node) in nodes.enumerated() {
            let layer = layers[node.layer]
            if let slot = inputNodes.firstIndex(of: index) {
                try ModelLimits.check(inputShapes[slot], layer: layer.name, what: "input")
                shapes.append(inputShapes[slot])
            } else {
                let shape = try layer.outputShape(for: node.inputs.map { shapes[$0] })
                try ModelLimits.check(shape, layer: layer.name)
                shapes.append(shape)
            }
        }
        return shapes
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        try forward(inputs, observer: nil)
    }

    /// `forward`, calling `observer` after each layer call with the index of the layer in
    /// `layers` and the time it took (`mien bench --profile`). A nested model counts as one layer.
    public func forward(_ inputs: [Tensor], observer: ((Int, Duration) -> Void)?) throws -> Tensor {
        var values = try boundInputs(inputs)
        // Count consumers so each intermediate tensor is released after its last use.
        var remaining = consumerCounts
        for (index, node) in nodes.enumerated() where values[index] == nil {
            var args: [Tensor] = []
            args.reserveCapacity(node.inputs.count)
            for i in node.inputs {
                guard let value = values[i] else {
                    throw LayerError(layer: name, "node \(i) was not computed")
                }
                args.append(value)
                remaining[i] -= 1
                if remaining[i] == 0 { values[i] = nil }
            }
            if let observer {
                let start = ContinuousClock.now
                values[index] = try layers[node.layer].forward(args)
                observer(node.layer, ContinuousClock.now - start)
            } else {
                values[index] = try layers[node.layer].forward(args)
            }
        }
        guard let output = values[outputNode] else {
            throw LayerError(layer: name, "output was not computed")
        }
        return output
    }

    /// One value per node, the input nodes' set to `inputs` after checking their count and shapes.
    func boundInputs(_ inputs: [Tensor]) throws -> [Tensor?] {
        guard inputs.count == inputNodes.count else {
            throw LayerError(layer: name, "expects \(inputNodes.count) inputs, got \(inputs.count)")
        }
        var values = [Tensor?](repeating: nil, count: nodes.count)
        for (slot, nodeIndex) in inputNodes.enumerated() {
            let expected = nodeShapes[nodeIndex]
            let given = inputs[slot].shape.map { Optional($0) }
            guard Graph.compatible(given, expected) else {
                throw LayerError(layer: layers[nodes[nodeIndex].layer].name,
                                 "input shape \(given.kerasDescription) does not fit \(expected.kerasDescription)")
            }
            values[nodeIndex] = inputs[slot]
        }
        return values
    }

    /// How many calls read each node's output (the model's output counts as one).
    var consumerCounts: [Int] {
        var counts = [Int](repeating: 0, count: nodes.count)
        for node in nodes { for i in node.inputs { counts[i] += 1 } }
        counts[outputNode] += 1
        return counts
    }

    /// How many nodes call each layer (a layer called twice shares its weights and cannot be
    /// rewritten for one of its calls).
    var callsPerLayer: [Int: Int] {
        nodes.reduce(into: [Int: Int]()) { $0[$1.layer, default: 0] += 1 }
    }

    /// Whether a concrete or partial shape fits an expected one (`nil` matches anything).
    static func compatible(_ given: Shape, _ expected: Shape) -> Bool {
        given.count == expected.count && zip(given, expected).allSatisfy { g, e in
            g == nil || e == nil || g == e
        }
    }
}

extension Graph {
    /// The same function with every nested model's layers inlined into this graph (a
    /// layer whose name is taken becomes `model_layer`); a frozen nested model's layers
    /// become frozen layers.
    public func flattened() throws -> Graph {
        var layers: [any Layer] = []
        var nodes: [Node] = []
        var names = Set<String>()

        func addLayer(_ layer: any Layer, prefix: String) -> Int {
            var layer = layer
            if names.contains(layer.name) {
                var candidate = "\(prefix)_\(layer.name)"
                var n = 1
                while names.contains(candidate) { candidate = "\(prefix)_\(layer.name)_\(n)"; n += 1 }
                layer.name = candidate
            }
            names.insert(layer.name)
            layers.append(layer)
            return layers.count - 1
        }

        /// Inlines `graph`'s nodes with its inputs bound to `inputs`; returns where each of
        /// its nodes went.
        func inline(_ graph: Graph, inputs: [Int]?, frozen: Bool) throws -> [Int: Int] {
            var mapped: [Int: Int] = [:]
            var layerIndex: [Int: Int] = [:]
            for (index, node) in graph.nodes.enumerated() {
                if let slot = graph.inputNodes.firstIndex(of: index), let inputs {
                    mapped[index] = inputs[slot]
                    continue
                }
                var layer = graph.layers[node.layer]
                if frozen { layer.trainable = false }
                let args = node.inputs.map { mapped[$0]! }
                if let nested = layer as? Graph {
                    mapped[index] = try inline(nested, inputs: args, frozen: frozen || !nested.trainable)[nested.outputNode]
                    continue
                }
                if layerIndex[node.layer] == nil { layerIndex[node.layer] = addLayer(layer, prefix: graph.name) }
                nodes.append(Node(layer: layerIndex[node.layer]!, inputs: args))
                mapped[index] = nodes.count - 1
            }
            return mapped
        }

        let mapped = try inline(self, inputs: nil, frozen: !trainable)
        var flat = try Graph(name: name, kerasClass: kerasClass, layers: layers, nodes: nodes,
                             inputNodes: inputNodes.map { mapped[$0]! }, outputNode: mapped[outputNode]!)
        flat.trainable = trainable
        return flat
    }
}

extension Graph {
    /// The graph up to the output of layer `layerName`: the backbone cut at an intermediate
    /// layer (mid-level features often transfer better). Nil if no such layer.
    public func truncated(at layerName: String) throws -> Graph? {
        guard let layer = layerIndex(named: layerName),
              let output = nodes.lastIndex(where: { $0.layer == layer }) else { return nil }
        // Keep the nodes the new output depends on.
        var needed = Set<Int>([output])
        for index in stride(from: output, through: 0, by: -1) where needed.contains(index) {
            needed.formUnion(nodes[index].inputs)
        }
        needed.formUnion(inputNodes)
        return try compacted(layers: layers, nodes: nodes, kept: nodes.indices.filter { needed.contains($0) },
                             output: output)
    }

    /// A graph like this one (name, class, inputs, `trainable`) of the nodes `kept` (indices
    /// into `nodes`, in order; each calls one of `layers`), with only the layers they call.
    /// Every kept node's inputs and the output (`outputNode` unless `output` is given) go
    /// through `source` first: the node that now stands for them.
    func compacted(layers: [any Layer], nodes: [Node], kept: [Int], output: Int? = nil,
                   source: (Int) -> Int = { $0 }) throws -> Graph {
        let newIndex = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1, $0) })
        let usedLayers = Set(kept.map { nodes[$0].layer })
        let keptLayers = layers.indices.filter { usedLayers.contains($0) }
        let layerIndex = Dictionary(uniqueKeysWithValues: keptLayers.enumerated().map { ($1, $0) })
        var graph = try Graph(
            name: name, kerasClass: kerasClass, layers: keptLayers.map { layers[$0] },
            nodes: kept.map { Node(layer: layerIndex[nodes[$0].layer]!, inputs: nodes[$0].inputs.map { newIndex[source($0)]! }) },
            inputNodes: inputNodes.map { newIndex[$0]! }, outputNode: newIndex[source(output ?? outputNode)]!)
        graph.trainable = trainable
        return graph
    }
}

extension Graph {
    /// The graph after the output of layer `layerName`: a new input (named
    /// `<layerName>_output`, of that layer's output shape) stands for it, followed by every
    /// node that depends on it. With `truncated(at:)` it splits a model in two: the frozen
    /// part whose outputs can be computed once, and the part that trains. Nil if no such
    /// layer; an error when a later layer also reads something before the cut (a skip
    /// connection across it), so the cut does not separate the model.
    public func suffix(after layerName: String) throws -> Graph? {
        guard let layer = layerIndex(named: layerName),
              let cut = nodes.lastIndex(where: { $0.layer == layer }) else { return nil }
        var inSuffix = [Bool](repeating: false, count: nodes.count)
        for index in (cut + 1)..<nodes.count where nodes[index].inputs.contains(where: { $0 == cut || inSuffix[$0] }) {
            inSuffix[index] = true
        }
        guard inSuffix[outputNode] else {
            throw LayerError(layer: name, "the output does not depend on layer '\(layerName)': nothing to train after it")
        }
        for index in nodes.indices where inSuffix[index] {
            for input in nodes[index].inputs where input != cut && !inSuffix[input] {
                throw LayerError(layer: layers[nodes[index].layer].name,
                                 "reads '\(layers[nodes[input].layer].name)', which comes before '\(layerName)': the model cannot be cut there")
            }
        }
        var inputName = "\(layerName)_output"
        while layerIndex(named: inputName) != nil { inputName += "_" }
        let kept = nodes.indices.filter { inSuffix[$0] }
        let usedLayers = layers.indices.filter { i in kept.contains { nodes[$0].layer == i } }
        let layerIndex = Dictionary(uniqueKeysWithValues: usedLayers.enumerated().map { ($1, $0 + 1) })
        var newIndex = [cut: 0]
        for (position, index) in kept.enumerated() { newIndex[index] = position + 1 }
        var graph = try Graph(
            name: name, kerasClass: kerasClass,
            layers: [InputLayer(name: inputName, shape: nodeShapes[cut])] + usedLayers.map { layers[$0] },
            nodes: [Node(layer: 0, inputs: [])]
                + kept.map { Node(layer: layerIndex[nodes[$0].layer]!, inputs: nodes[$0].inputs.map { newIndex[$0]! }) },
            inputNodes: [0], outputNode: newIndex[outputNode]!)
        graph.trainable = trainable
        return graph
    }
}

extension Graph {
    /// This graph with `layers` called one after another on its output (a pooling and a
    /// head after a backbone).
    public func appending(_ more: [any Layer]) throws -> Graph {
        guard !more.isEmpty else { return self }
        var (all, chain, last) = (layers, nodes, outputNode)
        for layer in more {
            all.append(layer)
            chain.append(Node(layer: all.count - 1, inputs: [last]))
            last = chain.count - 1
        }
        var graph = try Graph(name: name, kerasClass: kerasClass, layers: all, nodes: chain, inputNodes: inputNodes,
                              outputNode: last)
        graph.trainable = trainable
        return graph
    }
}
