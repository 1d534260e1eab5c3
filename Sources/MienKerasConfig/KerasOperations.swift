import MienNN

/// One argument of an operation's call: a tensor (the n-th input of the layer) or a constant.
enum OperationArgument {
    case tensor(Int)
    /// A list of tensors (`keras.ops.stack([a, b, c])`).
    case tensors([Int])
    case constant(JSON)
}

/// An operation's call, its arguments as written: `3.0 + x` is `[constant 3.0, tensor 0]`.
struct OperationArguments {
    var positional: [OperationArgument] = []
    var keywords: [String: OperationArgument] = [:]
}

/// Tensor arithmetic saved as layers: Keras 3's operations (`module: keras.src.ops.*`,
/// classes `Add`, `TrueDivide`, ...) and tf.keras's `TFOpLambda` (`tf.math.truediv`, ...).
/// Their meaning is in their call's arguments, not in their config, so the model builder
/// hands the parsed call here: each becomes an `Operation`; anything else is refused, naming
/// the operation and the supported ones.
enum KerasOperations: KerasLayerFamily {
    static var builders: [String: KerasLayers.Builder] { [:] }

    static func config(of layer: any Layer, kerasMajor: Int) throws -> KerasLayers.Written? { nil }

    /// Whether an entry of a Functional model is an operation rather than a layer. Keras 3
    /// names an operation's module (`keras.src.ops.numpy`) in `.keras` files but not in `.h5`
    /// files, where only its config tells it from the merge layer of the same class name: a
    /// Keras 3 layer's config always holds `dtype` and `trainable`, an operation's never.
    static func isOperation(_ entry: JSON, className: String, kerasMajor: Int) -> Bool {
        if className == "TFOpLambda" || className == "SlicingOpLambda" { return true }
        if let module = entry["module"]?.string { return module.split(separator: ".").contains("ops") }
        guard kerasMajor >= 3, className != "InputLayer", !KerasLayers.modelClasses.contains(className),
              let config = entry["config"]?.object, entry["inbound_nodes"]?.array?.first?["args"] != nil else {
            return false
        }
        return config["dtype"] == nil && config["trainable"] == nil
    }

    /// Keras 3's binary operations (`keras.ops.add`, ...) by class, and tf.keras's by function.
    static let keras3Binary: [String: Operation.Op] = [
        "Add": .add, "Subtract": .subtract, "Multiply": .multiply, "TrueDivide": .divide, "Divide": .divide,
        "Maximum": .maximum, "Minimum": .minimum,
    ]
    static let tfBinary: [String: Operation.Op] = [
        "__operators__.add": .add, "math.add": .add, "math.subtract": .subtract, "math.multiply": .multiply,
        "math.truediv": .divide, "math.divide": .divide, "math.maximum": .maximum, "math.minimum": .minimum,
    ]
    /// Activation functions called as operations, by Keras 3 class and by TensorFlow function.
    static let keras3Unary: [String: Activation] = [
        "Relu": .relu, "Relu6": .relu6, "Sigmoid": .sigmoid, "Tanh": .tanh, "Silu": .swish, "Swish": .swish,
        "HardSigmoid": .hardSigmoidKeras3, "HardSilu": .hardSwish, "HardSwish": .hardSwish,
    ]
    static let tfUnary: [String: Activation] = [
        "nn.relu": .relu, "nn.relu6": .relu6, "math.sigmoid": .sigmoid, "nn.sigmoid": .sigmoid,
        "math.tanh": .tanh, "nn.tanh": .tanh, "nn.silu": .swish, "nn.swish": .swish,
    ]

    /// The supported operations, for error messages.
    static var supported: String {
        "Keras 3 operations \((Array(keras3Binary.keys) + Array(keras3Unary.keys)).sorted().joined(separator: ", ")); "
            + ", GetItem [..., k] and [..., ::-1], Stack on the last axis; "
            + "tf.keras TFOpLambda \((Array(tfBinary.keys) + Array(tfUnary.keys) + ["nn.bias_add", "__operators__.getitem"]).sorted().map { "tf." + $0 }.joined(separator: ", "))"
    }

    /// The largest constant operand, in elements (a per-channel constant is a few thousand).
    static let maxConstantElements = 1 << 20

    /// Builds the layer for one operation call.
    static func build(_ c: LayerConfig, arguments: OperationArguments, inputShapes: [Shape]) throws -> any Layer {
        if c.className == "TFOpLambda" || c.className == "SlicingOpLambda" {
            let function = try c.string("function")
            return try tfOperation(c, function: function, arguments: arguments, inputShapes: inputShapes)
        }
        let what = "the Keras 3 operation \(c.className)"
        if let op = keras3Binary[c.className] {
            let x1 = try argument(c, arguments, position: 0, keyword: "x1", what: what)
            let x2 = try argument(c, arguments, position: 1, keyword: "x2", what: what)
            try noOtherArguments(c, arguments, positions: 2, keywords: ["x1", "x2"], what: what)
            return try binary(c, op, [x1, x2])
        }
        if let activation = keras3Unary[c.className] {
            guard case .tensor = try argument(c, arguments, position: 0, keyword: "x", what: what) else {
                throw c.fail(.unsupportedLayer, "\(what) is applied to a constant; Mien needs a tensor")
            }
            try noOtherArguments(c, arguments, positions: 1, keywords: ["x"], what: what)
            return try Operation(name: c.name, op: .activation(activation), operands: [.input(0)], kerasClass: c.className)
        }
        if c.className == "GetItem" {
            guard case .tensor = try argument(c, arguments, position: 0, keyword: "x", what: what),
                  case .constant(let key) = try argument(c, arguments, position: 1, keyword: "key", what: what) else {
                throw c.fail(.unsupportedOption, "\(what) needs a tensor and a constant index")
            }
            try noOtherArguments(c, arguments, positions: 2, keywords: ["x", "key"], what: what)
            return try lastAxisGather(c, key: key, inputShape: inputShapes.first, what: what)
        }
        if c.className == "Stack" {
            guard case .tensors(let indices) = try argument(c, arguments, position: 0, keyword: "x", what: what),
                  indices == Array(0..<indices.count) else {
                throw c.fail(.unsupportedOption, "\(what) needs a list of tensors")
            }
            try noOtherArguments(c, arguments, positions: 1, keywords: ["x"], what: what)
            let rank = inputShapes.first?.count ?? 0
            let axis = try c.int("axis", default: 0)
            guard axis == -1 || axis == rank else {
                throw c.fail(.unsupportedOption, "\(what) along axis \(axis) is not supported (only a new last axis, -1)")
            }
            return StackLastAxis(name: c.name)
        }
        throw c.fail(.unsupportedLayer, "\(what) is not supported; supported: \(supported)")
    }

    /// `x[..., k]` or `x[..., ::-1]` (the key as Keras 3 serializes it, or tf.keras's
    /// `slice_spec`): the last axis indexed, as `preprocess_input`'s "caffe" mode does.
    private static func lastAxisGather(_ c: LayerConfig, key: JSON, inputShape: Shape?, what: String) throws -> any Layer {
        guard let parts = key.array, parts.count == 2, parts[0]["class_name"]?.string == "__ellipsis__",
              let length = inputShape?.last ?? nil else {
            throw c.fail(.unsupportedOption, "\(what) with the index \(key.text.prefix(80)) is not supported (only [..., k] and [..., ::-1] on a known last axis)")
        }
        if let k = parts[1].int, k >= -length, k < length {
            return try LastAxisGather(name: c.name, kerasClass: c.className, indices: [k < 0 ? k + length : k], dropsAxis: true)
        }
        // Keras 3 writes a slice as {"class_name": "__slice__", "config": {...}}, tf.keras as its fields.
        let slice = parts[1]["class_name"]?.string == "__slice__" ? parts[1]["config"] : parts[1]
        if let slice, slice.object?.keys.sorted() == ["start", "step", "stop"],
           slice["start"]?.isNull == true, slice["stop"]?.isNull == true, slice["step"]?.int == -1 {
            return try LastAxisGather(name: c.name, kerasClass: c.className, indices: Array((0..<length).reversed()), dropsAxis: false)
        }
        throw c.fail(.unsupportedOption, "\(what) with the index \(key.text.prefix(80)) is not supported (only [..., k] and [..., ::-1])")
    }

    private static func tfOperation(_ c: LayerConfig, function: String, arguments: OperationArguments,
                                    inputShapes: [Shape]) throws -> any Layer {
        let what = "the TensorFlow operation tf.\(function)"
        if let op = tfBinary[function] {
            let x = try argument(c, arguments, position: 0, keyword: "x", what: what)
            let y = try argument(c, arguments, position: 1, keyword: "y", what: what)
            try noOtherArguments(c, arguments, positions: 2, keywords: ["x", "y"], what: what)
            return try binary(c, op, [x, y])
        }
        if let activation = tfUnary[function] {
            let key = function.hasPrefix("nn.relu") || function == "nn.silu" || function == "nn.swish" ? "features" : "x"
            guard case .tensor = try argument(c, arguments, position: 0, keyword: key, what: what) else {
                throw c.fail(.unsupportedLayer, "\(what) is applied to a constant; Mien needs a tensor")
            }
            try noOtherArguments(c, arguments, positions: 1, keywords: [key], what: what)
            return try Operation(name: c.name, op: .activation(activation), operands: [.input(0)], kerasClass: c.className)
        }
        if function == "nn.bias_add" {
            let value = try argument(c, arguments, position: 0, keyword: "value", what: what)
            let bias = try argument(c, arguments, position: 1, keyword: "bias", what: what)
            if case .constant(let format)? = arguments.keywords["data_format"], !format.isNull,
               format.string != "NHWC" && format.string != "N...C" {
                throw c.fail(.unsupportedOption, "\(what) with data_format \(format.text.prefix(20)) is not supported (only channels last)")
            }
            try noOtherArguments(c, arguments, positions: 2, keywords: ["value", "bias", "data_format"], what: what)
            guard case .constant(let values) = bias, (try tensor(c, values, what: what)).rank == 1 else {
                throw c.fail(.unsupportedOption, "\(what) needs a constant 1-D bias")
            }
            return try binary(c, .add, [value, bias])
        }
        if function == "__operators__.getitem" {
            guard case .tensor = try argument(c, arguments, position: 0, keyword: "tensor", what: what),
                  case .constant(let spec)? = arguments.keywords["slice_spec"] else {
                throw c.fail(.unsupportedOption, "\(what) needs a tensor and a constant slice_spec")
            }
            try noOtherArguments(c, arguments, positions: 1, keywords: ["tensor", "slice_spec", "var"], what: what)
            if case .constant(let v)? = arguments.keywords["var"], !v.isNull {
                throw c.fail(.unsupportedOption, "\(what) with var is not supported")
            }
            return try lastAxisGather(c, key: spec, inputShape: inputShapes.first, what: what)
        }
        throw c.fail(.unsupportedLayer, "\(what) is not supported; supported: \(supported)")
    }

    /// An argument given by position or by keyword (not both).
    private static func argument(_ c: LayerConfig, _ arguments: OperationArguments, position: Int, keyword: String,
                                 what: String) throws -> OperationArgument {
        let byPosition = position < arguments.positional.count ? arguments.positional[position] : nil
        let byKeyword = arguments.keywords[keyword]
        switch (byPosition, byKeyword) {
        case let (value?, nil), let (nil, value?): return value
        case (.some, .some): throw c.fail("\(what) got argument '\(keyword)' twice")
        case (nil, nil): throw c.fail("\(what) is called without its argument '\(keyword)'")
        }
    }

    /// Refuses arguments beyond the ones the operation reads (`name=None` is TensorFlow's op name).
    private static func noOtherArguments(_ c: LayerConfig, _ arguments: OperationArguments, positions: Int,
                                         keywords: Set<String>, what: String) throws {
        if arguments.positional.count > positions {
            throw c.fail(.unsupportedOption, "\(what) is called with \(arguments.positional.count) positional arguments; Mien reads \(positions)")
        }
        for key in arguments.keywords.keys.sorted() where !keywords.contains(key) {
            if key == "name", case .constant(let value)? = arguments.keywords[key], value.isNull || value.string != nil { continue }
            throw c.fail(.unsupportedOption, "\(what) is called with argument '\(key)', which Mien does not implement")
        }
    }

    private static func binary(_ c: LayerConfig, _ op: Operation.Op, _ arguments: [OperationArgument]) throws -> any Layer {
        let operands = try arguments.map { argument -> Operation.Operand in
            switch argument {
            case .tensor(let index): return .input(index)
            case .tensors: throw c.fail(.unsupportedOption, "the \(c.className) operation takes tensors, not a list of them")
            case .constant(let value): return .constant(try tensor(c, value, what: "the \(c.className) operation"))
            }
        }
        return try Operation(name: c.name, op: op, operands: operands, kerasClass: c.className)
    }

    /// A constant operand: a number, a nested list of numbers, or Keras 3's `__tensor__` /
    /// `__numpy__` object holding one.
    static func tensor(_ c: LayerConfig, _ value: JSON, what: String) throws -> Tensor {
        var json = value
        if let kind = value["class_name"]?.string {
            guard kind == "__tensor__" || kind == "__numpy__", let inner = value["config"]?["value"] else {
                throw c.fail(.unsupportedOption, "\(what) has the constant \(value.text.prefix(60)), which is not a number or a tensor of numbers")
            }
            if let dtype = value["config"]?["dtype"]?.string, !LayerConfig.dtypes.contains(dtype) && !dtype.hasPrefix("int") {
                throw c.fail(.unsupportedOption, "\(what) has a constant of dtype \(dtype)")
            }
            json = inner
        }
        var shape: [Int] = []
        var probe = json
        while let list = probe.array {
            guard shape.count < 8, !list.isEmpty else {
                throw c.fail(.unsupportedOption, "\(what) has a constant nested deeper than 8 levels or empty")
            }
            shape.append(list.count)
            probe = list[0]
        }
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard count <= maxConstantElements else {
            throw c.fail(.unsupportedOption, "\(what) has a constant of \(shape) elements (at most \(maxConstantElements))")
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(count)
        func collect(_ item: JSON, depth: Int) throws {
            if depth == shape.count {
                guard let number = item.double, Float(number).isFinite else {
                    throw c.fail(.unsupportedOption, "\(what) has the constant element \(item.text.prefix(40)), not a finite number")
                }
                scalars.append(Float(number))
                return
            }
            guard let list = item.array, list.count == shape[depth] else {
                throw c.fail("\(what) has a constant that is not rectangular (shape \(shape))")
            }
            for element in list { try collect(element, depth: depth + 1) }
        }
        try collect(json, depth: 0)
        return Tensor(shape: shape, scalars: scalars)
    }

    // MARK: Writing

    /// An operation's whole entry, as the Keras of `kerasMajor` saves it: Keras 3's operation
    /// (module, class, a dict call with `__keras_tensor__` arguments) or tf.keras's
    /// TFOpLambda (a function name and a list call with the constant as a keyword).
    /// `inputs` are the references `[layer, node, tensor]` and shapes of the call's tensors.
    static func entry(of layer: any OperationLayer, inputs: [(reference: JSON, shape: Shape)], kerasMajor: Int,
                      forTFKeras: Bool) throws -> JSON {
        func fail(_ message: String) -> KerasError {
            KerasError(.unsupportedOption, file: "model_config", layer: layer.name, message)
        }
        let name = JSON.string(layer.name)
        func keras3Tensor(_ input: (reference: JSON, shape: Shape)) -> JSON {
            ["class_name": "__keras_tensor__",
             "config": ["shape": .array(input.shape.map { $0.map { JSON($0) } ?? .null }),
                        "dtype": "float32", "keras_history": input.reference]]
        }
        func keras3(_ className: String, module: String = "keras.src.ops.numpy", config: [String: JSON] = [:],
                    args: [JSON]) -> JSON {
            ["module": .string(module), "class_name": .string(className), "registered_name": .string(className),
             "name": name, "config": .object(config.merging(["name": name]) { a, _ in a }),
             "inbound_nodes": [["args": .array(args), "kwargs": [:]]]]
        }
        if let stack = layer as? StackLastAxis {
            guard kerasMajor >= 3 else { throw fail("tf.keras has no form for \(stack.kerasClass) here; write the model for Keras 3") }
            return keras3("Stack", config: ["axis": -1], args: [.array(inputs.map(keras3Tensor))])
        }
        if let gather = layer as? LastAxisGather {
            let length = inputs.first?.shape.last ?? nil
            let index: JSON
            if gather.dropsAxis {
                index = JSON(gather.indices[0])
            } else if let length, gather.indices == Array((0..<length).reversed()) {
                index = kerasMajor >= 3 ? ["class_name": "__slice__", "config": ["start": nil, "stop": nil, "step": -1]]
                                        : ["start": nil, "stop": nil, "step": -1]
            } else {
                throw fail("the gather \(gather.indices) has no Keras form")
            }
            let ellipsis: JSON = kerasMajor >= 3 ? ["class_name": "__ellipsis__", "config": [:]] : ["class_name": "__ellipsis__"]
            if kerasMajor >= 3 { return keras3("GetItem", args: [keras3Tensor(inputs[0]), [ellipsis, index]]) }
            return ["class_name": "SlicingOpLambda", "name": name,
                    "config": ["name": name, "trainable": .bool(gather.trainable), "dtype": "float32",
                               "function": "__operators__.getitem"],
                    "inbound_nodes": [.array(inputs[0].reference.array! + [["slice_spec": [ellipsis, index]]])]]
        }
        guard let operation = layer as? Operation else { throw fail("\(layer.kerasClass) has no Keras form to write") }
        if kerasMajor >= 3 {
            let className: String, module: String
            switch operation.op {
            case .activation(let f):
                guard let found = keras3Unary.filter({ $0.value == f }).keys.sorted().first else {
                    throw fail("Keras 3 has no operation for the activation \(f)")
                }
                (className, module) = (found, found == "Tanh" ? "keras.src.ops.numpy" : "keras.src.ops.nn")
            default:
                guard let found = keras3Binary.filter({ $0.value == operation.op && $0.key != "Divide" }).keys.first else {
                    throw fail("Keras 3 has no operation for \(operation.op)")
                }
                (className, module) = (found, "keras.src.ops.numpy")
            }
            let args = operation.operands.map { operand -> JSON in
                switch operand {
                case .input(let i): keras3Tensor(inputs[i])
                case .constant(let t):
                    t.rank == 0 ? JSON(t.scalars[0]) : ["class_name": "__tensor__", "config": ["value": nested(t), "dtype": "float32"]]
                }
            }
            return keras3(className, module: module, args: args)
        }
        let function: String
        switch operation.op {
        case .activation(let f):
            guard let found = tfUnary.filter({ $0.value == f }).keys.sorted().first else {
                throw fail("TensorFlow has no function for the activation \(f)")
            }
            function = found
        default:
            let preferred = ["math.add", "math.subtract", "math.multiply", "math.truediv", "math.maximum", "math.minimum"]
            function = preferred.first { tfBinary[$0] == operation.op }!
        }
        func value(_ operand: Operation.Operand) -> JSON {
            switch operand {
            case .input(let i): inputs[i].reference
            case .constant(let t): t.rank == 0 ? JSON(t.scalars[0]) : nested(t)
            }
        }
        // TensorFlow gives a first constant its own dtype, and JSON writes 2.0 as 2 (an int32
        // that `2 - x` cannot subtract a float from): a commutative operation is written with
        // the tensor first, a constant first elsewhere must not be integral for tf.keras.
        var operands = operation.operands
        if case .constant = operands[0], [.add, .multiply, .maximum, .minimum].contains(operation.op) {
            operands.reverse()
        }
        var call: [JSON]
        switch operands[0] {
        case .input(let i): call = inputs[i].reference.array!
        case .constant(let t):
            guard !forTFKeras || !t.scalars.contains(where: { $0 == $0.rounded() }) else {
                throw fail("tf.keras would read the whole-number constant \(t.scalars.prefix(3)) before the tensor as an integer; write the model for Keras 3 (.keras) instead")
            }
            call = ["_CONSTANT_VALUE", -1, t.rank == 0 ? JSON(t.scalars[0]) : nested(t)]
        }
        var kwargs: [String: JSON] = ["name": .null]
        if operands.count == 2 { kwargs["y"] = value(operands[1]) }
        call.append(.object(kwargs))
        return ["class_name": "TFOpLambda", "name": name,
                "config": ["name": name, "trainable": .bool(operation.trainable), "dtype": "float32",
                           "function": .string(function)],
                "inbound_nodes": [.array(call)]]
    }

    /// A tensor as nested lists of numbers.
    static func nested(_ t: Tensor) -> JSON {
        func level(_ axis: Int, _ offset: Int) -> JSON {
            if axis == t.rank { return JSON(t.scalars[offset]) }
            let stride = t.shape[(axis + 1)...].reduce(1, *)
            return .array((0..<t.shape[axis]).map { level(axis + 1, offset + $0 * stride) })
        }
        return level(0, 0)
    }
}
