import MienNN
import MienTestSupport
import XCTest

/// Folding BatchNormalization and dropping Dropout must not change what the model computes:
/// outputs equal the unfolded model's within 1e-5 of their scale (float rounding only).
final class InferenceOptimizationTests: XCTestCase {
    let tolerance = Tolerance(relative: 1e-5)

    func random(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
        randomTensor(shape, seed: seed, range: range)
    }

    /// in → conv → bn → relu → depthwise → bn → dropout → (+ conv2 output) → gap → dense → bn
    func model() throws -> Graph {
        let layers: [any Layer] = [
            InputLayer(name: "in", shape: [nil, 9, 9, 3]),
            try randomized(Conv2D(name: "conv", inputChannels: 3, filters: 4, kernelSize: (3, 3), strides: (2, 2),
                                  padding: .same, useBias: false), seed: 1),
            try randomized(BatchNormalization(name: "bn1", channels: 4), seed: 2),
            ActivationLayer(name: "relu", activation: .relu),
            try randomized(DepthwiseConv2D(name: "dw", inputChannels: 4, kernelSize: (3, 3), padding: .same,
                                           depthMultiplier: 2), seed: 3),
            try randomized(BatchNormalization(name: "bn2", channels: 8, epsilon: 0.01), seed: 4),
            Dropout(name: "drop", rate: 0.5),
            try randomized(Conv2D(name: "conv2", inputChannels: 4, filters: 8, kernelSize: (1, 1)), seed: 5),
            Merge(name: "add", op: .add),
            GlobalAveragePooling2D(name: "gap"),
            try randomized(Dense(name: "dense", inputUnits: 8, units: 2), seed: 6),
            try randomized(BatchNormalization(name: "bn3", channels: 2), seed: 7),
        ]
        let nodes: [Graph.Node] = [
            .init(layer: 0, inputs: []), .init(layer: 1, inputs: [0]), .init(layer: 2, inputs: [1]),
            .init(layer: 3, inputs: [2]), .init(layer: 4, inputs: [3]), .init(layer: 5, inputs: [4]),
            .init(layer: 6, inputs: [5]), .init(layer: 7, inputs: [3]), .init(layer: 8, inputs: [6, 7]),
            .init(layer: 9, inputs: [8]), .init(layer: 10, inputs: [9]), .init(layer: 11, inputs: [10]),
        ]
        return try Graph(name: "m", layers: layers, nodes: nodes, inputNodes: [0], outputNode: 11)
    }

    func testFoldedModelComputesTheSame() throws {
        let original = try model()
        let folded = try original.optimizedForInference()
        // bn1 and the ReLU both go into conv (the ReLU's output may be shared: conv gives it).
        XCTAssertEqual(folded.layers.map(\.name), ["in", "conv", "dw", "conv2", "add", "gap", "dense"])
        XCTAssertEqual((folded.layers[1] as? Conv2D)?.activation, .relu)
        let x = random([2, 9, 9, 3], seed: 42)
        let expected = try original.forward([x])
        let actual = try folded.forward([x])
        XCTAssertEqual(actual.shape, expected.shape)
        if let bad = mismatch(actual, expected, tolerance) { XCTFail("\(bad)") }
    }

    /// A convolution whose output is also read elsewhere, or that has an activation,
    /// keeps its BatchNormalization.
    func testDoesNotFoldWhenTheOutputIsShared() throws {
        let conv = try randomized(Conv2D(name: "conv", inputChannels: 2, filters: 2, kernelSize: (1, 1)), seed: 1)
        let layers: [any Layer] = [InputLayer(name: "in", shape: [nil, 3, 3, 2]), conv,
                                   try randomized(BatchNormalization(name: "bn", channels: 2), seed: 2),
                                   Merge(name: "add", op: .add)]
        let graph = try Graph(name: "g", layers: layers,
                              nodes: [.init(layer: 0, inputs: []), .init(layer: 1, inputs: [0]),
                                      .init(layer: 2, inputs: [1]), .init(layer: 3, inputs: [1, 2])],
                              inputNodes: [0], outputNode: 3)
        let folded = try graph.optimizedForInference()
        XCTAssertEqual(folded.layers.map(\.name), ["in", "conv", "bn", "add"])
        let x = random([1, 3, 3, 2], seed: 9)
        XCTAssertEqual(try folded.forward([x]), try graph.forward([x]))
    }

    /// conv → Dropout → BN, the Dropout's output also read by an Add; and conv → BN →
    /// Dropout → ReLU, the BN's output also read by the Add. Folding the BN (or fusing the
    /// ReLU) into the convolution would change what the Add reads through the other branch.
    func testDoesNotFoldThroughASharedIntermediate() throws {
        func graph(_ middle: [any Layer], shared: Int) throws -> Graph {
            let conv = try randomized(Conv2D(name: "conv", inputChannels: 2, filters: 2, kernelSize: (1, 1)), seed: 1)
            let layers: [any Layer] = [InputLayer(name: "in", shape: [nil, 3, 3, 2]), conv] + middle
                + [Merge(name: "add", op: .add)]
            // A chain in → conv → middle..., then add(last, node `shared`).
            let chain = (0..<layers.count - 1).map { Graph.Node(layer: $0, inputs: $0 == 0 ? [] : [$0 - 1]) }
            let add = Graph.Node(layer: layers.count - 1, inputs: [layers.count - 2, shared])
            return try Graph(name: "g", layers: layers, nodes: chain + [add], inputNodes: [0],
                             outputNode: layers.count - 1)
        }
        let bn = try randomized(BatchNormalization(name: "bn", channels: 2), seed: 2)
        let drop = Dropout(name: "drop", rate: 0.5)
        let relu = ActivationLayer(name: "relu", activation: .relu)
        let x = random([1, 3, 3, 2], seed: 9)
        for (model, kept) in [(try graph([drop, bn], shared: 2), ["in", "conv", "bn", "add"]),
                              (try graph([bn, drop, relu], shared: 2), ["in", "conv", "relu", "add"])] {
            let folded = try model.optimizedForInference()
            XCTAssertEqual(folded.layers.map(\.name), kept)
            if let bad = mismatch(try folded.forward([x]), try model.forward([x]), tolerance) { XCTFail("\(bad)") }
        }
    }

    /// in → pad → dw (valid, stride 2) → pad2 → dw2, + pad2 cropped back: pad folds into dw;
    /// pad2, read twice, stays.
    func paddedModel() throws -> Graph {
        let layers: [any Layer] = [
            InputLayer(name: "in", shape: [nil, 8, 8, 3]),
            ZeroPadding2D(name: "pad", padding: ((0, 1), (0, 1))),
            try randomized(DepthwiseConv2D(name: "dw", inputChannels: 3, kernelSize: (3, 3), strides: (2, 2)),
                           seed: 1),
            ZeroPadding2D(name: "pad2", padding: ((1, 1), (1, 1))),
            try randomized(DepthwiseConv2D(name: "dw2", inputChannels: 3, kernelSize: (3, 3)), seed: 2),
            Cropping2D(name: "crop", cropping: ((1, 1), (1, 1))),
            Merge(name: "add", op: .add),
        ]
        let nodes: [Graph.Node] = [
            .init(layer: 0, inputs: []), .init(layer: 1, inputs: [0]), .init(layer: 2, inputs: [1]),
            .init(layer: 3, inputs: [2]), .init(layer: 4, inputs: [3]), .init(layer: 5, inputs: [3]),
            .init(layer: 6, inputs: [4, 5]),
        ]
        return try Graph(name: "p", layers: layers, nodes: nodes, inputNodes: [0], outputNode: 6)
    }

    func testZeroPaddingFoldsIntoTheDepthwiseThatAloneReadsIt() throws {
        let original = try paddedModel()
        XCTAssertEqual(try original.optimizedForInference().layers.map(\.name),
                       ["in", "pad", "dw", "pad2", "dw2", "crop", "add"], "not folded unless asked")
        let folded = try original.optimizedForInference(forRunning: true)
        XCTAssertEqual(folded.layers.map(\.name), ["in", "dw", "pad2", "dw2", "crop", "add"])
        let padding = try XCTUnwrap(folded.layers[1] as? DepthwiseConv2D).inputPadding
        XCTAssertTrue(padding.0 == (0, 1) && padding.1 == (0, 1), "\(padding)")
        XCTAssertEqual(folded.outputShape, original.outputShape)
        let x = random([2, 8, 8, 3], seed: 5)
        if let bad = mismatch(try folded.forward([x]), try original.forward([x]), tolerance) { XCTFail("\(bad)") }
    }

    /// EfficientNet's stem: ZeroPadding2D → Conv2D (valid, stride 2) becomes one Conv2D with
    /// the zeros as its own; same output.
    func testZeroPaddingFoldsIntoTheStemConvolution() throws {
        let layers: [any Layer] = [
            InputLayer(name: "in", shape: [nil, 9, 8, 3]),
            ZeroPadding2D(name: "pad", padding: ((0, 1), (0, 1))),
            try randomized(Conv2D(name: "stem", inputChannels: 3, filters: 5, kernelSize: (3, 3), strides: (2, 2),
                                  activation: .relu6), seed: 3),
        ]
        let nodes = (0..<3).map { Graph.Node(layer: $0, inputs: $0 == 0 ? [] : [$0 - 1]) }
        let original = try Graph(name: "s", layers: layers, nodes: nodes, inputNodes: [0], outputNode: 2)
        let folded = try original.optimizedForInference(forRunning: true)
        XCTAssertEqual(folded.layers.map(\.name), ["in", "stem"])
        XCTAssertEqual(folded.outputShape, original.outputShape)
        let x = random([2, 9, 8, 3], seed: 6)
        if let bad = mismatch(try folded.forward([x]), try original.forward([x]), tolerance) { XCTFail("\(bad)") }
    }

    /// The FER model's start: a gray face replicated to three channels by the InputAdapter,
    /// then a classifier whose nested backbone rescales, pads and convolves (the stem).
    func grayModel(rescaling: Rescaling = Rescaling(name: "rescale", scale: [1 / 127.5], offset: [-1]),
                   branch: Bool = false) throws -> Graph {
        func chain(_ name: String, _ layers: [any Layer]) throws -> Graph {
            try Graph(name: name, layers: layers, nodes: layers.indices.map { Graph.Node(layer: $0, inputs: $0 == 0 ? [] : [$0 - 1]) },
                      inputNodes: [0], outputNode: layers.count - 1)
        }
        let backbone = try chain("backbone", [
            InputLayer(name: "in", shape: [nil, nil, nil, 3]), rescaling,
            ZeroPadding2D(name: "pad", padding: ((0, 1), (0, 1))),
            try randomized(Conv2D(name: "stem", inputChannels: 3, filters: 8, kernelSize: (3, 3), strides: (2, 2), useBias: false), seed: 11),
            try randomized(BatchNormalization(name: "bn", channels: 8), seed: 12),
            ActivationLayer(name: "relu6", activation: .relu6),
        ])
        var layers: [any Layer] = [InputLayer(name: "image", shape: [nil, 12, 12, 3]), backbone, GlobalAveragePooling2D(name: "gap")]
        var nodes = layers.indices.map { Graph.Node(layer: $0, inputs: $0 == 0 ? [] : [$0 - 1]) }
        if branch {
            // The replicated image is also read by a second branch: it must stay three channels.
            layers += [GlobalAveragePooling2D(name: "gap2"), try randomized(Dense(name: "dense", inputUnits: 3, units: 8), seed: 15),
                       Merge(name: "add", op: .add)]
            nodes += [.init(layer: 3, inputs: [0]), .init(layer: 4, inputs: [3]), .init(layer: 5, inputs: [2, 4])]
        }
        let classifier = try Graph(name: "classifier", layers: layers, nodes: nodes, inputNodes: [0], outputNode: nodes.count - 1)
        return try InputAdapter(inputSize: [5, 5, 1], outputSize: [12, 12, 3]).prepended(to: classifier)
    }

    /// The stem's kernel summed over the three copies takes the gray channel alone: the
    /// adapter stops replicating, the rescaling runs on one channel; same outputs.
    func testStemTakesTheGrayChannelOnce() throws {
        let original = try grayModel()
        let running = try original.optimizedForInference(forRunning: true)
        XCTAssertEqual(try XCTUnwrap(running.layers[1] as? InputAdapter).outputSize, [12, 12, 1])
        let classifier = try XCTUnwrap(running.layers[2] as? Graph)
        XCTAssertEqual(classifier.inputShapes, [[nil, 12, 12, 1]])
        let backbone = try XCTUnwrap(classifier.layers[1] as? Graph)
        XCTAssertEqual(backbone.layers.map(\.name), ["in", "rescale", "stem"])
        XCTAssertEqual(try XCTUnwrap(backbone.layers[2] as? Conv2D).kernel.shape, [3, 3, 1, 8])
        XCTAssertEqual(running.outputShape, original.outputShape)
        let faces = random([2, 5, 5, 1], seed: 13, range: 0...255)
        if let bad = mismatch(try running.forward([faces]), try original.forward([faces]), tolerance) { XCTFail("\(bad)") }
        XCTAssertEqual(try XCTUnwrap(try original.optimizedForInference().layers[1] as? InputAdapter).outputSize, [12, 12, 3],
                       "a graph for export keeps Keras's layers")
    }

    /// Per-channel scales, or a second reader of the replicated image, keep the three channels.
    func testStemKeepsThreeChannelsWhenTheyDiffer() throws {
        let perChannel = Rescaling(name: "rescale", scale: [1, 2, 3], offset: [0])
        for model in [try grayModel(rescaling: perChannel), try grayModel(branch: true)] {
            let running = try model.optimizedForInference(forRunning: true)
            XCTAssertEqual(try XCTUnwrap(running.layers[1] as? InputAdapter).outputSize, [12, 12, 3])
            let faces = random([2, 5, 5, 1], seed: 14, range: 0...255)
            if let bad = mismatch(try running.forward([faces]), try model.forward([faces]), tolerance) { XCTFail("\(bad)") }
        }
    }
}
