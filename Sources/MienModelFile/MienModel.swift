import MienKerasConfig
import MienNN

/// A model ready for inference, with what a `.mien` file records about it.
public struct MienModel: Sendable {
    /// The network after the input adapter (backbone and head), in Keras's structure.
    public var graph: Graph
    /// How a raw image becomes the network's input; nil when images go in as they are.
    public var inputAdapter: InputAdapter?
    /// Class names in output order (for one sigmoid output: the names of 0 and 1).
    public var classes: [String]
    /// The checkpoint the model came from.
    public var source: String
    /// The training settings, as the trainer recorded them (JSON), if it was trained by Mien.
    public var training: JSON?
    /// Test-time augmentation: with `.mirror`, a prediction is the mean of the model's outputs
    /// for the image and for its mirror image (faces are close to symmetric, and the mean of
    /// two views is steadier than one). The predictor applies it; Keras has no such setting,
    /// so `mien export --keras` refuses a model that records it unless told to drop it.
    public var testTimeAugmentation: TestTimeAugmentation

    public init(graph: Graph, inputAdapter: InputAdapter? = nil, classes: [String] = [], source: String = "",
                training: JSON? = nil, testTimeAugmentation: TestTimeAugmentation = .none) {
        self.graph = graph
        self.inputAdapter = inputAdapter
        self.classes = classes
        self.source = source
        self.training = training
        self.testTimeAugmentation = testTimeAugmentation
    }

    /// Raw images in, outputs out: the adapter followed by the network.
    public func fullGraph() throws -> Graph {
        try inputAdapter.map { try $0.prepended(to: graph) } ?? graph
    }

    /// The raw image a model takes, `[height, width, channels]`.
    public var imageShape: [Int?] {
        inputAdapter.map { $0.inputSize.map { Optional($0) } } ?? Array(graph.inputShapes.first?.dropFirst() ?? [])
    }

    /// The name of each output: the recorded classes, else their indices.
    public var outputNames: [String] {
        let outputs = graph.outputShape.last.flatMap { $0 } ?? 1
        let count = outputs == 1 ? 2 : outputs
        return classes.count == count ? classes : (0..<count).map(String.init)
    }
}

/// What a model averages over at prediction time (see `MienModel.testTimeAugmentation`).
public enum TestTimeAugmentation: String, Sendable, CaseIterable, Codable {
    /// The image alone.
    case none
    /// The mean of the outputs for the image and for its left–right mirror image.
    case mirror
}
