import MienNN

/// Writes a graph as Keras's `model_config`: the inverse of `ModelBuilder`.
///
/// It writes only the options both tf.keras 2 and Keras 3 accept (`batch_input_shape`,
/// list-style `inbound_nodes`, `dtype` as a string), so the same config serves the
/// `.mien` file's graph and a `.h5` that either Keras loads.
public struct KerasConfigWriter {
    /// The Keras whose definitions the names mean (`hard_sigmoid` differs between 2 and 3).
    public var kerasMajor: Int
    /// Whose numbering of a nested model's calls to write: tf.keras 2 counts them from 1,
    /// Keras 3 from 0 (see `ModelBuilder.firstCallIndex`). Both Keras versions load
    /// tf.keras 2's numbering in a call's inputs, so exports to `.h5` use it.
    public var callNumbering: Int
    /// Whether tf.keras itself will load the config (an export), not only Mien (a `.mien`
    /// file): then what tf.keras would read otherwise is refused.
    public var forTFKeras: Bool

    public init(kerasMajor: Int = 3, callNumbering: Int? = nil, forTFKeras: Bool = false) {
        self.kerasMajor = kerasMajor
        self.callNumbering = callNumbering ?? kerasMajor
        self.forTFKeras = forTFKeras
    }

    /// `{"class_name": "Sequential" | "Functional", "config": {...}}` for a graph.
    public func modelConfig(_ graph: Graph) throws -> JSON {
        let (className, config) = try model(graph)
        return ["class_name": .string(className), "config": config]
    }

    /// The Keras major version a graph can be written for: 2 when it uses tf.keras 2's
    /// `hard_sigmoid`, a layer that means tf.keras 2's definition (RandomCrop) or a layer
    /// name with a `/` (tf.keras DenseNet's `conv1/conv`, which Keras 3 refuses), else 3.
    public static func kerasMajor(for graph: Graph) -> Int {
        func usesKeras2(_ layer: any Layer) -> Bool {
            if layer.name.contains("/") { return true }
            if let g = layer as? Graph { return g.layers.contains(where: usesKeras2) }
            return KerasLayers.activation(of: layer) == .hardSigmoidKeras2 || KerasLayers.requiredKerasMajor(of: layer) == 2
        }
        return graph.layers.contains(where: usesKeras2) ? 2 : 3
    }

    /// A nested model is always written as Functional: Keras 3 and tf.keras number the
    /// calls of a nested Sequential differently, those of a nested Functional alike.
    private func model(_ graph: Graph, nested: Bool = false) throws -> (String, JSON) {
        // An operation's call holds its constants, which a Sequential model cannot write.
        if !nested && graph.isChain && !graph.layers.contains(where: { $0 is any OperationLayer }) {
            let layers = try graph.layers.map { try entry($0, calls: nil, in: graph) }
            return ("Sequential", ["name": .string(graph.name), "trainable": .bool(graph.trainable),
                                   "layers": .array(layers)])
        }
        let layers = try graph.layers.indices.map { index -> JSON in
            if let operation = graph.layers[index] as? any OperationLayer {
                guard let node = graph.nodes.firstIndex(where: { $0.layer == index }),
                      graph.nodes.lastIndex(where: { $0.layer == index }) == node else {
                    throw KerasError(.unsupportedOption, file: "model_config", layer: operation.name,
                                     "an operation must be called exactly once to be written")
                }
                let inputs = graph.nodes[node].inputs.map { (reference($0, in: graph, kwargs: false), graph.nodeShapes[$0]) }
                return try KerasOperations.entry(of: operation, inputs: inputs, kerasMajor: kerasMajor,
                                                    forTFKeras: forTFKeras)
            }
            // An InputLayer is not called: Keras lists no inbound nodes for it.
            let calls = graph.layers[index] is InputLayer ? [] : graph.nodes.indices
                .filter { graph.nodes[$0].layer == index }
                .map { node in JSON.array(graph.nodes[node].inputs.map { reference($0, in: graph) }) }
            return try entry(graph.layers[index], calls: calls, in: graph)
        }
        return ("Functional", ["name": .string(graph.name), "trainable": .bool(graph.trainable),
                               "layers": .array(layers),
                               "input_layers": endpoints(graph.inputNodes, in: graph),
                               "output_layers": endpoints([graph.outputNode], in: graph)])
    }

    /// `input_layers`/`output_layers`: one `[layer, node, tensor]` when single, as Keras 3
    /// writes it (a list of one would make a nested model return a list), else a list.
    private func endpoints(_ nodes: [Int], in graph: Graph) -> JSON {
        let refs = nodes.map { reference($0, in: graph, kwargs: false) }
        return refs.count == 1 ? refs[0] : .array(refs)
    }

    /// `[layer, node, tensor, {}]`: the output of a node, numbered as Keras numbers calls.
    private func reference(_ node: Int, in graph: Graph, kwargs: Bool = true) -> JSON {
        let layerIndex = graph.nodes[node].layer
        let layer = graph.layers[layerIndex]
        let call = graph.nodes[..<node].filter { $0.layer == layerIndex }.count
        var offset = 0
        if layer is Graph {
            offset = ModelBuilder.firstCallIndex(className: "Functional", kerasMajor: callNumbering,
                                                 startsWithInputLayer: true)
        }
        let parts: [JSON] = [.string(layer.name), JSON(call + offset), 0]
        return .array(kwargs ? parts + [[:]] : parts)
    }

    private func entry(_ layer: any Layer, calls: [JSON]?, in graph: Graph) throws -> JSON {
        var className: String
        var config: JSON
        if let nested = layer as? Graph {
            (className, config) = try model(nested, nested: true)
        } else {
            let written = try KerasLayers.config(of: layer, kerasMajor: kerasMajor)
            className = written.className
            var fields = written.config
            fields["name"] = .string(layer.name)
            // Keras 3's dropout-like layers take no `trainable` argument.
            if !(layer is InputLayer) { fields["dtype"] = "float32" }
            if !(layer is InputLayer || layer.isIdentityAtInference) { fields["trainable"] = .bool(layer.trainable) }
            config = .object(fields)
        }
        var entry: [String: JSON] = ["class_name": .string(className), "config": config]
        if let calls {
            entry["name"] = .string(layer.name)
            entry["inbound_nodes"] = .array(calls)
        }
        return .object(entry)
    }
}
