import Faces
import Foundation
import NN

/// Everything that decides a fine-tuning run; recorded in the model file and the
/// checkpoint, so a resumed run can check it continues the same job.
public struct FineTuneSettings: Codable, Equatable, Sendable {
    public var backbone: String
    public var featuresFrom: String?
    public var inputSize: Int
    public var classes: [String]
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: String
    public var learningRate: Float
    public var momentum: Float
    public var augmentation: Augmentation
    public var cachedViews: Int
    public var validationSplit: Double
    public var seed: UInt64
    public var classWeight: String
    public var patience: Int?
    /// The head as Keras layer calls (`HeadSpec`); the output layer is added.
    public var head: String

    public init(backbone: String, featuresFrom: String? = nil, inputSize: Int = 96, classes: [String],
                epochs: Int = 10, batchSize: Int = 32, optimizer: String = "adam", learningRate: Float = 0.001,
                momentum: Float = 0.9, augmentation: Augmentation = .none, cachedViews: Int = 1,
                validationSplit: Double = 0.2, seed: UInt64 = 42, classWeight: String = "none",
                patience: Int? = 3, head: String = "Dropout(0.2)") {
        self.backbone = backbone
        self.featuresFrom = featuresFrom
        self.inputSize = inputSize
        self.classes = classes
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.augmentation = augmentation
        self.cachedViews = cachedViews
        self.validationSplit = validationSplit
        self.seed = seed
        self.classWeight = classWeight
        self.patience = patience
        self.head = head
    }
}

/// The frozen part of the model: input adapter, backbone (possibly cut at an inner layer)
/// and the head's pooling, mapping raw 48×48 faces to one feature vector each.
public struct FeatureExtractor: Sendable {
    public let adapter: InputAdapter
    public let backbone: Graph
    /// The parameter-free layers from the feature map to a vector (`HeadSpec.poolingLayers`).
    public let pooling: [any Layer]
    public let graph: Graph

    public init(backbone full: Graph, inputSize: Int, featuresFrom: String?, head: HeadSpec = try! HeadSpec("")) throws {
        var backbone = full
        if let layer = featuresFrom {
            guard let cut = try full.truncated(at: layer) else {
                throw TrainingSetupError("the backbone has no layer '\(layer)' (--features-from)")
            }
            backbone = cut
        }
        guard backbone.inputShapes.count == 1, let input = backbone.inputShapes.first, input.count == 4,
              [1, 3].contains(input[3] ?? 0) else {
            throw TrainingSetupError("the backbone does not take one image of 1 or 3 channels (its inputs are \(backbone.inputShapes.map(\.kerasDescription).joined(separator: ", ")))")
        }
        if let h = input[1], let w = input[2], (h, w) != (inputSize, inputSize) {
            throw TrainingSetupError("the backbone takes \(h)×\(w) images only; use --input-size \(h)")
        }
        // Frozen: not trainable, and BatchNormalization uses its moving statistics.
        backbone.trainable = false
        self.backbone = backbone
        let channels = backbone.inputShapes.first?.last.flatMap { $0 } ?? 3
        adapter = InputAdapter.fer(size: inputSize, channels: channels)
        var model = try adapter.prepended(to: backbone)
        guard [2, 4].contains(model.outputShape.count) else {
            throw TrainingSetupError("the backbone's output \(model.outputShape.kerasDescription) is neither a feature map nor a vector")
        }
        pooling = try head.poolingLayers(after: model.outputShape)
        if !pooling.isEmpty {
            var (layers, nodes, last) = (model.layers, model.nodes, model.outputNode)
            for layer in pooling {
                layers.append(layer)
                nodes.append(.init(layer: layers.count - 1, inputs: [last]))
                last = nodes.count - 1
            }
            model = try Graph(name: "features", layers: layers, nodes: nodes, inputNodes: model.inputNodes,
                              outputNode: last)
        }
        guard let features = model.outputShape.last.flatMap({ $0 }), features > 0 else {
            throw TrainingSetupError("the backbone has no usable output (\(model.outputShape.kerasDescription))")
        }
        graph = try model.optimizedForInference(foldingZeroPadding: true)
    }

    public var featureCount: Int { graph.outputShape.last.flatMap { $0 } ?? 0 }

    /// Faces per forward pass: one small slice per core (`BatchRunner.imagesPerSlice`).
    public var batchSize: Int { BatchRunner.imagesPerSlice(side: adapter.outputSize[0]) * BatchRunner.cores }

    /// Feature vectors `[count, C]` of `count` faces, face `i`'s 48×48 float pixels made by
    /// `face(i)` only when its batch is next, so augmented views never all sit in memory.
    /// The next batch's pixels (decoding, augmentation) are made on another thread while the
    /// backbone runs on the current one.
    public func features(count: Int, batchSize: Int = 64, face: @escaping @Sendable (Int) -> [Float],
                         progress: (Int) throws -> Void = { _ in }) throws -> Tensor {
        let side = FaceDataset.side
        let starts = Array(stride(from: 0, to: count, by: batchSize))
        @Sendable func batch(_ start: Int) -> Tensor {
            let end = min(start + batchSize, count)
            return Tensor(shape: [end - start, side, side, 1], scalars: (start..<end).flatMap(face))
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(count * featureCount)
        let next = Prefetched<Tensor>()
        if let first = starts.first { next.start { batch(first) } }
        for (k, start) in starts.enumerated() {
            let current = next.wait()
            if k + 1 < starts.count { next.start { batch(starts[k + 1]) } }
            scalars += try BatchRunner.forward(graph, current).scalars
            try progress(min(start + batchSize, count))
        }
        return Tensor(shape: [count, featureCount], scalars: scalars)
    }
}

/// One value computed on a background thread; `wait` blocks until it is ready.
final class Prefetched<Value: Sendable>: @unchecked Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private var value: Value?

    func start(_ make: @escaping @Sendable () -> Value) {
        DispatchQueue.global(qos: .userInitiated).async {
            self.value = make()   // read only after `ready` is signalled
            self.ready.signal()
        }
    }

    func wait() -> Value {
        ready.wait()
        defer { value = nil }
        return value!
    }
}

public struct TrainingSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}

