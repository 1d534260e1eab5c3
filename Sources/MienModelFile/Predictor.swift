import Foundation
import MienImages
import MienNN

/// One image's prediction.
public struct Prediction: Sendable, Equatable {
    /// The model's outputs for the image (probabilities for a sigmoid or softmax head).
    public var scores: [Float]
    /// The predicted class (`Decision.classIndex`): the largest score, or for one sigmoid
    /// output `score >= threshold`.
    public var index: Int
    public var label: String
    /// Every class with its score, best first (a sigmoid output gives both classes).
    public var ranked: [(label: String, score: Float)]

    public static func == (a: Prediction, b: Prediction) -> Bool {
        a.scores == b.scores && a.index == b.index && a.label == b.label
    }
}

extension Prediction {
    /// `"scores"` and `"label"` (and `"top"`, the `top` best classes, when given) for
    /// JSONSerialization. JSON has no NaN: a non-finite score is null, and so is the label
    /// it cannot decide.
    public func jsonObject(top: Int? = nil) -> [String: Any] {
        let finite = scores.allSatisfy(\.isFinite)
        var object: [String: Any] = ["scores": scores.map { $0.isFinite ? Double($0) as Any : NSNull() },
                                     "label": finite ? label as Any : NSNull()]
        if let top, finite {
            object["top"] = ranked.prefix(top).map { ["label": $0.label, "score": Double($0.score)] }
        }
        return object
    }
}

/// Loads a model once and predicts faces, one or a batch at a time. Immutable after
/// `init`, so any number of threads may call it at once.
public final class Predictor: Sendable {
    public let model: MienModel
    /// The adapter and the network, optimized for inference (BatchNormalization folded).
    public let graph: Graph
    /// The raw image the model takes: height, width, channels.
    public let imageSize: (height: Int, width: Int, channels: Int)
    /// For one sigmoid output: the score from which the image is class 1.
    public let threshold: Float
    /// The test-time augmentation applied: the model's own unless `init` was given another.
    public let testTimeAugmentation: TestTimeAugmentation

    public init(model: MienModel, threshold: Float = 0.5, testTimeAugmentation: TestTimeAugmentation? = nil) throws {
        guard Decision.isValidThreshold(threshold) else {
            throw LayerError(layer: model.graph.name, "threshold \(threshold) is not in 0...1")
        }
        self.model = model
        self.threshold = threshold
        self.testTimeAugmentation = testTimeAugmentation ?? model.testTimeAugmentation
        graph = try model.fullGraph().optimizedForInference(forRunning: true)
        let shape = model.imageShape
        guard model.graph.inputShapes.count == 1, shape.count == 3, let h = shape[0], let w = shape[1], let c = shape[2], c == 1 || c == 3 else {
            throw LayerError(layer: model.graph.name,
                             "the model's input \(model.graph.inputShapes.map(\.kerasDescription).joined(separator: ", ")) is not one fixed-size image of 1 or 3 channels")
        }
        imageSize = (h, w, c)
    }

    public convenience init(contentsOf path: String, threshold: Float = 0.5) throws {
        try self.init(model: try MienFile.read(contentsOf: path), threshold: threshold)
    }

    /// The model's outputs for a batch of raw images `[N, height, width, channels]`, averaged
    /// with the mirror images' under `.mirror`.
    public func predict(_ batch: Tensor) throws -> Tensor {
        try augmented(batch) { try graph.forward([$0]) }
    }

    /// `run`'s outputs for the batch, or with `.mirror` the mean of the batch's and its
    /// mirror images' (the mean of probabilities, as test-time augmentation is usually done).
    private func augmented(_ batch: Tensor, _ run: (Tensor) throws -> Tensor) throws -> Tensor {
        guard testTimeAugmentation == .mirror else { return try run(batch) }
        // The images and their mirror images in one batch: one face in a video frame becomes
        // two images, one per core, rather than two passes that split each image's rows
        // across the cores and wait for each other at every layer.
        let both = try run(Tensor(shape: [2 * batch.shape[0]] + batch.shape.dropFirst(), scalars: batch.scalars + batch.mirrored().scalars))
        let half = both.scalars.count / 2
        var outputs = Tensor(shape: [batch.shape[0]] + both.shape.dropFirst(), scalars: Array(both.scalars[..<half]))
        outputs.scalars.withUnsafeMutableBufferPointer { o in
            both.scalars.withUnsafeBufferPointer { m in
                for i in 0..<half { o[i] = (o[i] + m[half + i]) * 0.5 }
            }
        }
        return outputs
    }

    /// Converts images to the model's channels and size (bilinear, as Keras's `Resizing`)
    /// and stacks them into one batch of raw pixel values.
    public func batch(_ images: [Image]) throws -> Tensor {
        let (h, w, c) = imageSize
        var scalars: [Float] = []
        scalars.reserveCapacity(images.count * h * w * c)
        for image in images {
            let converted = c == 1 ? image.grayscale() : image.rgb()
            var pixels = Tensor(shape: [1, converted.height, converted.width, c],
                                scalars: converted.pixels.map { Float($0) })
            if converted.height != h || converted.width != w {
                pixels = try Resizing(name: "resize", height: h, width: w).forward([pixels])
            }
            scalars += pixels.scalars
        }
        return Tensor(shape: [images.count, h, w, c], scalars: scalars)
    }

    /// The output's shape for the images the predictor takes (a backbone's feature map has
    /// its size only once the input's is known).
    public var outputShape: Shape {
        (try? graph.outputShape(for: [[nil, imageSize.height, imageSize.width, imageSize.channels]]))
            ?? model.graph.outputShape
    }

    public func predict(images: [Image]) throws -> [Prediction] {
        guard !images.isEmpty else { return [] }
        let side = model.inputAdapter?.outputSize[0] ?? imageSize.height
        // The raw pixels of a chunk stay within the slices' memory (a model with a large
        // input must not stack a whole --batch-size of them at once).
        let perImage = imageSize.height * imageSize.width * imageSize.channels * MemoryLayout<Float>.size
        let chunk = max(1, BatchRunner.sliceMemory / max(1, perImage))
        var predictions: [Prediction] = []
        predictions.reserveCapacity(images.count)
        for start in stride(from: 0, to: images.count, by: chunk) {
            let part = Array(images[start..<min(images.count, start + chunk)])
            let outputs = try augmented(try batch(part)) {
                try BatchRunner.forward(graph, $0, perSlice: BatchRunner.imagesPerSlice(side: side))
            }
            let width = outputs.count / part.count
            predictions += (0..<part.count).map { i in
                prediction(Array(outputs.scalars[i * width..<(i + 1) * width]))
            }
        }
        return predictions
    }

    public func predict(image: Image) throws -> Prediction {
        try predict(images: [image])[0]
    }

    /// Turns one row of outputs into a labelled prediction.
    public func prediction(_ scores: [Float]) -> Prediction {
        let names = model.outputNames
        let index = Decision.classIndex(scores, threshold: threshold)
        if scores.count == 1 {
            let p = scores[0]
            let ranked = [(names[1], p), (names[0], 1 - p)].sorted { $0.1 > $1.1 }
            return Prediction(scores: scores, index: index, label: names[index], ranked: ranked)
        }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        return Prediction(scores: scores, index: index, label: names.indices.contains(index) ? names[index] : "\(index)",
                          ranked: order.map { (names.indices.contains($0) ? names[$0] : "\($0)", scores[$0]) })
    }
}
