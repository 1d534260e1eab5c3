import MienFaces
import Foundation
import MienModelFile
import MienNN

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
    /// The second stage, when the backbone's top is fine-tuned after the head; nil in files
    /// made before it existed, and with `--fine-tune-from none`.
    public var fineTune: FineTuneStage?
    /// `mien train --model`: `backbone` is a whole classifier that trains as it is (no new
    /// head, one stage, `head` and `fineTune` unused).
    public var model: ModelTraining?
    /// What the written model averages over at prediction time; nil (none) in files made
    /// before it existed.
    public var testTimeAugmentation: TestTimeAugmentation?

    public init(backbone: String, featuresFrom: String? = nil, inputSize: Int = 96, classes: [String],
                epochs: Int = 10, batchSize: Int = 32, optimizer: String = "adam", learningRate: Float = 0.001,
                momentum: Float = 0.9, augmentation: Augmentation = .none, cachedViews: Int = 1,
                validationSplit: Double = 0.2, seed: UInt64 = 42, classWeight: String = "none",
                patience: Int? = 3, head: String = "Dropout(0.2)", fineTune: FineTuneStage? = nil,
                model: ModelTraining? = nil, testTimeAugmentation: TestTimeAugmentation? = nil) {
        self.testTimeAugmentation = testTimeAugmentation
        self.fineTune = fineTune
        self.model = model
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

/// How an imported classifier trains as a whole (`mien train --model`).
public struct ModelTraining: Codable, Equatable, Sendable {
    /// The first layer that trains (nil: every layer); the ones before are frozen and their
    /// output is computed once.
    public var trainFrom: String?
    /// Draw every weight again from the initializers its config names.
    public var fromScratch: Bool
    /// Multiplies the raw 0...255 pixels (ImageDataGenerator's `rescale`; 1/255 for a model
    /// trained on 0...1).
    public var rescale: Float

    public init(trainFrom: String? = nil, fromScratch: Bool = false, rescale: Float = 1) {
        self.trainFrom = trainFrom
        self.fromScratch = fromScratch
        self.rescale = rescale
    }
}

/// Stage 2 of Keras's transfer-learning recipe: after the head has been trained on the
/// frozen backbone, the backbone from layer `from` to its end is unfrozen and trained on with
/// the head at a lower learning rate, with its own early stopping.
public struct FineTuneStage: Codable, Equatable, Sendable {
    /// The first unfrozen layer.
    public var from: String
    public var learningRate: Float
    public var epochs: Int
    /// Train the unfrozen BatchNormalization layers (batch statistics, moving averages
    /// updated); by default they stay in inference mode with their weights fixed, as Keras's
    /// guide recommends for small data.
    public var trainBatchNorm: Bool
    /// What stage 2's early stopping and best epoch watch; nil (the validation loss) in files
    /// made before it existed.
    public var monitor: Monitor?

    public init(from: String, learningRate: Float = 1e-4, epochs: Int = 10, trainBatchNorm: Bool = false,
                monitor: Monitor? = nil) {
        self.monitor = monitor
        self.from = from
        self.learningRate = learningRate
        self.epochs = epochs
        self.trainBatchNorm = trainBatchNorm
    }
}

/// The frozen part of the model: input adapter, backbone (possibly cut at an inner layer)
/// and the head's pooling, mapping raw 48×48 faces to one feature vector each.
public struct FeatureExtractor: Sendable {
    public let adapter: InputAdapter
    public private(set) var backbone: Graph
    /// The parameter-free layers from the feature map to a vector (`HeadSpec.poolingLayers`).
    public let pooling: [any Layer]
    public let graph: Graph

    public init(backbone full: Graph, inputSize: Int, featuresFrom: String?, head: HeadSpec = try! HeadSpec(""),
                rescale: Float = 1) throws {
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
        adapter = InputAdapter.fer(size: inputSize, channels: channels, scale: rescale)
        var model = try adapter.prepended(to: backbone)
        guard [2, 4].contains(model.outputShape.count) else {
            throw TrainingSetupError("the backbone's output \(model.outputShape.kerasDescription) is neither a feature map nor a vector")
        }
        pooling = try head.poolingLayers(after: model.outputShape)
        model = try model.appending(pooling)
        guard let features = model.outputShape.last.flatMap({ $0 }), features > 0 else {
            throw TrainingSetupError("the backbone has no usable output (\(model.outputShape.kerasDescription))")
        }
        graph = try model.optimizedForInference(forRunning: true)
    }

    public var featureCount: Int { graph.outputShape.last.flatMap { $0 } ?? 0 }

    /// The model split before the first layer that the second stage unfreezes.
    public struct Split: Sendable {
        /// Adapter → backbone up to the cut, optimized for inference: run once per face.
        public var frozen: Graph
        /// The backbone from the cut on, then the pooling, as it trains (the head goes after).
        public var trainable: Graph
        /// `trainable` optimized for inference: what turns the cached cut into features.
        public var trainableInference: Graph
    }
    public private(set) var split: Split?

    /// Splits the model before layer `layer` of the backbone (`FineTuneStage.from`): that layer
    /// and everything after it train in stage 2. The backbone is flattened first, so its
    /// weights keep their layer names as key paths. BatchNormalization layers after the cut
    /// stay frozen (inference mode) unless `trainBatchNorm`.
    public mutating func split(before layer: String, trainBatchNorm: Bool) throws {
        let flat = try backbone.flattened()
        guard let index = flat.layerIndex(named: layer), let node = flat.nodes.first(where: { $0.layer == index }) else {
            throw TrainingSetupError("--fine-tune-from: the backbone has no layer '\(layer)' (mien inspect lists them; the head's layers are new and train in both stages)")
        }
        guard node.inputs.count == 1 else {
            throw TrainingSetupError("--fine-tune-from: layer '\(layer)' reads \(node.inputs.count) tensors; name a layer with one input, such as a block's first convolution")
        }
        let cut = flat.layers[flat.nodes[node.inputs[0]].layer].name
        var suffix: Graph
        do {
            guard let found = try flat.suffix(after: cut) else {
                throw TrainingSetupError("--fine-tune-from: cannot cut the backbone before '\(layer)'")
            }
            suffix = found
        } catch let error as LayerError {
            throw TrainingSetupError("--fine-tune-from \(layer): \(error)")
        }
        guard let prefix = try flat.truncated(at: cut) else {
            throw TrainingSetupError("--fine-tune-from: cannot cut the backbone before '\(layer)'")
        }
        let frozen = try adapter.prepended(to: prefix)
        // The cut's shape at this input size (a backbone that takes any size leaves it open).
        var layers = suffix.layers
        layers[suffix.nodes[suffix.inputNodes[0]].layer] = InputLayer(name: "\(cut)_output", shape: frozen.outputShape)
        suffix = try Graph(name: suffix.name, kerasClass: suffix.kerasClass, layers: layers, nodes: suffix.nodes,
                           inputNodes: suffix.inputNodes, outputNode: suffix.outputNode)
        suffix = try suffix.mapLayers { layer in
            var layer = layer
            layer.trainable = trainBatchNorm || !(layer is BatchNormalization)
            return layer
        }
        suffix.trainable = true
        let trainable = try suffix.appending(pooling)
        split = Split(frozen: try frozen.optimizedForInference(forRunning: true),
                      trainable: trainable,
                      trainableInference: try trainable.optimizedForInference(forRunning: true))
        backbone = flat
    }

    /// Faces per forward pass: one small slice per core (`BatchRunner.imagesPerSlice`).
    public var batchSize: Int { BatchRunner.imagesPerSlice(side: adapter.outputSize[0]) * BatchRunner.cores }

    /// Feature vectors `[count, C]` of `count` faces, face `i`'s 48×48 float pixels made by
    /// `face(i)` only when its batch is next, so augmented views never all sit in memory.
    /// The next batch's pixels (decoding, augmentation) are made on another thread while the
    /// backbone runs on the current one.
    ///
    /// With a `split` and a `cache`, the frozen part's outputs are appended to `cache` on the
    /// way (the second stage's inputs); `features: false` then stops there (a run resumed in
    /// the second stage needs no features) and returns an empty tensor.
    public func features(count: Int, batchSize: Int = 64, face: @escaping @Sendable (Int) -> [Float],
                         cache: HalfSamples? = nil, features wanted: Bool = true,
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
            if let split, let cache {
                let cut = try BatchRunner.forward(split.frozen, current)
                try cache.append(cut)
                if wanted { scalars += try BatchRunner.forward(split.trainableInference, cut).scalars }
            } else {
                scalars += try BatchRunner.forward(graph, current).scalars
            }
            try progress(min(start + batchSize, count))
        }
        return Tensor(shape: [wanted ? count : 0, featureCount], scalars: scalars)
    }

    /// The cut's shape for one face (the second stage's input), when split.
    public var cutShape: [Int]? {
        split.map { $0.frozen.outputShape.dropFirst().map { $0 ?? 0 } }
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

