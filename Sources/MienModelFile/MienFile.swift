import Foundation
import MienKerasConfig
import MienFiles
import MienNN

/// An error in a `.mien` file; it always names the file. The same shape as every other
/// unreadable file's error, so callers catch one type.
public typealias MienFileError = FileError

/// The `.mien` model file: safetensors, whose tensors are the weights under their Keras key
/// paths (`block1a_dwconv/depthwise_kernel`, HWIO), and whose `__metadata__` holds the graph
/// as Keras's `model_config`, the input adapter, the classes, the source and the training.
public enum MienFile {
    public static let formatName = "mien"
    /// Version 2 adds `test_time_augmentation`; a model without it is still written as 1, so
    /// older readers load it, while they refuse one whose predictions they would not reproduce.
    public static let formatVersion = 2

    /// Writes `model` to `path` atomically: to a temporary file, which is read back with
    /// `read` and compared with `model` (graph, weights bit for bit, adapter, classes) before
    /// it is renamed into place. A model that would not load again (a layer name the format
    /// cannot hold, say) is an error here, and nothing is left at `path`.
    public static func write(_ model: MienModel, to path: String) throws {
        let major = KerasConfigWriter.kerasMajor(for: model.graph)
        let config = try KerasConfigWriter(kerasMajor: major).modelConfig(model.graph)
        var metadata: [String: String] = [
            "format": formatName,
            "format_version": model.testTimeAugmentation == .none ? "1" : String(formatVersion),
            "keras_version": String(major),
            "graph": config.text,
            "classes": JSON.array(model.classes.map { .string($0) }).text,
            "source": model.source,
            "training": (model.training ?? .null).text,
        ]
        if model.testTimeAugmentation != .none {
            metadata["test_time_augmentation"] = model.testTimeAugmentation.rawValue
        }
        if let adapter = model.inputAdapter {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            metadata["input_adapter"] = String(decoding: try encoder.encode(adapter), as: UTF8.self)
        }
        let tensors = model.graph.parameters.map { (name: $0.name, tensor: $0.value) }
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: path) { written in
            let back: MienModel
            do {
                back = try read(contentsOf: written)
            } catch {
                throw MienFileError(path: path, "the model cannot be written: the file would not load again (\(message(of: error, at: written)))")
            }
            let expected = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
            let got = back.graph.parameters
            guard got.count == tensors.count,
                  got.allSatisfy({ expected[$0.name]?.isBitwiseEqual(to: $0.value) == true }),
                  back.inputAdapter == model.inputAdapter, back.classes == model.classes,
                  back.testTimeAugmentation == model.testTimeAugmentation,
                  try KerasConfigWriter(kerasMajor: major).modelConfig(back.graph) == config else {
                throw MienFileError(path: path, "the model cannot be written: the file read back differs from the model")
            }
        }
    }

    /// An error's text without the temporary file's name, which the user never sees.
    private static func message(of error: Error, at temporary: String) -> String {
        let text = "\(error)"
        return text.hasPrefix(temporary + ": ") ? String(text.dropFirst(temporary.count + 2)) : text
    }

    /// Reads and validates a `.mien` file: every error names the file and what is wrong.
    public static func read(contentsOf path: String) throws -> MienModel {
        try read(try SafeTensorsFile(path: path))
    }

    /// Reads and validates a `.mien` file held in memory (`path` names it in errors).
    public static func read(bytes: [UInt8], path: String = "<memory>") throws -> MienModel {
        try read(try SafeTensorsFile(bytes: bytes, path: path))
    }

    private static func read(_ file: SafeTensorsFile) throws -> MienModel {
        let path = file.path
        let meta = file.metadata
        func fail(_ message: String) -> MienFileError { MienFileError(path: path, message) }
        guard meta["format"] == formatName else {
            throw fail("not a Mien model file (metadata format is \(meta["format"].map { "'\($0)'" } ?? "missing"))")
        }
        guard let version = meta["format_version"].flatMap(Int.init), version >= 1 else {
            throw fail("format version \(meta["format_version"] ?? "missing") is not a version number")
        }
        guard version <= formatVersion else {
            throw fail("format version \(version) is newer than this Mien reads (\(formatVersion))")
        }
        func json(_ key: String) throws -> JSON {
            guard let text = meta[key] else { throw fail("metadata has no '\(key)'") }
            do { return try JSON(parsing: text) } catch { throw fail("metadata '\(key)' is not valid JSON") }
        }
        let major = meta["keras_version"].map { Int($0) } ?? 3
        guard let major, major == 2 || major == 3 else {
            throw fail("metadata 'keras_version' is '\(meta["keras_version"] ?? "")', not 2 or 3")
        }

        // The graph: Keras's config, validated by the same builder as Keras imports.
        var graph: Graph
        do {
            graph = try ModelBuilder(file: path, kerasMajor: major, budget: .file(bytes: file.fileSize))
                .buildModel(try json("graph"))
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
        // Malformed metadata is an error, never dropped: a model must not lose its class names.
        let classList = try json("classes")
        guard let classes = classList.array?.map(\.string), !classes.contains(nil),
              !classes.contains(""), Set(classes).count == classes.count else {
            throw fail("metadata 'classes' is not a list of distinct, non-empty class names: \(classList.text.prefix(80))")
        }
        let training = meta["training"] == nil ? JSON.null : try json("training")
        var augmentation = TestTimeAugmentation.none
        if let text = meta["test_time_augmentation"] {
            guard let value = TestTimeAugmentation(rawValue: text) else {
                throw fail("metadata 'test_time_augmentation' is '\(text.prefix(40))', not one of \(TestTimeAugmentation.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            augmentation = value
        }
        let model = MienModel(graph: graph, inputAdapter: adapter, classes: classes.compactMap { $0 }, source: meta["source"] ?? "",
                              training: training == .null ? nil : training, testTimeAugmentation: augmentation)
        do {
            _ = try model.fullGraph()
        } catch let error as LayerError {
            throw fail("the input adapter does not fit the graph: \(error.message)")
        }
        // A classifier's outputs (a vector per image) are named by its classes, one each.
        if !model.classes.isEmpty, graph.outputShape.count == 2, model.classes.count != model.outputNames.count {
            throw fail("metadata 'classes' names \(model.classes.count) classes, but the model gives \(model.outputNames.count) (\(graph.outputShape.kerasDescription))")
        }
        return model
    }
}

