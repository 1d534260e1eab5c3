@testable import MienKerasConfig
import MienNN
import MienTestSupport
import XCTest

/// The configs of LayerNormalization, LayerScale and the augmentation layers: each option
/// read as the Keras that wrote it reads it (tf.keras 2 and Keras 3 parse factors
/// differently), options Mien does not implement refused naming the layer and the option,
/// and the written configs read back to the same layers.
final class AugmentationConfigTests: XCTestCase {
    /// A Sequential model of one layer named "layer" on an input of `shape` (batch excluded).
    func model(_ className: String, _ config: [String: JSON], input shape: [JSON], module: String?) -> JSON {
        var layer = config
        layer["name"] = "layer"
        var entry: [String: JSON] = ["class_name": .string(className), "config": .object(layer)]
        if let module { entry["module"] = .string(module) }
        return ["class_name": "Sequential", "config": [
            "name": "m",
            "layers": [["class_name": "InputLayer", "config": ["batch_shape": .array([nil] + shape), "name": "in"]],
                       .object(entry)]]]
    }

    func build(_ className: String, _ config: [String: JSON], input: [JSON] = [8, 8, 3], keras: Int = 3,
               module: String? = nil) throws -> any Layer {
        try ModelBuilder(file: "m.h5", kerasMajor: keras).buildModel(model(className, config, input: input, module: module)).layers[1]
    }

    func assertRefused(_ className: String, _ config: [String: JSON], input: [JSON] = [8, 8, 3], keras: Int = 3,
                       module: String? = nil, _ kind: KerasError.Kind, saying fragments: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        guard let error = caught(KerasError.self, file: file, line: line, {
            try build(className, config, input: input, keras: keras, module: module)
        }) else { return }
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        XCTAssertEqual(error.layer, "layer", "\(error)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
        }
    }

    /// Builds, writes back for the same Keras, builds again: the same config.
    func assertRoundTrip(_ layer: any Layer, input: [JSON] = [8, 8, 3], keras: Int,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        let written = try KerasLayers.config(of: layer, kerasMajor: keras)
        let again = try build(written.className, written.config, input: input, keras: keras)
        XCTAssertEqual(again.kerasClass, layer.kerasClass, file: file, line: line)
        XCTAssertEqual(try KerasLayers.config(of: again, kerasMajor: keras).config, written.config, file: file, line: line)
    }

    // MARK: Factors

    func testRotationFactorAsEachKerasReadsIt() throws {
        let k3 = try XCTUnwrap(try build("RandomRotation", ["factor": 0.2]) as? RandomRotation)
        XCTAssertEqual(k3.factor.lower, -0.2, accuracy: 1e-7)
        XCTAssertEqual(k3.sampling, AffineSampling(fillMode: .reflect, fillValue: 0, interpolation: .bilinear))
        let sorted = try XCTUnwrap(try build("RandomRotation", ["factor": [0.3, -0.1]]) as? RandomRotation)
        XCTAssertEqual(sorted.factor.lower, -0.1, accuracy: 1e-7)
        XCTAssertEqual(sorted.factor.upper, 0.3, accuracy: 1e-7)
        // Keras 3 checks only that a list reaches into [-1, 1]; a number must lie in it.
        XCTAssertNoThrow(try build("RandomRotation", ["factor": [-3, 3]]))
        assertRefused("RandomRotation", ["factor": 1.5], .invalidConfig, saying: ["'factor'", "[-1"])
        // tf.keras 2 keeps a list as written and refuses it reversed; a number has no bound.
        assertRefused("RandomRotation", ["factor": [0.3, -0.1]], keras: 2, .invalidConfig, saying: ["upper bound"])
        let k2 = try XCTUnwrap(try build("RandomRotation", ["factor": 1.5, "rng_type": "stateful"], keras: 2) as? RandomRotation)
        XCTAssertEqual(k2.factor, FactorRange(-1.5, 1.5))
        assertRefused("RandomRotation", [:], .invalidConfig, saying: ["'factor'"])
        assertRefused("RandomRotation", ["factor": .null], .invalidConfig, saying: ["'factor'"])
        assertRefused("RandomRotation", ["factor": [0.1, 0.2, 0.3]], .invalidConfig, saying: ["two numbers"])
    }

    func testZoomTranslationContrastAndBrightnessFactors() throws {
        let zoom = try XCTUnwrap(try build("RandomZoom", ["height_factor": 0.2, "width_factor": .null]) as? RandomZoom)
        XCTAssertNil(zoom.widthFactor)
        assertRefused("RandomZoom", ["height_factor": -1], .invalidConfig, saying: ["'height_factor'", "(-1, 1]"])
        // tf.keras 2 draws a reversed list as written (the same distribution, kept sorted) and
        // bounds a width factor only below.
        let zoom2 = try XCTUnwrap(try build("RandomZoom", ["height_factor": [0.2, -0.3], "width_factor": [0, 2]], keras: 2) as? RandomZoom)
        XCTAssertEqual(zoom2.heightFactor.lower, -0.3, accuracy: 1e-7)
        XCTAssertEqual(zoom2.widthFactor, FactorRange(0, 2))
        assertRefused("RandomZoom", ["height_factor": 0.1, "width_factor": 2], keras: 2, .invalidConfig, saying: ["'width_factor'"])
        assertRefused("RandomTranslation", ["height_factor": 2.0, "width_factor": 0.1], .invalidConfig, saying: ["'height_factor'"])
        assertRefused("RandomTranslation", ["height_factor": [0.2, 0.1], "width_factor": 0.1], keras: 2, .invalidConfig,
                      saying: ["'height_factor'"])
        // RandomContrast: Keras 3 reads a number f as [0, f], tf.keras 2 as [f, f].
        let c3 = try XCTUnwrap(try build("RandomContrast", ["factor": 0.2]) as? RandomContrast)
        XCTAssertEqual(c3.factor.lower, 0)
        XCTAssertEqual(c3.factor.upper, 0.2, accuracy: 1e-7)
        let c2 = try XCTUnwrap(try build("RandomContrast", ["factor": 0.2], keras: 2) as? RandomContrast)
        XCTAssertEqual(c2.factor.lower, 0.2, accuracy: 1e-7)
        XCTAssertEqual(c2.kerasMajor, 2)
        assertRefused("RandomContrast", ["factor": 0.2, "value_range": [255, 0]], .unsupportedOption, saying: ["value_range"])
        assertRefused("RandomContrast", ["factor": 0.2, "value_range": [0, 255]], keras: 2, .unsupportedOption,
                      saying: ["RandomContrast option 'value_range'"])
        assertRefused("RandomContrast", ["factor": -0.2], keras: 2, .invalidConfig, saying: ["'factor'"])
        // RandomBrightness: both sort the value range.
        let b = try XCTUnwrap(try build("RandomBrightness", ["factor": [0.1, -0.2], "value_range": [1, -1]]) as? RandomBrightness)
        XCTAssertEqual(b.valueRange.0, -1)
        XCTAssertEqual(b.factor.lower, -0.2, accuracy: 1e-7)
        assertRefused("RandomBrightness", ["factor": 1.5], keras: 2, .invalidConfig, saying: ["'factor'"])
        assertRefused("RandomBrightness", ["factor": 0.1, "value_range": .null], .invalidConfig, saying: ["'value_range'"])
    }

    // MARK: Options refused or checked

    func testOptionsMienDoesNotImplementAreRefusedByName() {
        assertRefused("RandomRotation", ["factor": 0.1, "fill_mode": "mirror"], .unsupportedOption,
                      saying: ["RandomRotation fill_mode 'mirror'"])
        assertRefused("RandomZoom", ["height_factor": 0.1, "interpolation": "bicubic"], .unsupportedOption,
                      saying: ["interpolation 'bicubic'"])
        assertRefused("RandomFlip", ["mode": "diagonal"], .unsupportedOption, saying: ["RandomFlip mode 'diagonal'"])
        assertRefused("RandomFlip", ["data_format": "channels_first"], .unsupportedOption, saying: ["channels_first"])
        // tf.keras 2's layers have no data_format (tf.keras refuses it too).
        assertRefused("RandomFlip", ["data_format": "channels_last"], keras: 2, .unsupportedOption,
                      saying: ["RandomFlip option 'data_format'"])
        assertRefused("RandomCrop", ["height": 4, "width": 4, "seed": "x"], .invalidConfig, saying: ["'seed'"])
        assertRefused("RandomCrop", ["height": 0, "width": 4], .invalidConfig, saying: ["'height'"])
        assertRefused("CenterCrop", ["height": 4, "width": 4], input: [8, 3], .unsupportedOption, saying: ["rank 4"])
        assertRefused("RandomRotation", ["factor": 0.1, "fill_value": "x"], .invalidConfig, saying: ["'fill_value'"])
        assertRefused("RandomRotation", ["factor": 0.1, "shear": 0.1], .unsupportedOption, saying: ["'shear'"])
        // Read, checked, and without effect on the images.
        XCTAssertNoThrow(try build("RandomFlip", ["mode": "horizontal", "seed": 42, "bounding_box_format": "xyxy"]))
        XCTAssertNoThrow(try build("RandomFlip", ["mode": "vertical", "seed": .null, "rng_type": "stateless"], keras: 2))
    }

    func testLayerNormalizationAxesAndOptions() throws {
        let last = try XCTUnwrap(try build("LayerNormalization", ["axis": [-1], "epsilon": 1e-6]) as? LayerNormalization)
        XCTAssertEqual(last.paramShape, [3])
        XCTAssertEqual(last.epsilon, 1e-6)
        XCTAssertNotNil(last.beta)
        // Trailing axes: Keras 3 sorts the axes as written, tf.keras 2 keeps their order.
        let k3 = try XCTUnwrap(try build("LayerNormalization", ["axis": [-1, -2]], input: [5, 6, 8]) as? LayerNormalization)
        XCTAssertEqual(k3.paramShape, [6, 8])
        let k2 = try XCTUnwrap(try build("LayerNormalization", ["axis": [3, 2]], input: [5, 6, 8], keras: 2) as? LayerNormalization)
        XCTAssertEqual(k2.paramShape, [8, 6])
        XCTAssertEqual(k2.axisCount, 2)
        let dense = try XCTUnwrap(try build("LayerNormalization", ["axis": 1, "center": false], input: [7]) as? LayerNormalization)
        XCTAssertNil(dense.beta)
        assertRefused("LayerNormalization", ["axis": 1], input: [5, 6, 8], .unsupportedOption, saying: ["axes [1]", "trailing"])
        assertRefused("LayerNormalization", ["axis": [0, 1]], input: [7], .unsupportedOption, saying: ["batch excluded"])
        assertRefused("LayerNormalization", ["axis": [2, -1]], input: [5, 3], .invalidConfig, saying: ["repeats"])
        assertRefused("LayerNormalization", ["axis": 4], .invalidConfig, saying: ["out of range"])
        assertRefused("LayerNormalization", ["epsilon": .null], .invalidConfig, saying: ["'epsilon'"])
        // rms_scaling: Keras 3's (implemented); tf.keras 2 has no such option.
        let rms = try XCTUnwrap(try build("LayerNormalization", ["rms_scaling": true]) as? LayerNormalization)
        XCTAssertTrue(rms.rmsScaling)
        XCTAssertNotNil(rms.gamma)
        XCTAssertNil(rms.beta)
        assertRefused("LayerNormalization", ["rms_scaling": false], keras: 2, .unsupportedOption, saying: ["'rms_scaling'"])
        try assertRoundTrip(last, keras: 3)
        try assertRoundTrip(last, keras: 2)
        try assertRoundTrip(k3, input: [5, 6, 8], keras: 3)
        try assertRoundTrip(dense, input: [7], keras: 3)
        try assertRoundTrip(rms, keras: 3)
        XCTAssertThrowsError(try KerasLayers.config(of: rms, kerasMajor: 2))
    }

    /// ConvNeXt's LayerScale as each Keras serializes it: `.h5` files name only the class;
    /// `to_json` and `.keras` add module `keras.src.applications.convnext` (tf.keras:
    /// `tf_keras.src.applications.convnext`) and registered_name `LayerScale`.
    func testLayerScaleOnlyAsConvNeXtsClass() throws {
        let config: [String: JSON] = ["init_values": 1e-6, "projection_dim": 3]
        let plain = try XCTUnwrap(try build("LayerScale", config) as? LayerScale)
        XCTAssertEqual(plain.gamma.shape, [3])
        XCTAssertEqual(plain.initValues, 1e-6)
        XCTAssertNoThrow(try build("LayerScale", config, module: "keras.src.applications.convnext"))
        XCTAssertNoThrow(try build("LayerScale", config, keras: 2, module: "tf_keras.src.applications.convnext"))
        assertRefused("LayerScale", config, module: "my_project.layers", .unsupportedLayer, saying: ["my_project.layers"])
        assertRefused("LayerScale", ["init_values": 0.1, "projection_dim": 4], .unsupportedOption, saying: ["projection_dim 4"])
        assertRefused("LayerScale", ["projection_dim": 3], .invalidConfig, saying: ["'init_values'"])
        try assertRoundTrip(plain, keras: 3)
        try assertRoundTrip(plain, keras: 2)
    }

    // MARK: Writing

    func testWrittenConfigsReadBackAndVersionsAreNotMixed() throws {
        let layers: [(String, [String: JSON])] = [
            ("RandomFlip", ["mode": "horizontal"]), ("RandomFlip", [:]),
            ("RandomRotation", ["factor": 0.1, "fill_mode": "constant", "fill_value": 2.5, "interpolation": "nearest"]),
            ("RandomZoom", ["height_factor": [-0.2, 0.1], "width_factor": 0.3, "fill_mode": "wrap"]),
            ("RandomTranslation", ["height_factor": 0.1, "width_factor": [0, 0.2]]),
            ("RandomContrast", ["factor": [0.1, 0.3]]), ("RandomBrightness", ["factor": 0.2, "value_range": [0, 1]]),
            ("RandomCrop", ["height": 4, "width": 5]), ("CenterCrop", ["height": 4, "width": 5]),
        ]
        for keras in [2, 3] {
            for (className, config) in layers {
                try assertRoundTrip(try build(className, config, keras: keras), keras: keras)
            }
        }
        // A layer that means one version's definition is not written for the other.
        for (className, config) in [("RandomCrop", ["height": 4, "width": 5] as [String: JSON]), ("RandomContrast", ["factor": 0.1]),
                                     ("RandomFlip", ["mode": "horizontal_and_vertical"])] {
            let k3 = try build(className, config, keras: 3)
            let error = caught(KerasError.self) { try KerasLayers.config(of: k3, kerasMajor: 2) }
            XCTAssertTrue(error?.description.contains("Keras 3's definition") ?? false, "\(String(describing: error))")
            XCTAssertEqual(KerasLayers.requiredKerasMajor(of: try build(className, config, keras: 2)), 2)
        }
        XCTAssertNoThrow(try KerasLayers.config(of: try build("RandomFlip", ["mode": "vertical"], keras: 3), kerasMajor: 2))
        // A tf.keras 2 RandomCrop makes a graph's config tf.keras 2's (a .mien file keeps it).
        let graph = try ModelBuilder(file: "m.h5", kerasMajor: 2).buildModel(model("RandomCrop", ["height": 4, "width": 4], input: [8, 8, 3], module: nil))
        XCTAssertEqual(KerasConfigWriter.kerasMajor(for: graph), 2)
    }
}
