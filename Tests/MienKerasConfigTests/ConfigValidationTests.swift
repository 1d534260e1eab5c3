@testable import MienKerasConfig
import MienNN
import MienTestSupport
import XCTest

/// A model config is untrusted: every size, stride and shape is checked against Keras's
/// rules and `ModelLimits` before a layer allocates anything, and each refusal names the
/// file, the layer and what is wrong (issue: hostile input, classes 1, 2 and 9).
final class ConfigValidationTests: XCTestCase {
    /// A Sequential model of one layer on an input of `shape` (batch excluded).
    func sequential(_ className: String, _ config: [String: JSON], input shape: [JSON] = [8, 8, 3]) -> JSON {
        var layer = config
        if layer["name"] == nil { layer["name"] = "bad" }
        return ["class_name": "Sequential", "config": [
            "name": "m",
            "layers": [["class_name": "InputLayer", "config": ["batch_shape": .array([nil] + shape), "name": "in"]],
                       ["class_name": .string(className), "config": .object(layer)]]]]
    }

    /// The error of building `json`; fails the test if it builds.
    func refusal(_ json: JSON, budget: WeightBudget = .standard(), file: StaticString = #filePath,
                 line: UInt = #line) -> KerasError? {
        caught(KerasError.self, file: file, line: line) {
            try ModelBuilder(file: "m.h5", kerasMajor: 3, budget: budget).buildModel(json)
        }
    }

    func assertRefused(_ className: String, _ config: [String: JSON], input: [JSON] = [8, 8, 3],
                       budget: WeightBudget = .standard(), layer: String? = "bad", saying fragments: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        guard let error = refusal(sequential(className, config, input: input), budget: budget, file: file, line: line) else { return }
        XCTAssertEqual(error.file, "m.h5", file: file, line: line)
        XCTAssertEqual(error.layer, layer, "\(error)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
        }
    }

    /// Class 1: sizes (filters, units, kernel sizes) that Keras refuses, and sizes so large
    /// that shape arithmetic would overflow or allocate gigabytes.
    func testSizesAreCheckedBeforeAllocating() {
        for filters: JSON in [0, -1, 1e9, .number(Double(1 << 31)), .number(Double(1 << 62))] {
            assertRefused("Conv2D", ["filters": filters, "kernel_size": 3], saying: ["'filters'"])
        }
        for units: JSON in [0, -4, 1e9] {
            assertRefused("Dense", ["units": units], input: [16], saying: ["'units'"])
        }
        assertRefused("Conv2D", ["filters": 4, "kernel_size": 0], saying: ["'kernel_size'"])
        assertRefused("Conv2D", ["filters": 4, "kernel_size": [3, -3]], saying: ["'kernel_size'"])
        assertRefused("DepthwiseConv2D", ["kernel_size": 3, "depth_multiplier": 0], saying: ["'depth_multiplier'"])
        assertRefused("Resizing", ["height": 0, "width": 4], saying: ["'height'"])
        // Within the per-option range, but more weights than allowed: refused before allocating.
        assertRefused("Dense", ["units": .number(Double(1 << 24))], input: [256],
                      saying: ["declares 4311744512 weights", "1 GiB"])
        // A file can only declare the weights it holds.
        assertRefused("Dense", ["units": 1000], input: [1000], budget: .file(bytes: 50_000),
                      saying: ["50000-byte file"])
    }

    /// PReLU on an input of unknown height and width (MTCNN's P-Net): built when its slopes
    /// are shared along the unknown axes, refused (as by Keras) when one of them is not.
    func testPReLUNeedsKnownUnsharedAxes() throws {
        let graph = try ModelBuilder(file: "m.h5", kerasMajor: 3)
            .buildModel(sequential("PReLU", ["shared_axes": [1, 2]], input: [nil, nil, 3]))
        XCTAssertEqual(try graph.forward([Tensor(shape: [1, 5, 7, 3], repeating: -1)]).shape, [1, 5, 7, 3])
        assertRefused("PReLU", ["shared_axes": [1]], input: [nil, nil, 3],
                      saying: ["PReLU needs a known size on every axis that is not shared", "(None, None, None, 3)"])
    }

    /// Shapes: empty or negative axes, and activations above the limit, whether declared
    /// by the input or produced by a layer (UpSampling2D 2000, ZeroPadding2D 100000).
    func testShapesAreChecked() {
        assertRefused("Flatten", [:], input: [100_000, 100_000, 3], layer: "in", saying: ["input shape", "values per image"])
        assertRefused("Flatten", [:], input: [0, 8, 3], layer: "in", saying: ["empty or negative"])
        assertRefused("Flatten", [:], input: [-5, 8, 3], layer: "in", saying: ["empty or negative"])
        assertRefused("Flatten", [:], input: [JSON.number(Double(1 << 40)), 1, 1], layer: "in", saying: ["above Mien's limit"])
        assertRefused("Flatten", [:], input: [JSON.string("x"), 8, 3], layer: "in", saying: ["not a length or null"])
        assertRefused("UpSampling2D", ["size": 2000], input: [100, 100, 3], saying: ["values per image"])
        assertRefused("ZeroPadding2D", ["padding": 100_000], saying: ["values per image"])
        assertRefused("ZeroPadding2D", ["padding": -1], saying: ["'padding'", "0...16777216"])
        assertRefused("Cropping2D", ["cropping": [[5, 5], [0, 0]]], saying: ["leaves nothing"])
        assertRefused("Resizing", ["height": 100_000, "width": 100_000], saying: ["values per image"])
        assertRefused("Reshape", ["target_shape": [0, 192]], saying: ["'target_shape'"])
        assertRefused("Reshape", ["target_shape": [-1, -1]], saying: ["at most one -1"])
        assertRefused("Permute", ["dims": [1, 1, 2]], saying: ["permutation"])
        assertRefused("Conv2D", ["filters": 4, "kernel_size": 9], saying: ["does not fit"])
    }

    /// Class 2: strides, pool sizes and dilations of 0 or below (a division by zero, or the
    /// C kernel reading outside its buffer), and strides with dilation, which Keras refuses.
    func testWindowsAreChecked() {
        for key in ["strides", "dilation_rate"] {
            for value: JSON in [0, -1, [1, 0], [-2, 1]] {
                assertRefused("Conv2D", ["filters": 4, "kernel_size": 3, .init(key): value], saying: ["'\(key)'"])
                assertRefused("DepthwiseConv2D", ["kernel_size": 3, .init(key): value], saying: ["'\(key)'"])
                assertRefused("SeparableConv2D", ["filters": 2, "kernel_size": 3, .init(key): value], saying: ["'\(key)'"])
            }
        }
        assertRefused("Conv2D", ["filters": 4, "kernel_size": 3, "strides": 2, "dilation_rate": 2],
                      saying: ["dilation_rate", "Keras refuses them too"])
        for key in ["pool_size", "strides"] {
            assertRefused("MaxPooling2D", [.init(key): 0], saying: ["'\(key)'"])
            assertRefused("AveragePooling2D", [.init(key): -3], saying: ["'\(key)'"])
        }
        assertRefused("UpSampling2D", ["size": 0], saying: ["'size'"])
        XCTAssertNil(resolvePadding(.same, input: 8, kernel: 3, stride: 0))
        XCTAssertNil(resolvePadding(.valid, input: 8, kernel: 3, stride: 1, dilation: -1))
    }

    /// Rates Keras requires in 0...1, and ReLU options Keras refuses when negative.
    func testRatesAndSlopes() {
        assertRefused("Dropout", ["rate": 2], saying: ["'rate'", "0...1"])
        assertRefused("SpatialDropout2D", ["rate": -0.1], saying: ["'rate'"])
        assertRefused("ReLU", ["max_value": -1], saying: ["'max_value'", "negative"])
        assertRefused("LeakyReLU", ["negative_slope": -0.2], saying: ["'negative_slope'"])
    }

    /// Class 9: a call with an argument Mien would not use is refused, never dropped.
    func testCallsWithUnusedArgumentsAreRefused() {
        func functional(_ args: JSON, kwargs: JSON = [:], className: String = "Add", module: String = "keras.layers") -> JSON {
            let tensor: JSON = ["class_name": "__keras_tensor__", "config": ["shape": [nil, 4], "dtype": "float32",
                                                                             "keras_history": ["in", 0, 0]]]
            func tensors(_ value: JSON) -> JSON { value == "T" ? tensor : value.array.map { .array($0.map(tensors)) } ?? value }
            return ["class_name": "Functional", "config": [
                "name": "m", "input_layers": [["in", 0, 0]], "output_layers": [["bad", 0, 0]],
                "layers": [
                    ["class_name": "InputLayer", "name": "in", "config": ["batch_shape": [nil, 4], "name": "in"],
                     "inbound_nodes": []],
                    ["class_name": .string(className), "module": .string(module), "name": "bad",
                     "config": className == "Dropout" ? ["name": "bad", "rate": 0.5] : ["name": "bad"],
                     "inbound_nodes": [["args": tensors(args),
                                        "kwargs": kwargs]]],
                ]]]
        }
        // Keras 3's `x + 3.0` on a tensor is an operation from keras.src.ops named Add: it is
        // computed with its constant (not the merge layer, which would drop it).
        let plus = try? ModelBuilder(file: "m.h5", kerasMajor: 3).buildModel(functional(["T", 3.0], module: "keras.src.ops.numpy"))
        XCTAssertEqual(try plus?.forward([Tensor(shape: [1, 4], scalars: [1, 2, 3, 4])]).scalars, [4, 5, 6, 7])
        // An operation Mien does not compute, or an argument it does not read, is refused
        // naming the operation and the supported ones.
        let stack = refusal(functional([["T", 3.0]], className: "Stack", module: "keras.src.ops.numpy"))
        XCTAssertEqual(stack?.kind, .unsupportedOption)
        XCTAssertTrue(stack?.description.contains("mixed with constants") ?? false, "\(String(describing: stack))")
        let slice = refusal(functional(["T", [["class_name": "__ellipsis__", "config": [:]], ["class_name": "__slice__", "config": ["start": 1, "stop": nil, "step": nil]]]],
                                       className: "GetItem", module: "keras.src.ops.numpy"))
        XCTAssertTrue(slice?.description.contains("only [..., k] and [..., ::-1]") ?? false, "\(String(describing: slice))")
        let mean = refusal(functional(["T"], className: "Mean", module: "keras.src.ops.numpy"))
        XCTAssertEqual(mean?.kind, .unsupportedLayer)
        for text in ["Keras 3 operation Mean", "supported: Keras 3 operations Add", "tf.math.truediv"] {
            XCTAssertTrue(mean?.description.contains(text) ?? false, "\(text): \(String(describing: mean))")
        }
        let extra = refusal(functional(["T", 3.0], kwargs: ["out": 1], module: "keras.src.ops.numpy"))
        XCTAssertTrue(extra?.description.contains("argument 'out'") ?? false, "\(String(describing: extra))")
        // A constant among a layer's arguments, or a keyword Mien does not read.
        let constant = refusal(functional([["T", 3.0]]))
        XCTAssertTrue(constant?.description.contains("constant argument 3") ?? false, "\(String(describing: constant))")
        let keyword = refusal(functional(["T"], kwargs: ["y": 3.0], className: "Activation"))
        XCTAssertTrue(keyword?.description.contains("argument 'y'") ?? false, "\(String(describing: keyword))")
        // training=True on a layer that behaves differently in training.
        let dropout = refusal(functional(["T"], kwargs: ["training": true], className: "Dropout"))
        XCTAssertTrue(dropout?.description.contains("training=True") ?? false, "\(String(describing: dropout))")
        // A mask for a layer whose Keras call takes none (Keras: "unexpected keyword argument 'mask'").
        let mask = refusal(functional(["T"], kwargs: ["mask": nil], className: "Activation"))
        XCTAssertTrue(mask?.description.contains("argument 'mask'") ?? false, "\(String(describing: mask))")
        // What Keras writes for ordinary calls still builds (Keras 3.15: Dropout gets
        // `training: false`, BatchNormalization and Softmax `mask: null`).
        for (className, kwargs, options) in [("Dropout", ["training": false], ["rate": 0.5]),
                                             ("Softmax", ["mask": nil], [:]),
                                             ("Activation", ["training": true], ["activation": "relu"])] as [(String, JSON, [String: JSON])] {
            var json = functional(["T"], kwargs: kwargs, className: className)
            if case .object(var config) = json["config"]!, case .array(var layers) = config["layers"]!,
               case .object(var layer) = layers[1] {
                layer["config"] = .object(options.merging(["name": "bad"]) { a, _ in a })
                layers[1] = .object(layer)
                config["layers"] = .array(layers)
                json = ["class_name": "Functional", "config": .object(config)]
            }
            XCTAssertNoThrow(try ModelBuilder(file: "m.h5", kerasMajor: 3).buildModel(json), className)
        }
    }

    /// tf.keras's TFOpLambda layers: `x / 127.5`, `2.0 - x` and `tf.nn.bias_add` are computed;
    /// a function Mien does not implement, a slice or an unknown class is refused with an
    /// error naming the layer, the TensorFlow function and the supported list.
    func testTFOpLambdaLayers() throws {
        func model(_ function: String, _ call: JSON, className: String = "TFOpLambda") -> JSON {
            ["class_name": "Functional", "config": [
                "name": "m", "input_layers": [["in", 0, 0]], "output_layers": [["op", 0, 0]],
                "layers": [
                    ["class_name": "InputLayer", "name": "in", "config": ["batch_input_shape": [nil, 3], "name": "in"],
                     "inbound_nodes": []],
                    ["class_name": .string(className), "name": "op",
                     "config": ["name": "op", "trainable": true, "dtype": "float32", "function": .string(function)],
                     "inbound_nodes": [call]],
                ]]]
        }
        func run(_ json: JSON) throws -> [Float] {
            try ModelBuilder(file: "m.h5", kerasMajor: 2).buildModel(json).forward([Tensor(shape: [1, 3], scalars: [1, 2, 4])]).scalars
        }
        XCTAssertEqual(try run(model("math.truediv", ["in", 0, 0, ["y": 2.0, "name": nil]])), [0.5, 1, 2])
        XCTAssertEqual(try run(model("math.subtract", ["_CONSTANT_VALUE", -1, 2.0, ["y": ["in", 0, 0], "name": nil]])), [1, 0, -2])
        XCTAssertEqual(try run(model("nn.bias_add", ["in", 0, 0, ["bias": [1, 2, 3], "data_format": "NHWC"]])), [2, 4, 7])
        XCTAssertEqual(try run(model("math.maximum", ["in", 0, 0, ["y": [3, 3, 3], "name": nil]])), [3, 3, 4])
        for (json, texts) in [
            (model("math.reduce_mean", ["in", 0, 0, ["axis": -1]]), ["'op'", "tf.math.reduce_mean", "supported", "tf.math.truediv"]),
            (model("__operators__.getitem", ["in", 0, 0, ["slice_spec": [1]]], className: "SlicingOpLambda"),
             ["tf.__operators__.getitem", "not supported"]),
            (model("math.truediv", ["in", 0, 0, ["y": 2.0, "z": 1.0]]), ["argument 'z'"]),
            (model("nn.bias_add", ["in", 0, 0, ["bias": [1, 2, 3], "data_format": "NCHW"]]), ["data_format"]),
        ] as [(JSON, [String])] {
            XCTAssertThrowsError(try run(json)) { error in
                for text in texts { XCTAssertTrue("\(error)".contains(text), "\(text): \(error)") }
            }
        }
    }

    /// An explicit null where Keras needs a value is refused, not read as the default: Keras
    /// takes `use_bias: null` as false and fails on `epsilon: null`. A model with no inputs
    /// or outputs is refused as Keras refuses it ("Graph disconnected").
    func testNullOptionsAndEmptyEndpointsAreRefused() {
        assertRefused("BatchNormalization", ["epsilon": nil], saying: ["'epsilon' is null"])
        assertRefused("Dense", ["units": 4, "use_bias": nil], saying: ["'use_bias' is null"])
        assertRefused("Conv2D", ["filters": 2, "kernel_size": 3, "padding": "same", "strides": nil],
                      saying: ["'strides' is null"])
        for (inputs, outputs) in [([], [["d", 0, 0]]), ([["in", 0, 0]], [])] as [([JSON], [JSON])] {
            let model: JSON = ["class_name": "Functional", "config": [
                "name": "m", "input_layers": .array(inputs), "output_layers": .array(outputs),
                "layers": [
                    ["class_name": "InputLayer", "name": "in", "config": ["batch_shape": [nil, 4], "name": "in"],
                     "inbound_nodes": []],
                    ["class_name": "Dense", "name": "d", "config": ["name": "d", "units": 2],
                     "inbound_nodes": [[["in", 0, 0, [:]]]]],
                ]]]
            let error = refusal(model)
            XCTAssertTrue(error?.description.contains("no (or empty) input_layers/output_layers") ?? false, "\(String(describing: error))")
        }
    }

    /// An option the builder does not read is refused unless it cannot change inference:
    /// a Conv2D's config under another class name, a misspelt key, Resizing's antialias.
    func testUnreadOptionsAreRefused() {
        assertRefused("MaxPooling2D", ["filters": 4, "kernel_size": 3], saying: ["MaxPooling2D option 'filters'"])
        assertRefused("Dense", ["units": 4, "unitz": 5], input: [16], saying: ["option 'unitz'"])
        assertRefused("Dense", ["units": 4, "lora_rank": 4], input: [16], saying: ["option 'lora_rank'"])
        assertRefused("Resizing", ["height": 4, "width": 4, "antialias": true], saying: ["antialias=True"])
        assertRefused("Conv2D", ["filters": 4, "kernel_size": 3, "padding": nil], saying: ["padding is null"])
        assertRefused("Conv2D", ["filters": 4, "kernel_size": 3, "strides": nil], saying: ["'strides' is null"])
        // Keras's own initializer names only, each a well-formed serialized object.
        assertRefused("Dense", ["units": 4, "kepnel_initializer": nil], input: [16], saying: ["option 'kepnel_initializer'"])
        assertRefused("Dense", ["units": 4, "kernel_initializer": ["class_name": "GlorotUniform", "co{{nfig": [:]]],
                      input: [16], saying: ["'kernel_initializer'"])
        // Required arguments (Keras: "missing 1 required positional argument"), float32 range,
        // and Keras 3's case-sensitive pooling padding.
        assertRefused("Activation", [:], saying: ["missing 'activation'"])
        assertRefused("Dropout", [:], saying: ["missing 'rate'"])
        assertRefused("Rescaling", ["offset": 0], saying: ["missing 'scale'"])
        assertRefused("Rescaling", ["scale": 0.5], saying: ["missing 'offset'"])
        assertRefused("BatchNormalization", ["momentum": 1e308], saying: ["beyond float32"])
        assertRefused("MaxPooling2D", ["padding": "SAME"], saying: ["padding 'SAME'"])
        // Initializers, regularizers, constraints, seeds and null LoRA options do not matter.
        XCTAssertNoThrow(try ModelBuilder(file: "m.h5", kerasMajor: 3).buildModel(sequential("Dense", [
            "units": 4, "kernel_initializer": ["class_name": "GlorotUniform", "config": ["seed": nil]], "bias_regularizer": nil,
            "kernel_constraint": nil, "lora_rank": nil, "dtype": "float32", "trainable": true], input: [16])))
        XCTAssertNoThrow(try ModelBuilder(file: "m.h5", kerasMajor: 3).buildModel(sequential("MaxPooling2D", [
            "pool_size": 2, "strides": nil])))
    }

    /// Entries Keras could not read: no config object, no entry name, '/' in a Keras 3 name.
    func testMalformedEntriesAreRefused() {
        var json = sequential("Dense", ["units": 4], input: [16])
        if case .object(var config) = json["config"]!, case .array(var layers) = config["layers"]! {
            layers[1] = ["class_name": "Flatten", "config": "x"]
            config["layers"] = .array(layers)
            json = ["class_name": "Sequential", "config": .object(config)]
        }
        XCTAssertTrue(refusal(json)?.description.contains("has no config object") ?? false)
        // Two layers of one name, and an unknown key on an entry.
        json = ["class_name": "Sequential", "config": ["name": "m", "layers": [
            ["class_name": "InputLayer", "config": ["batch_shape": [nil, 4], "name": "in"]],
            ["class_name": "Dense", "config": ["name": "d", "units": 4]],
            ["class_name": "Dense", "config": ["name": "d", "units": 4]]]]]
        XCTAssertTrue(refusal(json)?.description.contains("two layers are named 'd'") ?? false)
        json = ["class_name": "Sequential", "config": ["name": "m", "layers": [
            ["class_name": "InputLayer", "config": ["batch_shape": [nil, 4], "name": "in"]],
            ["class_name": "Dense", "config": ["name": "d", "units": 4], "build_con\u{FFFD}fig": [:]]]]]
        XCTAssertTrue(refusal(json)?.description.contains("unknown key") ?? false)
        // An InputLayer option Keras does not have; a dtype that is no float type.
        json = ["class_name": "Sequential", "config": ["name": "m", "layers": [
            ["class_name": "InputLayer", "config": ["batch_shape": [nil, 4], "name": "in", "activation": "relu"]],
            ["class_name": "Dense", "config": ["name": "d", "units": 4]]]]]
        XCTAssertTrue(refusal(json)?.description.contains("InputLayer option 'activation'") ?? false)
        assertRefused("Dense", ["units": 4, "dtype": "floaz32"], input: [16], saying: ["dtype \"floaz32\""])
        assertRefused("Dense", ["units": 4, "bias_initializer": ["class_nam?": "Zeros"]], input: [16],
                      saying: ["'bias_initializer'"])
        assertRefused("Dense", ["units": 4, "name": "a/b"], input: [16], layer: "a/b", saying: ["cannot contain '/'"])
    }

    func testWeightBudgetCountsEveryLayer() throws {
        let budget = WeightBudget(limit: 100, reason: "test")
        try budget.reserve([[4, 5], [5]], layer: "a")
        XCTAssertEqual(budget.used, 25)
        XCTAssertThrowsError(try budget.reserve([[10, 10]], layer: "b")) { error in
            XCTAssertEqual((error as? LayerError)?.layer, "b")
        }
        XCTAssertThrowsError(try budget.reserve([[1 << 40, 1 << 40]], layer: "c"))
        XCTAssertThrowsError(try budget.reserve([[-1]], layer: "d"))
    }
}
