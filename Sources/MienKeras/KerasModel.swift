import Foundation
import MienHDF5
import MienKerasConfig
import MienFiles
import MienNN

/// A Keras model imported from its files: the layer graph plus what the file says about it.
public struct KerasModel: Sendable {
    public var graph: Graph
    /// The Keras version that wrote the file (`keras_version`), e.g. "2.21.0" or "3.15.1".
    public var kerasVersion: String?
    public var backend: String?
    /// The file the architecture came from.
    public var path: String
    /// The initializer each weight names in the config (`kernel_initializer`, ...), by layer
    /// name and weight name: what training from scratch draws (`ModelInitializer`).
    public var initializers: [String: [String: JSON]] = [:]

    /// Imports a full model saved with `model.save("x.h5")` or `model.save("x.keras")`
    /// (tf.keras 2.x or Keras 3), told apart by their contents, not their names.
    public init(contentsOf path: String) throws {
        if KerasArchive.isArchive(path) {
            try self.init(archive: KerasArchive(path: path))
            return
        }
        let file = try KerasModel.open(path)
        let root = file.root
        let (config, version, backend) = try KerasModel.architecture(in: root, path: path)
        let major = KerasModel.major(version, config: config)
        var graph = try ModelBuilder(file: path, kerasMajor: major, budget: .file(bytes: file.fileSize))
            .buildModel(config)
        guard root.isGroup("model_weights") else {
            throw KerasError(.missingWeight, file: path, "the file has a model_config but no model_weights group")
        }
        try KerasError.reading(path) {
            try WeightLoading.loadLegacy(try root.group("model_weights"), into: &graph, file: path, kerasMajor: major)
        }
        self.init(graph: graph, kerasVersion: version, backend: backend, path: path)
        initializers = KerasModel.initializers(in: config)
    }

    /// A `.keras` zip: `config.json`, `metadata.json`'s version, and `model.weights.h5` in
    /// Keras 3's layout (tf.keras 2 writes the same layout, without the weightless layers).
    private init(archive: KerasArchive) throws {
        let path = archive.path
        let config = try archive.config()
        let version = try archive.kerasVersion()
        try KerasModel.refuseKeras1(version, path: path)
        let major = KerasModel.major(version, config: config)
        // The weights are read first: the model may not declare more weights than they hold.
        let weights = try archive.weights()
        var graph = try ModelBuilder(file: path, kerasMajor: major, budget: .file(bytes: weights.fileSize))
            .buildModel(config)
        try KerasError.reading(path) {
            try WeightLoading.loadKeras3(weights.root, into: &graph, file: path)
        }
        self.init(graph: graph, kerasVersion: version, backend: nil, path: path)
        initializers = KerasModel.initializers(in: config)
    }

    /// Whether `path` is a Keras model file by its contents: HDF5 (`.h5`, `.weights.h5`) or a
    /// zip (`.keras`). What the CLI asks to send a file to the Keras importer.
    public static func isKerasFile(_ path: String) -> Bool {
        HDF5File.isHDF5(path) || KerasArchive.isArchive(path)
    }

    /// Imports an architecture (a full-model `.h5` or `.keras`, or a `model.to_json()` file)
    /// with the weights of another file: a tf.keras `save_weights` `.h5`, a Keras 3
    /// `.weights.h5`, or another full-model `.h5` or `.keras`.
    public init(architecture: String, weights: String) throws {
        let config: JSON, version: String?, backend: String?
        if KerasArchive.isArchive(architecture) {
            let archive = try KerasArchive(path: architecture)
            (config, version, backend) = (try archive.config(), try archive.kerasVersion(), nil)
            try KerasModel.refuseKeras1(version, path: architecture)
        } else if HDF5File.isHDF5(architecture) {
            (config, version, backend) = try KerasModel.architecture(in: try KerasModel.open(architecture).root,
                                                                      path: architecture)
        } else {
            let text: String
            do {
                text = try RegularFile.text(architecture, limit: KerasModel.maxConfigBytes, what: "the model config")
            } catch let error as FileError {
                throw KerasError(.notAModel, file: architecture, "cannot read the file: \(error.message)")
            }
            do { config = try JSON(parsing: text) } catch {
                throw KerasError(.notAModel, file: architecture, "neither HDF5 nor JSON: \(error)")
            }
            (version, backend) = (config["keras_version"]?.string, config["backend"]?.string)
            try KerasModel.refuseKeras1(version, path: architecture)
        }
        let major = KerasModel.major(version, config: config)
        // The weights file is opened first: the model may not declare more weights than it holds.
        let weightsFile = KerasArchive.isArchive(weights) ? try KerasArchive(path: weights).weights()
            : try KerasModel.open(weights)
        var graph = try ModelBuilder(file: architecture, kerasMajor: major, budget: .file(bytes: weightsFile.fileSize))
            .buildModel(config)

        let root = weightsFile.root
        try KerasError.reading(weights) {
            if root.hasAttribute("layer_names") {
                try WeightLoading.loadLegacy(root, into: &graph, file: weights, kerasMajor: major)
            } else if root.isGroup("model_weights") {
                try WeightLoading.loadLegacy(try root.group("model_weights"), into: &graph, file: weights,
                                             kerasMajor: major)
            } else if root.isGroup("layers") || root.isGroup("vars") {
                try WeightLoading.loadKeras3(root, into: &graph, file: weights)
            } else {
                throw KerasError(.notAModel, file: weights,
                                 "no Keras weights found (no layer_names, model_weights or layers)")
            }
        }
        self.init(graph: graph, kerasVersion: version, backend: backend, path: architecture)
        initializers = KerasModel.initializers(in: config)
    }

    /// Every layer's `<weight>_initializer` entries (nested models searched), keyed by the
    /// layer's name and the weight's (`kernel`, `depthwise_kernel`, `gamma`, ...).
    static func initializers(in config: JSON) -> [String: [String: JSON]] {
        var found: [String: [String: JSON]] = [:]
        func visit(_ layer: JSON) {
            guard let body = layer["config"] else { return }
            if let layers = body["layers"]?.array {
                layers.forEach(visit)
                return
            }
            guard let name = body["name"]?.string, case .object(let options) = body else { return }
            for (key, value) in options where key.hasSuffix("_initializer") {
                let weight = String(key.dropLast("_initializer".count))
                found[name, default: [:]][weight == "depthwise" || weight == "pointwise" ? weight + "_kernel" : weight] = value
            }
        }
        visit(config)
        return found
    }

    public init(graph: Graph, kerasVersion: String?, backend: String?, path: String) {
        self.graph = graph
        self.kerasVersion = kerasVersion
        self.backend = backend
        self.path = path
    }

    /// Runs the model in inference mode, as Keras's `model(x, training=False)`.
    public func predict(_ inputs: [Tensor]) throws -> Tensor {
        try graph.forward(inputs)
    }

    public func predict(_ input: Tensor) throws -> Tensor {
        try graph.forward([input])
    }

    /// The largest `model.to_json()` file read (the config of a DenseNet201 is about 1 MB).
    public static let maxConfigBytes = 64 << 20

    // MARK: File helpers

    static func open(_ path: String) throws -> HDF5File {
        do {
            return try HDF5File(path: path)
        } catch let error as HDF5Error {
            // Only called for a file that is no zip: say so too, a `.keras` is one.
            let zip = error.message.hasPrefix("not an HDF5 file") ? " nor a zip archive (.keras)" : ""
            throw KerasError(.notAModel, file: path, error.message + zip)
        }
    }

    /// The parsed `model_config`, `keras_version` and `backend` of a full-model file.
    private static func architecture(in root: HDF5Group, path: String) throws -> (JSON, String?, String?) {
        try KerasError.reading(path) {
            let version = try root.stringAttribute("keras_version")
            try refuseKeras1(version, path: path)
            guard let text = try root.stringAttribute("model_config") else {
                if root.hasAttribute("layer_names") || root.isGroup("layers") {
                    throw KerasError(.notAModel, file: path,
                                     "this is a weights-only file: give the architecture too (a full-model .h5 or a model.to_json() file)")
                }
                throw KerasError(.notAModel, file: path, "no 'model_config' attribute: not a Keras model saved with model.save(\"x.h5\")")
            }
            let config: JSON
            do { config = try JSON(parsing: text) } catch {
                throw KerasError(.invalidConfig, file: path, "model_config is not valid JSON: \(error)")
            }
            return (config, version, try root.stringAttribute("backend"))
        }
    }

    private static func refuseKeras1(_ version: String?, path: String) throws {
        if let version, version.hasPrefix("1.") || version.hasPrefix("0.") {
            throw KerasError(.unsupportedVersion, file: path,
                             "written by Keras \(version); Mien reads files from tf.keras 2.x and Keras 3 only (re-save the model with a current Keras)")
        }
    }

    /// The Keras major version; from the config's style when the file does not say.
    private static func major(_ version: String?, config: JSON?) -> Int {
        if let version, let first = version.split(separator: ".").first, let major = Int(first) { return major }
        return config?["module"] != nil ? 3 : 2
    }

    /// The major version of the Keras that wrote the file (3 when it does not say).
    public var kerasMajor: Int { kerasVersion == nil ? 3 : KerasModel.major(kerasVersion, config: nil) }
}
