import MienHDF5
@testable import MienKeras
@testable import MienKerasConfig
import MienNN
import MienTestSupport
import XCTest

/// Keras is the oracle: every fixture was saved by real Keras (tf.keras 2.21 as `k2`,
/// Keras 3.15 as `k3`) with its inputs and outputs (`tools/make_keras_fixtures.py`).
/// Mien must reproduce the outputs within 1e-4 of the output's largest magnitude
/// (plus 1e-6 absolute, for outputs near zero): float32 sums in another order differ
/// by a few ulps, a wrong padding or epsilon by far more.
let kerasTolerance = Tolerance(relative: 1e-4, absolute: 1e-6)

final class KerasImportTests: XCTestCase {
    static let models = [
        "sequential_cnn", "functional_branches", "nested_unfrozen", "nested_frozen", "nested_mixed",
        "nested_deep", "mbconv", "xception", "activations", "pool_reshape", "conv_variants",
        "preprocessing", "preprocessing_adapted", "dense_mlp", "operations", "preprocess_caffe", "grouped_conv",
    ]

    /// Imports `NAME.V.h5` (or `NAME.V.keras`), runs it on the golden inputs and compares
    /// with Keras.
    func checkFullModel(_ fixture: String, format: String = "h5", file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try Golden("keras/\(fixture).io.h5")
        let model = try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).\(format)"))
        let output = try model.predict(try golden.inputs)
        let expected = try golden.tensor()
        XCTAssertEqual(output.shape, expected.shape, "\(fixture): output shape", file: file, line: line)
        if let bad = mismatch(output, expected, kerasTolerance) {
            XCTFail("\(fixture): \(bad)", file: file, line: line)
        }
        try checkSummary(model, golden, fixture, file: file, line: line)
    }

    /// `model.summary()`'s rows and totals, as Keras printed them.
    func checkSummary(_ model: KerasModel, _ golden: Golden, _ fixture: String,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        let summary = model.summary
        let counts = try golden.parameterCounts
        XCTAssertEqual(summary.totalParams, counts.total, "\(fixture): total params", file: file, line: line)
        XCTAssertEqual(summary.trainableParams, counts.trainable, "\(fixture): trainable", file: file, line: line)
        XCTAssertEqual(summary.nonTrainableParams, counts.nonTrainable, "\(fixture): non-trainable", file: file, line: line)
        XCTAssertEqual(summary.rows.map(\.name), try golden.strings("layer_names"), "\(fixture): layers",
                       file: file, line: line)
        XCTAssertEqual(summary.rows.map(\.params), try golden.ints("layer_params"), "\(fixture): layer params",
                       file: file, line: line)
        XCTAssertEqual(summary.rows.map(\.outputShape.kerasDescription), try golden.strings("layer_output_shapes"),
                       "\(fixture): layer output shapes", file: file, line: line)
    }

    func testEveryFixtureFromKeras2() throws {
        for name in Self.models { XCTAssertNoThrow(try checkFullModel("\(name).k2"), name) }
    }

    func testEveryFixtureFromKeras3() throws {
        for name in Self.models + ["nested_deep_clash"] { XCTAssertNoThrow(try checkFullModel("\(name).k3"), name) }
    }

    // One test per trap, so a failure names it.

    func testSamePaddingOnOddAndEvenInputs() throws {
        try checkFullModel("conv_variants.k2")
        try checkFullModel("conv_variants.k3")
    }

    func testBatchNormalizationEpsilonAndMovingStatisticsFromConfig() throws {
        let model = try KerasModel(contentsOf: Fixtures.path("keras/conv_variants.k3.h5"))
        let epsilons = model.graph.layers.compactMap { ($0 as? BatchNormalization)?.epsilon }
        XCTAssertTrue(epsilons.contains(0.1), "epsilon 0.1 from the config, got \(epsilons)")
        XCTAssertTrue(epsilons.contains { abs($0 - 1e-5) < 1e-9 }, "epsilon 1e-5 from the config, got \(epsilons)")
        let momenta = model.graph.layers.compactMap { ($0 as? BatchNormalization)?.momentum }
        XCTAssertTrue(momenta.contains { abs($0 - 0.9) < 1e-6 }, "momentum 0.9 from the config, got \(momenta)")
        try checkFullModel("conv_variants.k3")
    }

    func testNestedModelWeightOrderFrozenUnfrozenAndMixed() throws {
        for name in ["nested_unfrozen", "nested_frozen", "nested_mixed"] {
            try checkFullModel("\(name).k2")
            try checkFullModel("\(name).k3")
        }
    }

    func testDeeplyNestedModelsWithRepeatedLayerNames() throws {
        try checkFullModel("nested_deep.k2")
        try checkFullModel("nested_deep.k3")
        try checkFullModel("nested_deep_clash.k3")
    }

    func testFrozenBackboneIsNotTrainable() throws {
        let model = try KerasModel(contentsOf: Fixtures.path("keras/nested_frozen.k3.h5"))
        let backbone = try XCTUnwrap(model.graph.layers.first { $0 is Graph })
        XCTAssertFalse(backbone.trainable)
        XCTAssertTrue(model.graph.parameters.filter { $0.name.hasPrefix("\(backbone.name)/") }.allSatisfy { !$0.trainable })
    }

    func testHardSigmoidDiffersBetweenKerasVersions() throws {
        XCTAssertEqual(Activation(kerasName: "hard_sigmoid", kerasMajor: 2), .hardSigmoidKeras2)
        XCTAssertEqual(Activation(kerasName: "hard_sigmoid", kerasMajor: 3), .hardSigmoidKeras3)
        try checkFullModel("activations.k2")
        try checkFullModel("activations.k3")
    }

    // MARK: Weights-only files

    func checkWeightsOnly(_ name: String, architecture: String, weights: String) throws {
        let golden = try Golden("keras/\(name).io.h5")
        let model = try KerasModel(architecture: Fixtures.path("keras/\(architecture)"),
                                   weights: Fixtures.path("keras/\(weights)"))
        let output = try model.predict(try golden.inputs)
        if let bad = mismatch(output, try golden.tensor(), kerasTolerance) { XCTFail("\(weights): \(bad)") }
    }

    func testKeras2SaveWeightsWithJSONArchitecture() throws {
        for name in ["nested_unfrozen", "functional_branches"] {
            try checkWeightsOnly("\(name).k2", architecture: "\(name).k2.json", weights: "\(name).k2.savedweights.h5")
        }
    }

    func testKeras3WeightsH5WithJSONArchitecture() throws {
        for name in ["nested_unfrozen", "functional_branches"] {
            try checkWeightsOnly("\(name).k3", architecture: "\(name).k3.json", weights: "\(name).k3.weights.h5")
        }
    }

    func testWeightsOnlyWithFullModelArchitecture() throws {
        try checkWeightsOnly("nested_unfrozen.k3", architecture: "nested_unfrozen.k3.h5",
                             weights: "nested_unfrozen.k3.weights.h5")
        try checkWeightsOnly("nested_unfrozen.k2", architecture: "nested_unfrozen.k2.h5",
                             weights: "nested_unfrozen.k2.savedweights.h5")
    }

    func testWeightsOnlyFileAloneAsksForTheArchitecture() {
        let path = Fixtures.path("keras/nested_unfrozen.k2.savedweights.h5")
        assertKerasError(try KerasModel(contentsOf: path), .notAModel, contains: "weights-only")
    }

    // MARK: Bad input: each a typed error that names the file, never a crash

    func assertKerasError<T>(_ body: @autoclosure () throws -> T, _ kind: KerasError.Kind, contains text: String,
                             layer: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected a \(kind) error", file: file, line: line)
        } catch let error as KerasError {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(text), "'\(error)' should mention '\(text)'", file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(error.file), "names the file: \(error)", file: file, line: line)
            if let layer { XCTAssertEqual(error.layer, layer, "\(error)", file: file, line: line) }
        } catch {
            XCTFail("expected a KerasError, got \(type(of: error)): \(error)", file: file, line: line)
        }
    }

    func bad(_ name: String) -> String { Fixtures.path("keras/bad/\(name)") }

    func testNotHDF5() { assertKerasError(try KerasModel(contentsOf: bad("not_hdf5.h5")), .notAModel, contains: "HDF5") }
    func testEmptyFile() { assertKerasError(try KerasModel(contentsOf: bad("empty.h5")), .notAModel, contains: "empty") }
    func testTruncatedFile() {
        assertKerasError(try KerasModel(contentsOf: bad("truncated.h5")), .notAModel, contains: "truncated.h5")
    }
    func testMissingFile() {
        assertKerasError(try KerasModel(contentsOf: bad("no_such_file.h5")), .notAModel, contains: "no_such_file.h5")
    }
    func testHDF5WithoutModel() {
        assertKerasError(try KerasModel(contentsOf: bad("no_model.h5")), .notAModel, contains: "model_config")
    }

    func testLambdaLayerIsRefusedByName() {
        for file in ["lambda.k2.h5", "lambda.k3.h5"] {
            assertKerasError(try KerasModel(contentsOf: bad(file)), .unsupportedLayer,
                             contains: "'Lambda' is not supported", layer: "my_lambda")
        }
    }

    func testCustomLayerIsRefusedWithTheSupportedList() {
        assertKerasError(try KerasModel(contentsOf: bad("custom_layer.k3.h5")), .unsupportedLayer,
                         contains: "supported layers: ", layer: "my_scale")
    }

    func testChannelsFirstIsRefused() {
        assertKerasError(try KerasModel(contentsOf: bad("channels_first.k3.h5")), .unsupportedOption,
                         contains: "channels_first")
    }

    func testMissingWeight() {
        assertKerasError(try KerasModel(contentsOf: bad("missing_weight.k2.h5")), .missingWeight, contains: "bias")
    }

    func testWrongWeightShape() {
        assertKerasError(try KerasModel(contentsOf: bad("wrong_shape.k3.h5")), .weightShape, contains: "[5, 5, 3, 8]")
    }

    func testKeras1IsRefused() {
        assertKerasError(try KerasModel(contentsOf: bad("keras1.h5")), .unsupportedVersion, contains: "Keras 1.2.2")
    }

    // MARK: Unit checks of the importer's own rules

    func testSnakeCaseMatchesKeras() {
        XCTAssertEqual(WeightLoading.snakeCase("Conv2D"), "conv2d")
        XCTAssertEqual(WeightLoading.snakeCase("DepthwiseConv2D"), "depthwise_conv2d")
        XCTAssertEqual(WeightLoading.snakeCase("BatchNormalization"), "batch_normalization")
        XCTAssertEqual(WeightLoading.snakeCase("GlobalAveragePooling2D"), "global_average_pooling2d")
        XCTAssertEqual(WeightLoading.snakeCase("PReLU"), "p_re_lu")
        XCTAssertEqual(WeightLoading.snakeCase("ReLU"), "re_lu")
    }

    func testWeightNamesOfBothKerasVersionsMatchByLayerAndWeight() {
        let expected = ["dw/depthwise_kernel", "dw/bias"]
        // Keras 2: `layer/weight:0`; Keras 3: the variable path, with `kernel` for depthwise.
        XCTAssertEqual(WeightLoading.matchByName(["dw/depthwise_kernel:0", "dw/bias:0"], expected), [0, 1])
        XCTAssertEqual(WeightLoading.matchByName(["model/dw/bias", "model/dw/kernel"], expected), [1, 0])
        // Unknown or ambiguous names fall back to Keras's order (nil here).
        XCTAssertNil(WeightLoading.matchByName(["dw/gamma:0", "dw/bias:0"], expected))
        XCTAssertNil(WeightLoading.matchByName(["a/conv/kernel", "b/conv/kernel"], ["a/conv/kernel", "b/conv/kernel"]
            .map { "x/" + $0.split(separator: "/").suffix(2).joined(separator: "/") }))
    }

}
