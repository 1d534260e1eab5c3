@testable import MienKerasConfig
import MienKeras
import MienNN
import MienTestSupport
import XCTest

final class KerasConfigTests: XCTestCase {
    /// Every Keras fixture, written back as a config, rebuilds into a graph that computes
    /// exactly what the imported one computes: the writer is the builder's inverse.
    func testWrittenConfigRebuildsEveryFixture() throws {
        let folder = Fixtures.path("keras")
        let fixtures = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".io.h5") }.map { String($0.dropLast(".io.h5".count)) }.sorted()
        XCTAssertGreaterThan(fixtures.count, 20)
        for fixture in fixtures {
            let imported = try KerasModel(contentsOf: "\(folder)/\(fixture).h5").graph
            let major = KerasConfigWriter.kerasMajor(for: imported)
            let config = try KerasConfigWriter(kerasMajor: major).modelConfig(imported)
            // Through text, as a file would carry it.
            var rebuilt = try ModelBuilder(file: fixture, kerasMajor: major).buildModel(try JSON(parsing: config.text))
            for parameter in imported.parameters { try rebuilt.setParameter(parameter.name, to: parameter.value) }
            XCTAssertEqual(rebuilt.parameters.map(\.name), imported.parameters.map(\.name), fixture)
            XCTAssertEqual(rebuilt.outputShape, imported.outputShape, fixture)
            XCTAssertEqual(WeightOrder.trainableCount(rebuilt, kerasMajor: major),
                           WeightOrder.trainableCount(imported, kerasMajor: major), fixture)
            let inputs = try Golden("keras/\(fixture).io.h5").inputs
            XCTAssertEqual(try rebuilt.forward(inputs), try imported.forward(inputs), fixture)
        }
    }

    /// Operations are written as the Keras of the writer saves them (Keras 3's operation
    /// layers, tf.keras's TFOpLambda) and read back computing the same, from either file.
    func testOperationsRoundTripInBothKerasForms() throws {
        for fixture in ["operations.k2", "operations.k3", "preprocess_caffe.k2"] {
            let imported = try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).h5")).graph
            let inputs = try Golden("keras/\(fixture).io.h5").inputs
            for major in [2, 3] {
                let text = try KerasConfigWriter(kerasMajor: major).modelConfig(imported).text
                XCTAssertTrue(text.contains(major == 2 ? "\"TFOpLambda\"" : "\"keras.src.ops.numpy\""), "\(fixture) → \(major)")
                var rebuilt = try ModelBuilder(file: fixture, kerasMajor: major).buildModel(try JSON(parsing: text))
                for parameter in imported.parameters { try rebuilt.setParameter(parameter.name, to: parameter.value) }
                XCTAssertEqual(try rebuilt.forward(inputs), try imported.forward(inputs), "\(fixture) → \(major)")
            }
        }
    }

    func testActivationsWithoutAKerasNameAreRefused() {
        XCTAssertThrowsError(try KerasLayers.kerasName(.elu(alpha: 0.5), kerasMajor: 3, layer: "x"))
        XCTAssertThrowsError(try KerasLayers.kerasName(.hardSigmoidKeras2, kerasMajor: 3, layer: "x"))
        XCTAssertEqual(try KerasLayers.kerasName(.hardSigmoidKeras2, kerasMajor: 2, layer: "x"), "hard_sigmoid")
    }

    /// A ZeroPadding2D folded into a convolution for execution has no Keras form: the
    /// writer refuses it, naming the layer, instead of writing a layer without its padding.
    func testFoldedPaddingIsRefused() {
        var dw = DepthwiseConv2D(name: "dw", inputChannels: 2, kernelSize: (3, 3), strides: (2, 2))
        XCTAssertNoThrow(try KerasLayers.config(of: dw, kerasMajor: 3))
        dw.inputPadding = ((0, 1), (0, 1))
        XCTAssertThrowsError(try KerasLayers.config(of: dw, kerasMajor: 3)) { error in
            XCTAssertEqual((error as? KerasError)?.layer, "dw")
        }
        var conv = Conv2D(name: "stem", inputChannels: 3, filters: 4, kernelSize: (3, 3), strides: (2, 2))
        XCTAssertNoThrow(try KerasLayers.config(of: conv, kerasMajor: 2))
        conv.inputPadding = ((1, 1), (1, 1))
        XCTAssertThrowsError(try KerasLayers.config(of: conv, kerasMajor: 2)) { error in
            XCTAssertEqual((error as? KerasError)?.layer, "stem")
        }
    }

    /// Python's json writes NaN and Infinity, which only the JSON5 decoder takes; that path
    /// is linear in the depth (it was exponential: 30 KB of nested arrays took 48 s), and
    /// nesting deeper than `JSON.maxDepth` is refused.
    func testJSON5PathIsLinearAndDepthIsBounded() throws {
        XCTAssertEqual(try JSON(parsing: #"{"a": NaN, "b": [Infinity, {"c": -Infinity}]}"#)["b"]?.array?.count, 2)
        let nested = "{\"x\": NaN, \"y\": " + String(repeating: "[", count: 500) + "1" + String(repeating: "]", count: 500) + "}"
        // 500 levels: exponential decoding would not finish.
        XCTAssertNotNil(try JSON(parsing: nested)["y"])
        let deep = "{\"x\": NaN, \"y\": " + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"
        XCTAssertThrowsError(try JSON(parsing: deep)) { error in
            XCTAssertTrue("\(error)".contains("nested deeper than 512"), "\(error)")
        }
    }

    func testJSONTextIsCompactSortedAndShortest() throws {
        let value: JSON = ["b": JSON(Float(0.001)), "a": [1, "x", nil, true]]
        XCTAssertEqual(value.text, #"{"a":[1,"x",null,true],"b":0.001}"#)
        XCTAssertEqual(try JSON(parsing: value.text), value)
    }

    /// A nested model lists trainable weights first unless frozen; Keras 2 and 3 agree
    /// on a flat backbone.
    func testNestedWeightOrderFollowsTrainableFlags() throws {
        var bn = BatchNormalization(name: "bn", channels: 2)
        let conv = Conv2D(name: "conv", inputChannels: 2, filters: 2, kernelSize: (1, 1))
        let input = InputLayer(name: "in", shape: [nil, 4, 4, 2])
        func graph(_ bn: BatchNormalization, trainable: Bool) throws -> Graph {
            var g = try Graph(name: "backbone", layers: [input, bn, conv],
                              nodes: [.init(layer: 0, inputs: []), .init(layer: 1, inputs: [0]),
                                      .init(layer: 2, inputs: [1])],
                              inputNodes: [0], outputNode: 2)
            g.trainable = trainable
            return g
        }
        let unfrozen = ["bn/gamma", "bn/beta", "conv/kernel", "conv/bias", "bn/moving_mean", "bn/moving_variance"]
        let frozen = ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance", "conv/kernel", "conv/bias"]
        for major in [2, 3] {
            XCTAssertEqual(WeightOrder.ordered(try graph(bn, trainable: true), kerasMajor: major).map(\.name), unfrozen)
            XCTAssertEqual(WeightOrder.ordered(try graph(bn, trainable: false), kerasMajor: major).map(\.name), frozen)
        }
        bn.trainable = false
        let mixed = ["conv/kernel", "conv/bias", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
        for major in [2, 3] {
            XCTAssertEqual(WeightOrder.ordered(try graph(bn, trainable: true), kerasMajor: major).map(\.name), mixed)
        }
    }
}
