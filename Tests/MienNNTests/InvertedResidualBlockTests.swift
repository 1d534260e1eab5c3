import MienCKernels
@testable import MienNN
import MienTestSupport
import XCTest

/// The packed 1×1 product and the fused inverted-residual block against what they replace:
/// the product against a float64 sum from its definition, the block against the layers it
/// fuses run one by one (which the Keras fixtures check against Keras; EfficientNetTests and
/// ApplicationsTests also run the fused graphs against Keras). Every build the CPU can run,
/// and the block's rows split across threads. Sums of at most ~600 terms in float32, in
/// another order: 1e-5 of the output's scale.
final class InvertedResidualBlockTests: XCTestCase {
    let tolerance = Tolerance(relative: 1e-5)

    override func tearDown() { VectorKernels.limit(to: nil) }

    /// Row counts around the tile heights (3, 6, 8), column counts around the 16-wide panels
    /// (1, 15, 17, 33, 40), rows read with a stride wider than k, a clamp and a residual, k
    /// split into parts.
    func testPackedProductMatchesDefinition() throws {
        let cases: [(m: Int, k: Int, n: Int, lda: Int, clamp: ClosedRange<Float>, residual: Bool)] = [
            (1, 1, 1, 1, -.infinity ... .infinity, false),
            (7, 16, 96, 16, 0...6, false),
            (13, 33, 17, 40, 0 ... .infinity, true),
            (25, 5, 40, 5, -0.5...0.5, true),
            (9, 64, 33, 64, -.infinity ... .infinity, true),
            (17, 3, 15, 9, 0...6, false),
            // k over 192 runs in parts whose partial sums wait in y: 300 = 3 × 100, 1152 = 9 × 128.
            (11, 300, 40, 310, 0...6, true),
            (9, 1152, 17, 1152, -.infinity ... .infinity, false),
            // k = 0: the bias, clamped, plus the residual.
            (3, 0, 17, 1, 0...6, true),
        ]
        everyKernelBuild { build in
            for (i, c) in cases.enumerated() {
                let a = randomTensor([c.m * c.lda], seed: UInt64(10 * i + 1)).scalars
                let w = randomTensor([c.k * c.n], seed: UInt64(10 * i + 2)).scalars
                let bias = randomTensor([c.n], seed: UInt64(10 * i + 3)).scalars
                let residual = randomTensor([c.m * c.n], seed: UInt64(10 * i + 4)).scalars
                var packed = [Float](repeating: .nan, count: mien_packed_weights_size(Int32(c.k), Int32(c.n)))
                mien_pack_weights(w, bias, Int32(c.k), Int32(c.n), &packed)
                var y = [Float](repeating: .nan, count: c.m * c.n)
                residual.withUnsafeBufferPointer { r in
                    mien_gemm_packed(a, c.lda, Int32(c.m), Int32(c.k), packed, Int32(c.n),
                                     c.clamp.lowerBound, c.clamp.upperBound,
                                     c.residual ? r.baseAddress : nil, c.n, &y, c.n)
                }
                var expected = [Float]()
                for row in 0..<c.m {
                    for col in 0..<c.n {
                        var sum = Double(bias[col])
                        for l in 0..<c.k { sum += Double(a[row * c.lda + l]) * Double(w[l * c.n + col]) }
                        let clamped = min(max(Float(sum), c.clamp.lowerBound), c.clamp.upperBound)
                        expected.append(clamped + (c.residual ? residual[row * c.n + col] : 0))
                    }
                }
                if let bad = mismatch(y, expected, tolerance) { XCTFail("\(build), case \(i) \(c): \(bad)") }
            }
        }
    }

    typealias BlockCase = (size: (Int, Int), channels: Int, expansion: Int?, output: Int, kernel: Int,
                           stride: Int, padding: Padding, inputPadding: ((Int, Int), (Int, Int)),
                           activation: Activation, residual: Bool)

    /// `in → [expand] → dw → project [→ add(in)]`, with random weights.
    func block(_ c: BlockCase, seed: UInt64) throws -> Graph {
        var layers: [any Layer] = [InputLayer(name: "in", shape: [nil, c.size.0, c.size.1, c.channels])]
        var expanded = c.channels
        if let e = c.expansion {
            expanded = e
            var expand = Conv2D(name: "expand", inputChannels: c.channels, filters: e, kernelSize: (1, 1),
                                activation: c.activation)
            try randomize(&expand, seed: seed)
            layers.append(expand)
        }
        var dw = DepthwiseConv2D(name: "dw", inputChannels: expanded, kernelSize: (c.kernel, c.kernel),
                                 strides: (c.stride, c.stride), padding: c.padding, activation: c.activation)
        dw.inputPadding = c.inputPadding
        try randomize(&dw, seed: seed + 1)
        var project = Conv2D(name: "project", inputChannels: expanded, filters: c.output, kernelSize: (1, 1))
        try randomize(&project, seed: seed + 2)
        layers += [dw, project] + (c.residual ? [Merge(name: "add", op: .add)] : [])
        var nodes = (0..<layers.count).map { Graph.Node(layer: $0, inputs: $0 == 0 ? [] : [$0 - 1]) }
        if c.residual { nodes[nodes.count - 1].inputs = [nodes.count - 2, 0] }
        return try Graph(name: "block", layers: layers, nodes: nodes, inputNodes: [0], outputNode: nodes.count - 1)
    }

    func randomize<L: Layer>(_ layer: inout L, seed: UInt64) throws {
        for (i, p) in layer.parameters.enumerated() {
            try layer.setParameter(p.name, to: randomTensor(p.value.shape, seed: seed &+ UInt64(i), range: -0.5...0.5))
        }
    }

    /// MobileNetV2's and EfficientNet's shapes (expansion 6, stride 2 behind a ZeroPadding2D,
    /// 5×5 `same`, no expansion in the first block) and awkward ones: channel counts off the
    /// 16-wide vectors, odd sizes (`same` puts the odd pixel bottom/right), one output row,
    /// rows of several pixel groups, an image narrower than the window.
    func testBlockEqualsTheLayersItReplaces() throws {
        let cases: [BlockCase] = [
            ((12, 12), 16, 96, 16, 3, 1, .same, ((0, 0), (0, 0)), .relu6, true),
            ((11, 13), 16, 96, 24, 3, 2, .valid, ((0, 1), (0, 1)), .relu6, false),
            ((9, 9), 24, 144, 24, 5, 1, .same, ((0, 0), (0, 0)), .relu6, true),
            ((10, 7), 32, nil, 16, 3, 1, .same, ((0, 0), (0, 0)), .relu6, false),
            ((7, 7), 5, 20, 5, 3, 1, .same, ((0, 0), (0, 0)), .relu, true),
            ((8, 6), 3, 70, 7, 5, 2, .same, ((0, 0), (0, 0)), .linear, false),
            ((1, 9), 8, 17, 9, 3, 1, .same, ((0, 0), (0, 0)), .relu6, false),
            // Rows of 8 + 2 + 1 output pixels; a window wider than the image.
            ((5, 21), 16, 48, 16, 5, 2, .same, ((0, 0), (0, 0)), .relu6, false),
            ((3, 3), 16, 32, 16, 5, 1, .same, ((0, 0), (0, 0)), .relu6, true),
        ]
        for (i, c) in cases.enumerated() {
            let original = try block(c, seed: UInt64(100 * i))
            let fused = try original.optimizedForInference(forRunning: true)
            XCTAssertEqual(fused.layers.map(\.kerasClass), ["InputLayer", "InvertedResidualBlock"], "case \(i)")
            XCTAssertEqual(fused.outputShape, original.outputShape)
            for batch in [1, 3] {
                let x = randomTensor([batch, c.size.0, c.size.1, c.channels], seed: UInt64(100 * i + batch))
                let expected = try original.forward([x])
                try everyKernelBuild { build in
                    let y = try fused.forward([x])
                    XCTAssertEqual(y.shape, expected.shape)
                    if let bad = mismatch(y, expected, tolerance) { XCTFail("\(build), case \(i), batch \(batch): \(bad)") }
                }
                // One image's rows split across threads: each part expands its own border rows.
                let split = try IntraImageParallelism.$cores.withValue(3) {
                    try BatchRunner.forward(fused, x.batch(0..<1), cores: 3)
                }
                if let bad = mismatch(split, try original.forward([x.batch(0..<1)]), tolerance) {
                    XCTFail("case \(i), rows split: \(bad)")
                }
            }
        }
    }

    /// Only chains whose intermediate outputs nothing else reads are fused; an expansion
    /// read twice stays a layer, and the block starts after it.
    func testSharedIntermediateOutputsAreNotFused() throws {
        let c: BlockCase = ((6, 6), 8, 24, 8, 3, 1, .same, ((0, 0), (0, 0)), .relu6, false)
        let chain = try block(c, seed: 7)
        // A second reader of the expansion: `concat(project, expand)`.
        let layers = chain.layers + [Concatenate(name: "concat")]
        let nodes = chain.nodes + [Graph.Node(layer: layers.count - 1, inputs: [3, 1])]
        let graph = try Graph(name: "g", layers: layers, nodes: nodes, inputNodes: [0], outputNode: nodes.count - 1)
        let fused = try graph.optimizedForInference(forRunning: true)
        XCTAssertEqual(fused.layers.map(\.name), ["in", "expand", "project", "concat"])
        let block = try XCTUnwrap(fused.layers[2] as? InvertedResidualBlock)
        XCTAssertNil(block.expand)
        let x = randomTensor([2, 6, 6, 8], seed: 9)
        if let bad = mismatch(try fused.forward([x]), try graph.forward([x]), tolerance) { XCTFail("\(bad)") }
        // Unless asked, the graph keeps its Keras layers (it may be exported).
        XCTAssertFalse(try chain.optimizedForInference().layers.contains { $0 is InvertedResidualBlock })
    }

    /// A NaN in the input stays NaN through every build's clamps, where the layers one by one
    /// give NaN (Keras's ReLU6 keeps it), and nowhere else.
    func testNaNStaysNaN() throws {
        let c: BlockCase = ((6, 6), 16, 32, 16, 3, 1, .same, ((0, 0), (0, 0)), .relu6, true)
        let original = try block(c, seed: 11)
        let fused = try original.optimizedForInference(forRunning: true)
        var x = randomTensor([1, 6, 6, 16], seed: 12)
        x.scalars[0] = .nan
        let expected = try original.forward([x]).scalars.map(\.isNaN)
        XCTAssertTrue(expected.contains(true))
        try everyKernelBuild { build in
            XCTAssertEqual(try fused.forward([x]).scalars.map(\.isNaN), expected, build)
        }
    }
}
