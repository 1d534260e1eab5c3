import Foundation
import MienHDF5
import MienKerasConfig
import MienNN

/// Reads weights from the two HDF5 layouts Keras writes and assigns them to a graph,
/// each through a name map plus a shape check that throws.
enum WeightLoading {
    // MARK: Legacy layout: `model.save("x.h5")`'s `model_weights`, and tf.keras `save_weights("x.h5")`

    /// Loads a group with a `layer_names` attribute, each layer's subgroup listing its
    /// datasets in `weight_names` in Keras's weight order.
    static func loadLegacy(_ group: HDF5Group, into graph: inout Graph, file: String, kerasMajor: Int) throws {
        guard let layerNames = try group.stringArrayAttribute("layer_names") else {
            throw KerasError(.notAModel, file: file, "\(group.path) has no 'layer_names': not a Keras weights group")
        }
        // Keras 3 also saves the weights of the model object itself (none, for the models
        // Keras builds); Keras would try to load any that were listed.
        if group.isGroup("top_level_model_weights"),
           let names = try group.group("top_level_model_weights").stringArrayAttribute("weight_names"), !names.isEmpty {
            throw KerasError(.missingWeight, file: file, "\(group.path)/top_level_model_weights lists weights of the model itself (\(names.prefix(3).joined(separator: ", "))), which Mien does not support")
        }
        var loaded: Set<String> = []
        for layerName in layerNames {
            // Keras opens every listed name (an empty one fails there too).
            guard !layerName.isEmpty else {
                throw KerasError(.missingWeight, file: file, "\(group.path)/layer_names lists an empty name")
            }
            let layerGroup = try group.group(layerName)
            let weightNames = try layerGroup.stringArrayAttribute("weight_names") ?? []
            if weightNames.isEmpty { continue }
            guard let index = graph.layerIndex(named: layerName) else {
                throw KerasError(.missingWeight, file: file, layer: layerName,
                                 "the file has weights for this layer but the model has no layer of that name")
            }
            var stored: [(name: String, dataset: HDF5Dataset)] = []
            for weightName in weightNames {
                guard layerGroup.isDataset(weightName) else {
                    throw KerasError(.missingWeight, file: file, layer: layerName,
                                     "weight '\(weightName)' is listed in weight_names but \(layerGroup.path)/\(weightName) is missing")
                }
                stored.append((weightName, try layerGroup.dataset(weightName)))
            }
            try assign(stored, to: &graph.layers[index], file: file, kerasMajor: kerasMajor)
            loaded.insert(layerName)
        }
        try requireAllLoaded(graph, loaded, file: file)
    }

    /// Assigns a layer's weights as listed in a file: by name where every name matches
    /// exactly one weight of the layer (Keras 2's `conv/kernel:0`, Keras 3's
    /// `model/conv/kernel`), else by Keras's weight order, as Keras itself loads them.
    /// Every dataset's shape is compared with its weight's before any data is read, so a
    /// dataset that claims billions of elements is refused, not allocated.
    static func assign(_ stored: [(name: String, dataset: HDF5Dataset)], to layer: inout any Layer,
                       file: String, kerasMajor: Int) throws {
        let expected = WeightOrder.ordered(layer, kerasMajor: kerasMajor)
        guard stored.count == expected.count else {
            throw KerasError(.missingWeight, file: file, layer: layer.name,
                             "the file has \(stored.count) weights (\(stored.map(\.name).joined(separator: ", "))), the layer expects \(expected.count) (\(expected.map(\.name).joined(separator: ", ")))")
        }
        let targets = matchByName(stored.map(\.name), expected.map { "\(layer.name)/\($0.name)" })
            ?? Array(expected.indices)
        for (value, target) in zip(stored, targets) {
            let parameter = expected[target]
            guard value.dataset.shape == parameter.value.shape else {
                throw KerasError(.weightShape, file: file, layer: layer.name,
                                 "weight '\(value.name)' has shape \(value.dataset.shape) in the file, the layer built from the config expects \(parameter.value.shape) for '\(parameter.name)'")
            }
        }
        for (value, target) in zip(stored, targets) {
            let tensor = Tensor(shape: value.dataset.shape, scalars: try value.dataset.readFloats())
            try KerasError.reading(file) { try layer.setParameter(expected[target].name, to: tensor) }
        }
    }

    /// A one-to-one map from file weight names to expected key paths, comparing the last
    /// two path components (`layer/weight`), or nil if any name is missing or ambiguous.
    static func matchByName(_ fileNames: [String], _ expected: [String]) -> [Int]? {
        func key(_ name: String) -> String {
            var parts = name.split(separator: "/").map(String.init)
            guard var last = parts.popLast() else { return name }
            // Keras 2 suffixes variable names with ":0".
            if let colon = last.lastIndex(of: ":"), Int(last[last.index(after: colon)...]) != nil {
                last = String(last[..<colon])
            }
            // Keras 3 calls DepthwiseConv2D's kernel `kernel`, Keras 2 `depthwise_kernel`.
            if last == "depthwise_kernel" { last = "kernel" }
            return (parts.last.map { [$0] } ?? []).joined() + "/" + last
        }
        var byKey: [String: [Int]] = [:]
        for (i, name) in expected.enumerated() { byKey[key(name), default: []].append(i) }
        var used: Set<Int> = []
        var result: [Int] = []
        for name in fileNames {
            guard let candidates = byKey[key(name)], candidates.count == 1,
                  used.insert(candidates[0]).inserted else { return nil }
            result.append(candidates[0])
        }
        return result
    }

    private static func requireAllLoaded(_ graph: Graph, _ loaded: Set<String>, file: String) throws {
        for layer in graph.layers where !layer.parameters.isEmpty && !loaded.contains(layer.name) {
            throw KerasError(.missingWeight, file: file, layer: layer.name, "the file has no weights for this layer")
        }
    }

    // MARK: Keras 3 layout: `model.save_weights("x.weights.h5")`

    /// Loads Keras 3's `.weights.h5`: `layers/<name>/vars/<i>` per layer, nested models
    /// under their own `layers/`, where `<name>` is the snake-cased class name made
    /// unique with `_1`, `_2`, ... in layer order (Keras's `saving_lib`).
    static func loadKeras3(_ group: HDF5Group, into graph: inout Graph, file: String) throws {
        let layersGroup = group.contains("layers") ? try group.group("layers") : nil
        // Keras 3 saves a Functional model's InputLayers (stateless) but not a Sequential's.
        let countsInputs = layersGroup?.contains("input_layer") ?? false
        var used: [String: Int] = [:]
        for index in graph.layers.indices {
            let layer = graph.layers[index]
            if layer is InputLayer && !countsInputs { continue }
            // Keras 3's operations are not in `model.layers`, so they take no key.
            if let operation = layer as? any OperationLayer, !operation.isKerasLayer { continue }
            var key = snakeCase(layer.kerasClass)
            if let n = used[key] {
                used[key] = n + 1
                key += "_\(n + 1)"
            } else {
                used[key] = 0
            }
            guard let layersGroup, layersGroup.isGroup(key) else {
                if layer.parameters.isEmpty { continue }
                throw KerasError(.missingWeight, file: file, layer: layer.name,
                                 "the file has no group \(group.path)/layers/\(key) for this layer")
            }
            let layerGroup = try layersGroup.group(key)
            if var nested = layer as? Graph {
                try loadKeras3(layerGroup, into: &nested, file: file)
                graph.layers[index] = nested
                continue
            }
            let vars = layerGroup.contains("vars") ? try layerGroup.group("vars") : nil
            if let stored = try vars?.stringAttribute("name"), stored != layer.name {
                throw KerasError(.missingWeight, file: file, layer: layer.name,
                                 "\(layerGroup.path) holds the weights of layer '\(stored)': the file does not match this architecture")
            }
            let parameters = layer.parameters
            let count = try vars?.childNames().count ?? 0
            guard count == parameters.count else {
                throw KerasError(.missingWeight, file: file, layer: layer.name,
                                 "\(layerGroup.path)/vars has \(count) weights, the layer expects \(parameters.count)")
            }
            // Shapes first, data after: see `assign`.
            let datasets = try (0..<count).map { try vars!.dataset(String($0)) }
            for (i, (dataset, parameter)) in zip(datasets, parameters).enumerated() where dataset.shape != parameter.value.shape {
                throw KerasError(.weightShape, file: file, layer: layer.name,
                                 "weight \(i) ('\(parameter.name)') has shape \(dataset.shape) in the file, the layer expects \(parameter.value.shape)")
            }
            for (dataset, parameter) in zip(datasets, parameters) {
                let tensor = Tensor(shape: dataset.shape, scalars: try dataset.readFloats())
                try KerasError.reading(file) { try graph.layers[index].setParameter(parameter.name, to: tensor) }
            }
        }
    }

    /// Keras's `naming.to_snake_case`.
    static func snakeCase(_ name: String) -> String {
        func replace(_ s: String, _ pattern: String, _ template: String) -> String {
            let regex = try! NSRegularExpression(pattern: pattern)
            return regex.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
        }
        var s = replace(name, "\\W+", "")
        s = replace(s, "(.)([A-Z][a-z]+)", "$1_$2")
        return replace(s, "([a-z])([A-Z])", "$1_$2").lowercased()
    }
}
