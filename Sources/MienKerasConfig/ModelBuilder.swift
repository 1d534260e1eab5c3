import MienNN

/// Builds an `MienNN.Graph` from Keras's `model_config`: `Sequential` and `Functional`
/// (`Model` in tf.keras 2), nested inside each other at any depth.
///
/// The config is untrusted: every size, stride and shape is checked (`LayerConfig`,
/// `ModelLimits`) before a layer allocates anything, and the weights the layers declare are
/// counted against `budget`.
public struct ModelBuilder {
    public var file: String
    public var kerasMajor: Int
    /// What the model's weights may take, shared by every layer and nested model.
    public var budget: WeightBudget

    /// `file` names the source in errors; `kerasMajor` (2 or 3) selects the definitions
    /// that differ between Keras versions; `budget` bounds the weights (for a model read
    /// from a file: `WeightBudget.file(bytes:)` of the file that holds them).
    public init(file: String, kerasMajor: Int, budget: WeightBudget = .standard()) {
        self.file = file
        self.kerasMajor = kerasMajor
        self.budget = budget
    }

    /// Checks a shape with `ModelLimits`, as a `KerasError` naming the layer.
    private func check(_ shape: Shape, layer: String, what: String = "output") throws {
        try KerasError.wrap(file: file) { try ModelLimits.check(shape, layer: layer, what: what) }
    }

    private func fail(_ kind: KerasError.Kind = .invalidConfig, layer: String? = nil, _ message: String) -> KerasError {
        KerasError(kind, file: file, layer: layer, message)
    }

    /// Builds a model from its serialized form `{"class_name": ..., "config": ...}`.
    public func buildModel(_ json: JSON) throws -> Graph {
        guard let className = json["class_name"]?.string, let config = json["config"] else {
            throw fail(.notAModel, "model_config has no class_name/config")
        }
        switch className {
        case "Sequential": return try buildSequential(config)
        case "Functional", "Model": return try buildFunctional(config, className: className)
        default:
            throw fail(.unsupportedLayer, "the top-level model is a '\(className)'; supported: Sequential, Functional, Model")
        }
    }

    // MARK: Sequential

    private func buildSequential(_ config: JSON) throws -> Graph {
        // tf.keras before 2.3 wrote a Sequential's config as the bare list of layers.
        let name = config["name"]?.string ?? "sequential"
        // Keras needs a dict config's 'name' (Keras 3 refuses it without; tf.keras 2 then
        // reads the dict as the list of layers).
        if config.object != nil, config["name"]?.string == nil {
            throw fail(layer: name, "Sequential config has no 'name'")
        }
        guard let entries = config.array ?? config["layers"]?.array else {
            throw fail(layer: name, "Sequential config has no 'layers' list")
        }
        var layers: [any Layer] = []
        var nodes: [Graph.Node] = []
        var shape: Shape
        var rest = entries[...]

        if let first = entries.first, first["class_name"]?.string == "InputLayer" {
            let input = try inputLayer(first)
            shape = input.shape
            layers.append(input)
            rest = entries.dropFirst()
        } else if let declared = try entries.first.flatMap({ try declaredInputShape($0["config"]) })
                    ?? (try declaredInputShape(config, keys: ["build_input_shape"])) {
            // Built from `input_shape=` on the first layer: Keras adds this InputLayer itself.
            try check(declared, layer: name, what: "input")
            shape = declared
            layers.append(InputLayer(name: "\(name)_input", shape: declared))
        } else {
            throw fail(layer: name, "Sequential model has no input shape (it was saved unbuilt)")
        }
        nodes.append(Graph.Node(layer: 0, inputs: []))

        var names = Set(layers.map(\.name))
        for entry in rest {
            try checkEntry(entry, name: entry["config"]?["name"]?.string ?? name,
                                className: entry["class_name"]?.string ?? "")
            let layer = try buildLayer(entry, inputShapes: [shape], entryName: nil)
            guard names.insert(layer.name).inserted else {
                throw fail(layer: layer.name, "two layers are named '\(layer.name)'; Keras requires unique names")
            }
            shape = try KerasError.wrap(file: file) { try layer.outputShape(for: [shape]) }
            try check(shape, layer: layer.name)
            layers.append(layer)
            nodes.append(Graph.Node(layer: layers.count - 1, inputs: [nodes.count - 1]))
        }
        var graph = try KerasError.wrap(file: file) {
            try Graph(name: name, kerasClass: "Sequential", layers: layers, nodes: nodes,
                      inputNodes: [0], outputNode: nodes.count - 1)
        }
        graph.trainable = config["trainable"]?.bool ?? true
        return graph
    }

    // MARK: Functional

    /// A reference to the output of a layer's n-th call: Keras's `[layer, node, tensor]`.
    private struct Ref: Hashable {
        var layer: String
        var node: Int
        var tensor: Int
    }

    private struct Entry {
        var name: String
        var json: JSON
        var className: String
        var calls: [Call]
    }

    /// One call of a layer: the tensors it takes and its `training` argument, if given; for
    /// an operation, its arguments as written (tensors numbered in `inputs`' order).
    private struct Call {
        var inputs: [Ref]
        var training: Bool?
        var arguments: OperationArguments? = nil
    }

    private func buildFunctional(_ config: JSON, className: String) throws -> Graph {
        let name = config["name"]?.string ?? "model"
        guard let list = config["layers"]?.array else {
            throw fail(layer: name, "\(className) config has no 'layers' list")
        }
        var entries: [String: Entry] = [:]
        var order: [String] = []
        for item in list {
            // Keras reads a Functional entry's own `name` (and fails without it).
            guard let entryName = item["name"]?.string, let entryClass = item["class_name"]?.string else {
                throw fail(layer: name, "a layer entry has no name or class_name")
            }
            guard entries[entryName] == nil else {
                throw fail(layer: entryName, "two layers are named '\(entryName)'; Keras requires unique names")
            }
            // Keras names the layer from its config: another name there would not be found.
            if entryClass != "InputLayer" || item["config"]?["name"] != nil {
                guard item["config"]?["name"]?.string == entryName else {
                    throw fail(layer: entryName, "the entry is named '\(entryName)' but its config names \(item["config"]?["name"]?.text ?? "nothing")")
                }
            }
            let operation = KerasOperations.isOperation(item, className: entryClass, kerasMajor: kerasMajor)
            try checkEntry(item, name: entryName, className: entryClass, operation: operation)
            let calls = try (item["inbound_nodes"]?.array ?? []).map {
                try operation ? parseOperationCall($0, in: entryName)
                              : parseCall($0, in: entryName, className: entryClass)
            }
            // Keras makes one operation layer per call.
            if operation && calls.count > 1 {
                throw fail(.unsupportedOption, layer: entryName, "the operation is called \(calls.count) times; Mien reads one call per operation")
            }
            entries[entryName] = Entry(name: entryName, json: item, className: entryClass, calls: calls)
            order.append(entryName)
        }
        let inputs = try endpoints(config["input_layers"], in: name)
        let outputs = try endpoints(config["output_layers"], in: name)
        guard outputs.count == 1 else {
            throw fail(.unsupportedOption, layer: name, "models with \(outputs.count) outputs are not supported (only 1)")
        }

        var layers: [String: any Layer] = [:]
        var nodes: [(layer: String, inputs: [Int])] = []
        var shapes: [Shape] = []
        var resolved: [Ref: Int] = [:]
        var visiting: Set<Ref> = []

        func resolve(_ ref: Ref) throws -> Int {
            if let id = resolved[ref] { return id }
            guard let entry = entries[ref.layer] else {
                throw fail(layer: name, "a connection refers to a missing layer '\(ref.layer)'")
            }
            guard ref.tensor == 0 else {
                throw fail(.unsupportedOption, layer: ref.layer, "layers with several outputs are not supported")
            }
            guard visiting.insert(ref).inserted else {
                throw fail(layer: ref.layer, "the layer graph has a cycle")
            }
            defer { visiting.remove(ref) }
            let inputIds: [Int]
            if entry.className == "InputLayer" {
                guard ref.node == 0 else { throw fail(layer: ref.layer, "input layer has no node \(ref.node)") }
                if layers[entry.name] == nil { layers[entry.name] = try inputLayer(entry.json) }
                inputIds = []
                shapes.append((layers[entry.name] as! InputLayer).shape)
            } else {
                let call = ref.node - firstCallIndex(entry)
                guard call >= 0, call < entry.calls.count else {
                    throw fail(layer: ref.layer, "a connection refers to call \(ref.node), the layer has \(entry.calls.count)")
                }
                inputIds = try entry.calls[call].inputs.map(resolve)
                let inputShapes = inputIds.map { shapes[$0] }
                if layers[entry.name] == nil {
                    layers[entry.name] = try buildLayer(entry.json, inputShapes: inputShapes, entryName: entry.name,
                                                        arguments: entry.calls[call].arguments)
                }
                let layer = layers[entry.name]!
                // Keras 3 saves `training: true` in every call of its image preprocessing layers
                // (their call's default) and its predict overrides a saved flag with False.
                let keras3Default = kerasMajor >= 3 && KerasAugmentationFamily.trainingByDefault.contains(entry.className)
                if entry.calls[call].training == true && layer.usesTrainingFlag && !keras3Default {
                    throw fail(.unsupportedOption, layer: entry.name,
                               "\(entry.className) is called with training=True, so Keras runs it in training mode even in predict (Monte Carlo dropout, batch statistics); Mien runs inference only and refuses such a call")
                }
                let shape = try KerasError.wrap(file: file) { try layer.outputShape(for: inputShapes) }
                try check(shape, layer: entry.name)
                shapes.append(shape)
            }
            nodes.append((entry.name, inputIds))
            resolved[ref] = nodes.count - 1
            return nodes.count - 1
        }

        let inputIds = try inputs.map(resolve)
        for (ref, id) in zip(inputs, inputIds) where entries[ref.layer]?.className != "InputLayer" {
            throw fail(layer: ref.layer, "model input \(id) is not an InputLayer")
        }
        let outputId = try resolve(outputs[0])

        // Keep Keras's `model.layers` order; drop layers no output depends on.
        let kept = order.filter { layers[$0] != nil }
        let index = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1, $0) })
        var graph = try KerasError.wrap(file: file) {
            try Graph(name: name, kerasClass: className, layers: kept.map { layers[$0]! },
                      nodes: nodes.map { Graph.Node(layer: index[$0.layer]!, inputs: $0.inputs) },
                      inputNodes: inputIds, outputNode: outputId)
        }
        graph.trainable = config["trainable"]?.bool ?? true
        return graph
    }

    /// The node index of a layer's first serialized call. tf.keras 2 does not serialize the
    /// node a nested model made when it was built on its own `Input`, but still counts it
    /// (`_should_skip_first_node`), so its calls start at 1; Keras 3 counts from 0.
    public static func firstCallIndex(className: String, kerasMajor: Int, startsWithInputLayer: Bool) -> Int {
        guard kerasMajor < 3, KerasLayers.modelClasses.contains(className) else { return 0 }
        return className != "Sequential" || startsWithInputLayer ? 1 : 0
    }

    private func firstCallIndex(_ entry: Entry) -> Int {
        let layers = entry.json["config"]?["layers"]?.array ?? entry.json["config"]?.array
        return ModelBuilder.firstCallIndex(className: entry.className, kerasMajor: kerasMajor,
                                           startsWithInputLayer: layers?.first?["class_name"]?.string == "InputLayer")
    }

    /// One call of a layer: tf.keras 2 writes `[[layer, node, tensor, kwargs], ...]`,
    /// Keras 3 writes `{"args": [...], "kwargs": {...}}` with `__keras_tensor__` objects.
    /// An argument Mien would not use (a constant operand such as the `3.0` of `x + 3.0`,
    /// or an unknown keyword) is refused, never dropped.
    private func parseCall(_ call: JSON, in layer: String, className: String) throws -> Call {
        let takesMask = KerasLayers.callsTakingMask.contains(className)
        var training: Bool?
        func keywords(_ kwargs: JSON?) throws {
            guard let kwargs, !kwargs.isNull else { return }
            guard let object = kwargs.object else { throw fail(layer: layer, "malformed call arguments \(kwargs.text.prefix(80))") }
            for key in object.keys.sorted() {
                let value = object[key]!
                switch (key, value) {
                case ("training", .bool(let flag)): training = training.map { $0 || flag } ?? flag
                case ("training", .null): break
                // Keras 3 saves `mask: null` for classes whose call has a mask argument;
                // Keras refuses a mask for the others.
                case ("mask", .null) where takesMask: break
                default: throw unusedArgument(key, value, layer: layer)
                }
            }
        }
        if let list = call.array {
            let refs = try list.map { item in
                guard let parts = item.array, parts.count >= 3, parts.count <= 4, let l = parts[0].string,
                      let n = parts[1].int, let t = parts[2].int, n >= 0, t >= 0 else {
                    throw fail(layer: layer, "malformed inbound node \(item.text.prefix(120))")
                }
                if parts.count == 4 { try keywords(parts[3]) }
                return Ref(layer: l, node: n, tensor: t)
            }
            return Call(inputs: refs, training: training)
        }
        guard let args = call["args"] else { throw fail(layer: layer, "malformed inbound node") }
        var refs: [Ref] = []
        func collect(_ value: JSON) throws {
            if value["class_name"]?.string == "__keras_tensor__" {
                guard let history = value["config"]?["keras_history"]?.array, history.count == 3,
                      let l = history[0].string, let n = history[1].int, let t = history[2].int, n >= 0, t >= 0 else {
                    throw fail(layer: layer, "malformed keras_history in an inbound node")
                }
                refs.append(Ref(layer: l, node: n, tensor: t))
            } else if let list = value.array {
                try list.forEach(collect)
            } else {
                throw unusedArgument(nil, value, layer: layer)
            }
        }
        try collect(args)
        try keywords(call["kwargs"])
        return Call(inputs: refs, training: training)
    }

    /// The call of an operation, its constants kept. tf.keras's TFOpLambda writes
    /// `[[first, node, tensor, {keyword: value}]]` with `["_CONSTANT_VALUE", -1, value]` for a
    /// constant first argument and `[layer, node, tensor]` for a tensor keyword; Keras 3
    /// writes `{"args": [...], "kwargs": {...}}`, tensors as `__keras_tensor__` objects.
    private func parseOperationCall(_ call: JSON, in layer: String) throws -> Call {
        var refs: [Ref] = []
        var arguments = OperationArguments()
        func reference(_ parts: [JSON]) -> Ref? {
            guard parts.count == 3, let l = parts[0].string, let n = parts[1].int, let t = parts[2].int,
                  n >= 0, t >= 0 else { return nil }
            return Ref(layer: l, node: n, tensor: t)
        }
        func tensor(_ ref: Ref) -> OperationArgument {
            refs.append(ref)
            return .tensor(refs.count - 1)
        }
        if var items = call.array {
            // A TFOpLambda's call is one `[first, node, tensor, kwargs]`, not a list of them.
            if items.first?.string != nil { items = [call] }
            guard items.count == 1, let parts = items[0].array, parts.count == 3 || parts.count == 4 else {
                throw fail(.unsupportedOption, layer: layer, "an operation call of \(items.count) tensors is not supported (\(call.text.prefix(120)))")
            }
            if parts[0].string == "_CONSTANT_VALUE", parts[1].int == -1 {
                arguments.positional.append(.constant(parts[2]))
            } else if let ref = reference(Array(parts[0..<3])) {
                arguments.positional.append(tensor(ref))
            } else {
                throw fail(layer: layer, "malformed inbound node \(items[0].text.prefix(120))")
            }
            if parts.count == 4, !parts[3].isNull {
                guard let kwargs = parts[3].object else { throw fail(layer: layer, "malformed call arguments \(parts[3].text.prefix(80))") }
                for key in kwargs.keys.sorted() {
                    let value = kwargs[key]!
                    if let list = value.array, let ref = reference(list) {
                        arguments.keywords[key] = tensor(ref)
                    } else {
                        arguments.keywords[key] = .constant(value)
                    }
                }
            }
            return Call(inputs: refs, training: nil, arguments: arguments)
        }
        guard let args = call["args"]?.array else { throw fail(layer: layer, "malformed inbound node \(call.text.prefix(120))") }
        func argument(_ value: JSON) throws -> OperationArgument {
            if value["class_name"]?.string == "__keras_tensor__" {
                guard let history = value["config"]?["keras_history"]?.array, let ref = reference(history) else {
                    throw fail(layer: layer, "malformed keras_history in an inbound node")
                }
                return tensor(ref)
            }
            // A list of tensors (`keras.ops.stack([a, b])`); tensors mixed with anything else
            // are no constant either.
            func holdsTensor(_ v: JSON) -> Bool {
                v["class_name"]?.string == "__keras_tensor__" || (v.array?.contains(where: holdsTensor) ?? false)
            }
            if let list = value.array, !list.isEmpty, list.allSatisfy({ $0["class_name"]?.string == "__keras_tensor__" }) {
                return .tensors(try list.map { item in
                    guard let history = item["config"]?["keras_history"]?.array, let ref = reference(history) else {
                        throw fail(layer: layer, "malformed keras_history in an inbound node")
                    }
                    guard case .tensor(let index) = tensor(ref) else { preconditionFailure() }
                    return index
                })
            }
            if holdsTensor(value) {
                throw fail(.unsupportedOption, layer: layer, "an operation on tensors mixed with constants in a list is not supported")
            }
            return .constant(value)
        }
        arguments.positional = try args.map(argument)
        if let kwargs = call["kwargs"], !kwargs.isNull {
            guard let object = kwargs.object else { throw fail(layer: layer, "malformed call arguments \(kwargs.text.prefix(80))") }
            for key in object.keys.sorted() { arguments.keywords[key] = try argument(object[key]!) }
        }
        return Call(inputs: refs, training: nil, arguments: arguments)
    }

    private func unusedArgument(_ key: String?, _ value: JSON, layer: String) -> KerasError {
        let what = key.map { "argument '\($0)' = \(value.text.prefix(60))" } ?? "the constant argument \(value.text.prefix(60))"
        return fail(.unsupportedOption, layer: layer,
                    "the layer is called with \(what), which Mien does not use, so it refuses the call rather than compute something else than Keras")
    }

    /// The keys a layer entry of a model config may have (Keras 2 and 3).
    static let entryKeys: Set<String> = ["class_name", "config", "name", "inbound_nodes", "module", "registered_name",
                                         "build_config", "compile_config", "shared_object_id"]

    /// Checks a layer entry before its config is read: only the keys Keras writes; not an
    /// operation (Keras 3 saves arithmetic on tensors, `x + 3.0` or `keras.ops.maximum(x, c)`,
    /// as operations from `keras.src.ops`, whose class names `Add`, `Multiply`, `Maximum` are
    /// those of merge layers that compute something else); a class Mien has.
    private func checkEntry(_ entry: JSON, name: String, className: String, operation: Bool = false) throws {
        if let keys = entry.object?.keys, let unknown = keys.sorted().first(where: { !ModelBuilder.entryKeys.contains($0) }) {
            throw fail(layer: name, "the layer entry has an unknown key '\(unknown)'")
        }
        // Operations are read with their call's arguments, which only a Functional model has.
        if operation { return }
        if KerasOperations.isOperation(entry, className: className, kerasMajor: kerasMajor) {
            throw fail(.unsupportedLayer, layer: name,
                       "'\(className)' is an operation (tensor arithmetic such as `x + 3.0`), which Mien reads in Functional models only")
        }
        // An unknown class is named before its calls are parsed (TFOpLambda's calls carry
        // constants in a form of their own).
        if className != "InputLayer", !KerasLayers.modelClasses.contains(className), KerasLayers.builders[className] == nil {
            throw unsupported(className, layer: name)
        }
    }

    private func unsupported(_ className: String, layer: String) -> KerasError {
        fail(.unsupportedLayer, layer: layer,
             "layer class '\(className)' is not supported; supported layers: \(KerasLayers.supported.joined(separator: ", "))")
    }

    /// `input_layers`/`output_layers`: a list of `[layer, node, tensor]`, or one such triple.
    private func endpoints(_ json: JSON?, in model: String) throws -> [Ref] {
        // Keras cannot run a model without inputs or outputs ("Graph disconnected").
        guard let list = json?.array, !list.isEmpty else {
            throw fail(layer: model, "model has no (or empty) input_layers/output_layers")
        }
        let triples = list.first?.string != nil ? [JSON.array(list)] : list
        return try triples.map { item in
            guard let parts = item.array, parts.count == 3, let l = parts[0].string,
                  let n = parts[1].int, let t = parts[2].int, n >= 0, t >= 0 else {
                throw fail(layer: model, "malformed input_layers/output_layers entry \(item.text.prefix(120))")
            }
            return Ref(layer: l, node: n, tensor: t)
        }
    }

    // MARK: Layers

    private func inputLayer(_ entry: JSON) throws -> InputLayer {
        let config = entry["config"]
        let name = config?["name"]?.string ?? entry["name"]?.string ?? "input"
        if kerasMajor >= 3, name.contains("/") {
            throw fail(layer: name, "a layer name cannot contain '/' in a Keras 3 model")
        }
        guard let shape = try declaredInputShape(config) else {
            throw fail(layer: name, "InputLayer has no batch_shape/batch_input_shape")
        }
        try check(shape, layer: name, what: "input")
        // Its other options, as for every layer: dense inputs only, nothing unknown.
        let options = LayerConfig(className: "InputLayer", name: name, config: config ?? .object([:]),
                                  kerasMajor: kerasMajor, file: file, budget: budget)
        for key in ["sparse", "ragged"] where try options.bool(key, default: false) {
            throw fail(.unsupportedOption, layer: name, "\(key) inputs are not supported")
        }
        _ = try options.bool("optional", default: false)
        options.used.keys.formUnion(["batch_shape", "batch_input_shape", "input_shape", "shape"])
        try options.refuseUnreadOptions()
        return InputLayer(name: name, shape: shape)
    }

    /// The input shape a config declares: Keras 3's `batch_shape`, tf.keras's
    /// `batch_input_shape`, or a batch-less `input_shape`/`shape`.
    private func declaredInputShape(_ config: JSON?, keys: [String] = ["batch_shape", "batch_input_shape"]) throws -> Shape? {
        guard let config else { return nil }
        func dims(_ list: [JSON]) throws -> Shape {
            try list.map { dim in
                guard dim.isNull || dim.int != nil else {
                    throw fail(layer: config["name"]?.string, "the input shape holds \(dim.text.prefix(40)), not a length or null")
                }
                return dim.int
            }
        }
        for key in keys {
            if let list = config[key]?.array { return try dims(list) }
        }
        for key in ["input_shape", "shape"] {
            if let list = config[key]?.array { return [nil] + (try dims(list)) }
        }
        return nil
    }

    /// Builds one layer (or a nested model) now that its input shapes are known.
    private func buildLayer(_ entry: JSON, inputShapes: [Shape], entryName: String?,
                            arguments: OperationArguments? = nil) throws -> any Layer {
        guard let className = entry["class_name"]?.string else {
            throw fail(layer: entryName, "layer entry has no class_name")
        }
        guard let config = entry["config"], config.object != nil else {
            throw fail(layer: entryName, "the \(className) entry has no config object")
        }
        let name = config["name"]?.string ?? entryName ?? className
        // Keras 3 refuses '/' in a layer name; tf.keras allows it (DenseNet's `conv1/conv`).
        if kerasMajor >= 3, name.contains("/") {
            throw fail(layer: name, "a layer name cannot contain '/' in a Keras 3 model")
        }
        var layer: any Layer
        if let arguments {
            let layerConfig = LayerConfig(className: className, name: name, config: config,
                                          kerasMajor: kerasMajor, file: file, budget: budget)
            layer = try KerasError.wrap(file: file) {
                try KerasOperations.build(layerConfig, arguments: arguments, inputShapes: inputShapes)
            }
            try layerConfig.refuseUnreadOptions()
        } else if KerasLayers.modelClasses.contains(className) {
            let nested = try buildModel(entry)
            _ = try KerasError.wrap(file: file) { try nested.outputShape(for: inputShapes) }
            layer = nested
        } else if let builder = KerasLayers.builders[className] {
            let layerConfig = LayerConfig(className: className, name: name, config: config,
                                          kerasMajor: kerasMajor, file: file, budget: budget,
                                          module: entry["module"]?.string, registeredName: entry["registered_name"]?.string)
            layer = try KerasError.wrap(file: file) { try builder(layerConfig, inputShapes) }
            try layerConfig.refuseUnreadOptions()
        } else {
            throw unsupported(className, layer: name)
        }
        if let trainable = config["trainable"]?.bool { layer.trainable = trainable }
        return layer
    }
}
