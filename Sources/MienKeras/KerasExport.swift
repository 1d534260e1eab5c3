import Foundation
import MienHDF5
import MienKerasConfig
import MienNN

/// Writes a model back to Keras, for users who move on to TensorFlow's training or serving:
/// a legacy full-model `.h5` (as `model.save("x.h5")` writes) that `keras.models.load_model`
/// reads in Keras 3 and tf.keras, or a Keras 3 `.keras` zip (as `model.save("x.keras")`).
public enum KerasExport {
    /// The model as Keras layers. An input adapter becomes layers inserted after the input
    /// (`Resizing`, a 1×1 convolution that repeats a gray channel, `Rescaling`), so the Keras
    /// model takes the same raw images; the network's layers keep their names and weights.
    public static func kerasGraph(_ network: Graph, adapter: InputAdapter?) throws -> Graph {
        // Keras 3 does not finalize an adapted Normalization nested in a model loaded from
        // .h5, so its statistics go in the config, where both Keras versions read them.
        var graph = try network.mapLayers { layer in
            guard var normalization = layer as? Normalization else { return layer }
            normalization.storesWeights = false
            return normalization
        }
        if let adapter { graph = try insert(adapter, into: graph) }
        // Keras 3 and tf.keras number the calls of a nested model differently, so a graph
        // that refers to one by its calls is written flat. A chain (Sequential) never does.
        if !graph.isChain && graph.layers.contains(where: { $0 is Graph }) { return try graph.flattened() }
        // Nested models are written as Functional, so one inside them is flattened too.
        graph.layers = try graph.layers.map { layer in
            guard let nested = layer as? Graph, nested.layers.contains(where: { $0 is Graph }) else { return layer }
            return try nested.flattened()
        }
        return graph
    }

    /// The network with the adapter's Keras layers between its input and its first layers.
    private static func insert(_ adapter: InputAdapter, into graph: Graph) throws -> Graph {
        guard graph.inputNodes.count == 1 else {
            throw KerasError(.unsupportedOption, file: graph.name, "an input adapter needs a model with one input")
        }
        let (input, output) = (adapter.inputSize, adapter.outputSize)
        let oldInput = graph.inputNodes[0]
        var layers: [any Layer] = [InputLayer(name: unique("image", in: graph.layers),
                                              shape: [nil] + input.map { Optional($0) })]
        var nodes: [Graph.Node] = [.init(layer: 0, inputs: [])]
        func append(_ layer: any Layer, inputs: [Int]? = nil) {
            layers.append(layer)
            nodes.append(.init(layer: layers.count - 1, inputs: inputs ?? [nodes.count - 1]))
        }
        if input[0] != output[0] || input[1] != output[1] {
            append(Resizing(name: unique("resize", in: graph.layers), height: output[0], width: output[1],
                            interpolation: adapter.interpolation))
        }
        if input[2] != output[2] {
            // A frozen 1×1 convolution of ones copies the gray channel exactly and, unlike
            // a Concatenate, keeps a chain a chain (a Sequential model in Keras).
            var copy = Conv2D(name: unique("gray_to_rgb", in: graph.layers), inputChannels: input[2],
                              filters: output[2], kernelSize: (1, 1), useBias: false)
            copy.kernel = Tensor(shape: copy.kernel.shape, repeating: 1)
            copy.trainable = false
            append(copy)
        }
        if adapter.scale != 1 || adapter.offset != 0 {
            append(Rescaling(name: unique("pixel_scale", in: graph.layers), scale: [adapter.scale],
                             offset: [adapter.offset]))
        }
        // The network's nodes follow, its input node replaced by the adapter's last node.
        let adapterOutput = nodes.count - 1
        let inputLayer = graph.nodes[oldInput].layer
        var nodeIndex: [Int: Int] = [oldInput: adapterOutput]
        var layerIndex: [Int: Int] = [:]
        for (i, layer) in graph.layers.enumerated() where i != inputLayer {
            layerIndex[i] = layers.count
            layers.append(layer)
        }
        for (i, node) in graph.nodes.enumerated() where i != oldInput {
            nodeIndex[i] = nodes.count
            nodes.append(.init(layer: layerIndex[node.layer]!, inputs: node.inputs.map { nodeIndex[$0]! }))
        }
        return try Graph(name: graph.name, layers: layers, nodes: nodes, inputNodes: [0],
                         outputNode: nodeIndex[graph.outputNode]!)
    }

    /// `hard_sigmoid` is `clip(0.2x + 0.5)` in tf.keras 2 and `relu6(x + 3) / 6` in Keras 3,
    /// under the same name: no file can mean one of them to both.
    private static func refuseAmbiguousActivations(_ graph: Graph, path: String) throws {
        for layer in graph.layers {
            if let nested = layer as? Graph { try refuseAmbiguousActivations(nested, path: path); continue }
            if case .hardSigmoid = KerasLayers.activation(of: layer) {
                throw KerasError(.unsupportedOption, file: path, layer: layer.name,
                                 "hard_sigmoid means different functions in tf.keras 2 and Keras 3, so it cannot be exported to a .h5 both read the same way")
            }
        }
    }

    /// `base`, or `base_1`, `base_2`, ... if a layer already has that name.
    private static func unique(_ base: String, in layers: [any Layer]) -> String {
        let names = Set(layers.map(\.name))
        var name = base
        var n = 0
        while names.contains(name) {
            n += 1
            name = "\(base)_\(n)"
        }
        return name
    }

    /// Writes the model to `path` atomically: to a temporary file, which is imported back and
    /// compared with the model (config, and every weight bit for bit) before it is renamed
    /// into place; a model that would not load again is an error and leaves nothing at `path`.
    public static func write(_ graph: Graph, adapter: InputAdapter? = nil, to path: String) throws {
        let model = try kerasGraph(graph, adapter: adapter)
        try refuseAmbiguousActivations(model, path: path)
        // tf.keras 2's conventions, which Keras 3 also reads (checked by
        // tools/make_export_fixtures.py); activations with no Keras 2 name are refused.
        let config = try KerasError.reading(path) {
            try KerasConfigWriter(kerasMajor: 2, forTFKeras: true).modelConfig(model)
        }
        let version = "2.21.0"
        try KerasError.reading(path) {
            let writer = try HDF5Writer(creating: path)
            let root = writer.root
            try root.setAttribute("keras_version", version)
            try root.setAttribute("backend", "tensorflow")
            try root.setAttribute("model_config", config.text)
            let weights = try root.createGroup("model_weights")
            try weights.setAttribute("keras_version", version)
            try weights.setAttribute("backend", "tensorflow")
            try weights.setAttribute("layer_names", model.layers.map(\.name))
            for layer in model.layers {
                let group = try weights.createGroup(layer.name)
                // Keras loads a layer's weights by position, in its `weights` order.
                let ordered = WeightOrder.ordered(layer, kerasMajor: 2)
                let names = ordered.map { "\(layer.name)/\($0.name)" }
                try group.setAttribute("weight_names", names)
                for (name, parameter) in zip(names, ordered) {
                    try group.writeDataset(name, shape: parameter.value.shape, values: parameter.value.scalars)
                }
            }
            try writer.commit { written in
                try checkReadBack(written, as: path, model: model, config: config,
                                  writer: KerasConfigWriter(kerasMajor: 2, forTFKeras: true))
            }
        }
    }

    // MARK: .keras

    /// The Keras 3 release whose conventions a `.keras` export follows and names in its
    /// `metadata.json` (the one the fixtures and tools/check_keras_export.py use).
    public static let keras3Version = "3.15.1"

    /// Writes the model to `path` as a Keras 3 `.keras` zip: `config.json` (Keras 3's
    /// serialized model), `metadata.json` and `model.weights.h5` (Keras 3's layout, built in
    /// memory). Atomic, and checked like `write`: the zip is imported back from its
    /// temporary file and compared with the model before it is renamed into place.
    public static func writeKeras(_ graph: Graph, adapter: InputAdapter? = nil, to path: String) throws {
        let model = try kerasGraph(graph, adapter: adapter)
        // Keras 3's names: a tf.keras 2 hard_sigmoid has none, and is refused here.
        let writer = KerasConfigWriter(kerasMajor: 3)
        let config: JSON
        do {
            config = try writer.modelConfig(model)
        } catch let error as KerasError {
            throw KerasError(error.kind, file: path, layer: error.layer, error.message)
        }
        let image = try KerasError.reading(path) {
            let file = try HDF5Writer(inMemory: "\(path)/\(KerasArchive.weightsName)")
            try writeKeras3Weights(model, config: config, into: file.root, file: path)
            return try file.image()
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
        let metadata: JSON = ["keras_version": .string(keras3Version), "date_saved": .string(formatter.string(from: Date()))]
        // The order Keras writes them in.
        let entries: [(name: String, bytes: [UInt8])] = [
            (KerasArchive.metadataName, Array(metadata.text.utf8)),
            (KerasArchive.configName, Array(keras3Serialized(config).text.utf8)),
            (KerasArchive.weightsName, image),
        ]
        try KerasArchive.write(entries, to: path) { written in
            try checkReadBack(written, as: path, model: model, config: config, writer: writer)
        }
    }

    /// Imports the file just written (at its temporary path `written`) and checks that it
    /// holds the model: the same weights bit for bit and the same config; else nothing is
    /// renamed into place at `path`.
    private static func checkReadBack(_ written: String, as path: String, model: Graph, config: JSON,
                                      writer: KerasConfigWriter) throws {
        let back: Graph
        do {
            back = try KerasModel(contentsOf: written).graph
        } catch let error as KerasError {
            throw KerasError(error.kind, file: path, layer: error.layer,
                             "the model cannot be exported: the file would not load again (\(error.message))")
        }
        let expected = model.parameters, got = back.parameters
        guard got.count == expected.count,
              zip(got, expected).allSatisfy({ $0.name == $1.name && $0.value.isBitwiseEqual(to: $1.value) }),
              try writer.modelConfig(back) == config else {
            throw KerasError(.invalidConfig, file: path, "the model cannot be exported: the file read back differs from the model")
        }
    }

    /// Keras 3's `serialize_keras_object` form of a config: every object names the module
    /// Keras finds its class in (`keras.layers`; a model's own class), without which Keras 3's
    /// `.keras` loader cannot find the classes (its `.h5` loader can).
    static func keras3Serialized(_ config: JSON) -> JSON {
        guard case .object(var object) = config, let className = object["class_name"]?.string else { return config }
        switch className {
        case _ where object["module"] != nil:
            break   // An operation names its own (`keras.src.ops.numpy`).
        case "LayerScale":
            // Not a public Keras layer: Keras 3 finds it in ConvNeXt's module.
            object["module"] = "keras.src.applications.convnext"
            object["registered_name"] = "LayerScale"
        case "Functional":
            object["module"] = "keras.src.models.functional"
            object["registered_name"] = "Functional"
        case "Sequential":
            object["module"] = "keras"
            object["registered_name"] = JSON.null
        default:
            object["module"] = "keras.layers"
            object["registered_name"] = JSON.null
        }
        if case .object(var body) = object["config"], let layers = body["layers"]?.array,
           className == "Functional" || className == "Sequential" {
            body["layers"] = .array(layers.map(keras3Serialized))
            object["config"] = .object(body)
        }
        return .object(object)
    }

    /// Writes a model's weights as Keras 3's `saving_lib` lays them out: the model's own
    /// `vars` group (named), then `layers/<key>/vars/0, 1, ...` for each of `model.layers`,
    /// where `<key>` is the snake-cased class name of the layer's config entry, made unique
    /// with `_1`, `_2`, ... in layer order, and a nested model's layers sit under its own
    /// `layers/`. A Sequential's `model.layers` leaves out its InputLayer.
    static func writeKeras3Weights(_ graph: Graph, config: JSON, into group: HDF5WriteGroup, file: String) throws {
        let own = try group.createGroup("vars")
        try own.setAttribute("name", graph.name)
        let sequential = config["class_name"]?.string == "Sequential"
        let entries = config["config"]?["layers"]?.array ?? []
        guard entries.count == graph.layers.count,
              zip(entries, graph.layers).allSatisfy({ $0["config"]?["name"]?.string == $1.name }) else {
            throw KerasError(.invalidConfig, file: file, "the config written for model '\(graph.name)' does not list its layers in order")
        }
        var used: [String: Int] = [:]
        for (entry, layer) in zip(entries, graph.layers) {
            if sequential && layer is InputLayer { continue }
            // Written as Keras 3 operations, which are not in `model.layers`: no key.
            if layer is any OperationLayer { continue }
            var key = WeightLoading.snakeCase(entry["class_name"]?.string ?? layer.kerasClass)
            if let n = used[key] {
                used[key] = n + 1
                key += "_\(n + 1)"
            } else {
                used[key] = 0
            }
            let layerGroup = try group.createGroup("layers/\(key)")
            if let nested = layer as? Graph {
                try writeKeras3Weights(nested, config: entry, into: layerGroup, file: file)
                continue
            }
            let vars = try layerGroup.createGroup("vars")
            try vars.setAttribute("name", layer.name)
            // `WeightLoading.loadKeras3`'s order: the layer's own variables, as Keras 3 saves them.
            for (i, parameter) in layer.parameters.enumerated() {
                try vars.writeDataset(String(i), shape: parameter.value.shape, values: parameter.value.scalars)
            }
        }
    }
}
