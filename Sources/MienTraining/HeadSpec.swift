import MienKerasConfig
import MienNN

/// A head given as Keras layer calls (`--head`), split where training needs it:
/// the leading pooling layers have no weights and see the frozen feature map, so they run
/// with the backbone once per face; the rest (Dense, Dropout, Activation) is trained on the
/// cached vectors. The output layer, Dense(1, sigmoid) or Dense(k, softmax), is added.
public struct HeadSpec: Sendable, Equatable {
    public var pooling: [LayerSpec]
    public var trained: [LayerSpec]

    static let poolingClasses: Set<String> = ["AveragePooling2D", "MaxPooling2D", "GlobalAveragePooling2D",
                                              "GlobalMaxPooling2D", "Flatten"]

    /// Parses `--head`: `AveragePooling2D(4, strides=3), Flatten, Dense(256, relu), Dropout(0.3)`.
    public init(_ text: String) throws {
        let specs: [LayerSpec]
        do {
            specs = try LayerSpec.parse(text)
        } catch {
            throw TrainingError.invalidHead("\(error)")
        }
        let split = specs.firstIndex { !Self.poolingClasses.contains($0.className) } ?? specs.count
        pooling = Array(specs[..<split])
        trained = Array(specs[split...])
        if let misplaced = trained.first(where: { Self.poolingClasses.contains($0.className) }) {
            throw TrainingError.invalidHead("\(misplaced.className) must come before the first Dense, Dropout or Activation (pooling runs on the frozen feature map)")
        }
    }

    /// The pooling layers after a backbone whose output is `shape`. A feature map with no
    /// pooling given gets GlobalAveragePooling2D, as Keras's `pooling="avg"`.
    public func poolingLayers(after shape: Shape) throws -> [any Layer] {
        guard shape.count == 4 else {
            guard pooling.isEmpty else {
                throw TrainingError.invalidHead("the backbone gives vectors \(shape.kerasDescription); \(pooling[0].className) needs a feature map")
            }
            return []
        }
        let specs = pooling.isEmpty ? [LayerSpec(className: "GlobalAveragePooling2D", config: ["name": "avg_pool"])]
                                    : pooling
        let graph: Graph
        do {
            graph = try build(specs, input: shape, name: "pooling", prefix: "")
        } catch TrainingError.invalidHead(let message) {
            throw TrainingError.invalidHead("\(message), on the backbone's \(shape.kerasDescription) map; choose a pooling that fits it, or a larger --input-size")
        }
        guard graph.outputShape.count == 2 else {
            throw TrainingError.invalidHead("the pooling leaves a feature map \(graph.outputShape.kerasDescription); end it with Flatten or GlobalAveragePooling2D")
        }
        return Array(graph.layers.dropFirst())
    }

    /// A new head on `features` inputs: the trained layers, then the output layer, with
    /// Keras's initializers (glorot_uniform kernels drawn from `seed`, zero biases).
    public func head(features: Int, classes: Int, seed: UInt64) throws -> Head {
        guard classes >= 2 else { throw TrainingError.invalidHead("a classifier needs at least 2 classes, got \(classes)") }
        let output = LayerSpec(className: "Dense", config: [
            "name": "head_output", "units": .number(Double(classes == 2 ? 1 : classes)),
            "activation": classes == 2 ? "sigmoid" : "softmax"])
        let graph = try build(trained + [output], input: [nil, features], name: "head", prefix: "head_")
        var dense: UInt64 = 0
        let layers: [any Layer] = graph.layers.dropFirst().map { layer in
            guard let d = layer as? Dense else { return layer }
            defer { dense += 1 }
            return Head.glorotUniform(d, seed: seed, index: dense)
        }
        return try Head(layers: layers)
    }

    /// The most weights a head may have: training keeps four copies of them (the weights,
    /// their gradients and Adam's two moments), so 2^26 of them (256 MiB) take 1 GiB.
    public static let maxWeights = 1 << 26

    static func budget() -> WeightBudget {
        WeightBudget(limit: maxWeights, reason: "a head may have at most \(maxWeights) weights (training keeps 4 copies: 1 GiB)")
    }

    /// Builds the layers with the importer's Keras builders (and their checks); their errors
    /// name the layer.
    private func build(_ specs: [LayerSpec], input: Shape, name: String, prefix: String) throws -> Graph {
        let config = LayerSpec.sequentialConfig(specs, inputShape: input, name: name, prefix: prefix)
        do {
            return try ModelBuilder(file: "--head", kerasMajor: 3, budget: HeadSpec.budget()).buildModel(config)
        } catch let error as KerasError {
            throw TrainingError.invalidHead((error.layer.map { "layer '\($0)': " } ?? "") + error.message)
        }
    }
}
