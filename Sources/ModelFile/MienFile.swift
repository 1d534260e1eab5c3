import Foundation
import KerasConfig
import NN

/// An error in a `.mien` file; it always names the file.
public struct MienFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// The `.mien` model file: safetensors, whose tensors are the weights under their Keras key
/// paths (`block1a_dwconv/depthwise_kernel`, HWIO), and whose `__metadata__` holds the graph
/// as Keras's `model_config`, the input adapter, the classes, the source and the training.
public enum MienFile {
    public static let formatName = "mien"
    public static let formatVersion = 1

    /// Writes `model` to `path` atomically (a temporary file renamed into place).
    public static func write(_ model: MienModel, to path: String) throws {
        let major = KerasConfigWriter.kerasMajor(for: model.graph)
        let config = try KerasConfigWriter(kerasMajor: major).modelConfig(model.graph)
        var metadata: [String: String] = [
            "format": formatName,
            "format_version": String(formatVersion),
            "keras_version": String(major),
            "graph": config.text,
            "classes": JSON.array(model.classes.map { .string($0) }).text,
            "source": model.source,
            "training": (model.training ?? .null).text,
        ]
        if let adapter = model.inputAdapter {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            metadata["input_adapter"] = String(decoding: try encoder.encode(adapter), as: UTF8.self)
        }
        let tensors = model.graph.parameters.map { (name: $0.name, tensor: $0.value) }
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: path)
    }

    /// Reads and validates a `.mien` file: every error names the file and what is wrong.
    public static func read(contentsOf path: String) throws -> MienModel {
        let file = try SafeTensorsFile(path: path)
        let meta = file.metadata
        func fail(_ message: String) -> MienFileError { MienFileError(path: path, message) }
        guard meta["format"] == formatName else {
            throw fail("not a Mien model file (metadata format is \(meta["format"].map { "'\($0)'" } ?? "missing"))")
        }
        guard let version = meta["format_version"].flatMap(Int.init), version <= formatVersion else {
            throw fail("format version \(meta["format_version"] ?? "missing") is newer than this Mien reads (\(formatVersion))")
        }
        func json(_ key: String) throws -> JSON {
            guard let text = meta[key] else { throw fail("metadata has no '\(key)'") }
            do { return try JSON(parsing: text) } catch { throw fail("metadata '\(key)' is not valid JSON") }
        }
        let major = Int(meta["keras_version"] ?? "3") ?? 3

        // The graph: Keras's config, validated by the same builder as Keras imports.
        var graph: Graph
        do {
            graph = try ModelBuilder(file: path, kerasMajor: major).buildModel(try json("graph"))
        } catch let error as KerasError {
            throw fail("graph: " + (error.layer.map { "layer '\($0)': " } ?? "") + error.message)
        }

        // Weights: exactly the graph's, each with the shape its layer expects.
        let expected = graph.parameters.map(\.name)
        let expectedSet = Set(expected)
        if let extra = file.tensors.first(where: { !expectedSet.contains($0.name) }) {
            throw fail("tensor '\(extra.name)' belongs to no weight of the graph")
        }
        for name in expected {
            guard file.info(name) != nil else { throw fail("the graph needs tensor '\(name)', which the file lacks") }
            do {
                try graph.setParameter(name, to: try file.tensor(name))
            } catch let error as LayerError {
                throw fail("tensor '\(name)': \(error.message)")
            }
        }

        var adapter: InputAdapter?
        if let text = meta["input_adapter"] {
            do {
                adapter = try JSONDecoder().decode(InputAdapter.self, from: Data(text.utf8))
            } catch {
                throw fail("metadata 'input_adapter' is not a valid input adapter")
            }
        }
        let classes = try json("classes").array?.compactMap(\.string) ?? []
        let training = try? json("training")
        let model = MienModel(graph: graph, inputAdapter: adapter, classes: classes, source: meta["source"] ?? "",
                              training: training == .null ? nil : training)
        do {
            _ = try model.fullGraph()
        } catch let error as LayerError {
            throw fail("the input adapter does not fit the graph: \(error.message)")
        }
        return model
    }
}
