import MienNN

/// One layer's entry in `model_config`, with typed accessors that turn a missing or
/// malformed option into a `KerasError` naming the file and the layer.
struct LayerConfig {
    var className: String
    var name: String
    var config: JSON
    /// 2 for tf.keras 2.x files, 3 for Keras 3: some defaults differ between them.
    var kerasMajor: Int
    var file: String
    /// The weights the model may still allocate (shared by every layer of one model file).
    var budget: WeightBudget
    /// The entry's `module` and `registered_name` (Keras 3's `to_json`, `.keras` files and
    /// tf.keras's `to_json`; absent in `.h5` files): which class a name means when a Keras
    /// application defines it outside `keras.layers` (ConvNeXt's `LayerScale`).
    var module: String? = nil
    var registeredName: String? = nil
    /// The options the builder read; any other option must be one that cannot change what
    /// the layer computes at inference (`ignorable`), or the layer is refused.
    let used = UsedKeys()

    final class UsedKeys {
        var keys: Set<String> = []
    }

    /// An option, noted as read.
    private func option(_ key: String) -> JSON? {
        used.keys.insert(key)
        return config[key]
    }

    /// Options that do not change inference: naming, the input declaration, how weights are
    /// initialized, regularized, constrained or trained (the file holds the trained weights),
    /// and Keras 3 features that are off when null (LoRA, quantization). Anything else a
    /// builder does not read is refused, so that a misspelt or foreign option (a Conv2D's
    /// config under another class name) is never silently ignored.
    static let ignorable: Set<String> = [
        "name", "trainable", "dtype", "autocast", "batch_input_shape", "batch_shape", "input_shape", "input_dim",
        "seed", "synchronized", "fused", "renorm_clipping", "renorm_momentum", "build_config",
    ]

    /// Keras's float types; Mien computes in float32 whatever the policy says.
    static let dtypes: Set<String> = ["float32", "float64", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"]

    /// Options that do not change inference when they are null or absent.
    static let ignorableWhenNull: Set<String> = ["lora_rank", "lora_alpha", "quantization_config", "virtual_batch_size", "adjustment"]

    /// Initializers, regularizers and constraints: they shape training, not the stored weights'
    /// use. Only Keras's own names: a misspelt one (`kepnel_initializer`) is an option Keras
    /// refuses, so Mien refuses it too.
    static let trainingOnly: Set<String> = {
        let weights = ["kernel", "bias", "depthwise", "pointwise", "gamma", "beta", "moving_mean", "moving_variance", "alpha"]
        var keys: Set<String> = ["activity_regularizer"]
        for weight in weights {
            for kind in ["initializer", "regularizer", "constraint"] { keys.insert("\(weight)_\(kind)") }
        }
        return keys
    }()

    static func isTrainingOnly(_ key: String) -> Bool { trainingOnly.contains(key) }

    /// Throws for the first option (sorted) that was neither read nor ignorable, or that is
    /// ignorable but malformed (Keras would fail to deserialize it, so no Keras reads the file).
    func refuseUnreadOptions() throws {
        guard let object = config.object else { return }
        for key in object.keys.sorted() where !used.keys.contains(key) {
            let value = object[key]!
            if Self.isTrainingOnly(key) {
                // null, a name, or a serialized object {"class_name": ..., "config": {...}}
                guard value.isNull || value.string != nil || Self.isSerializedObject(value) else {
                    throw fail("'\(key)' = \(value.text.prefix(60)) is not an initializer, regularizer or constraint")
                }
            } else if key == "dtype" {
                let name = value.string ?? (Self.isSerializedObject(value) ? value["config"]?["name"]?.string : nil)
                guard value.isNull || name.map(Self.dtypes.contains) == true else {
                    throw fail(.unsupportedOption, "dtype \(value.text.prefix(60)) is not a float type Mien reads (\(Self.dtypes.sorted().joined(separator: ", ")))")
                }
            } else if !Self.ignorable.contains(key) && !(Self.ignorableWhenNull.contains(key) && value.isNull) {
                throw fail(.unsupportedOption, "\(className) option '\(key)' = \(value.text.prefix(60)) is not supported; Mien would ignore it and could compute something else than Keras")
            }
        }
    }

    /// Keras's serialized form of an object: a string `class_name`, an object (or null)
    /// `config`, and nothing but Keras 3's `module` and `registered_name` besides, and the
    /// numeric `shared_object_id` that a `.keras` file's config gives an object used by
    /// several layers (a dtype policy, an initializer), each time with its whole config.
    static func isSerializedObject(_ value: JSON) -> Bool {
        guard let object = value.object, object["class_name"]?.string != nil,
              let config = object["config"], config.isNull || config.object != nil else { return false }
        if let shared = object["shared_object_id"], shared.double == nil { return false }
        return Set(object.keys).isSubset(of: ["class_name", "config", "module", "registered_name", "shared_object_id"])
    }

    func fail(_ kind: KerasError.Kind, _ message: String) -> KerasError {
        KerasError(kind, file: file, layer: name, message)
    }

    func fail(_ message: String) -> KerasError { fail(.invalidConfig, message) }

    func has(_ key: String) -> Bool { option(key).map { !$0.isNull } ?? false }

    /// An explicit null where Keras expects a value is refused, not taken as the default:
    /// Keras reads `use_bias: null` as false and fails on `epsilon: null`, so neither the
    /// default nor a guess would give Keras's numbers. Options that may be null have their
    /// own accessors (`optionalFloat`, `floats`, `pair(nullMeansDefault:)`).
    private func present(_ key: String) throws -> JSON? {
        guard let v = option(key) else { return nil }
        guard !v.isNull else { throw fail("'\(key)' is null; Keras needs a value here") }
        return v
    }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let v = try present(key) else { return value }
        guard let b = v.bool else { throw fail("'\(key)' is not a boolean") }
        return b
    }

    func int(_ key: String, default value: Int? = nil) throws -> Int {
        guard let v = try present(key) else {
            if let value { return value }
            throw fail("missing '\(key)'")
        }
        // Keras sometimes writes a one-element list where an int is meant.
        if let i = v.int ?? v.array?.first?.int, v.array.map({ $0.count == 1 }) ?? true { return i }
        throw fail("'\(key)' is not an integer")
    }

    /// A size option (`units`, `filters`, `depth_multiplier`, `height`): an integer in
    /// 1...`ModelLimits.maxDimension`, as Keras requires "a strictly positive value".
    func size(_ key: String, default value: Int? = nil) throws -> Int {
        try checked(key, try int(key, default: value), in: 1...ModelLimits.maxDimension)
    }

    /// `value` of option `key`, refused unless it lies in `range`.
    func checked(_ key: String, _ value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard range.contains(value) else {
            throw fail("'\(key)' is \(value); it must be in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A rate option (Dropout's `rate`): a number in 0...1, as Keras requires.
    func rate(_ key: String) throws -> Float? {
        guard let value = try optionalFloat(key) else { return nil }
        guard (0...1).contains(value) else { throw fail("'\(key)' is \(value); it must be in 0...1") }
        return value
    }

    /// A number option that Keras refuses when negative (ReLU's `max_value`, `negative_slope`).
    func nonNegative(_ key: String, _ value: Float?) throws -> Float? {
        guard let value else { return nil }
        guard value >= 0 else { throw fail("'\(key)' is \(value); it cannot be negative") }
        return value
    }

    /// Reserves the weights of a layer before it allocates them (see `WeightBudget`).
    func reserve(_ shapes: [[Int]]) throws {
        do {
            try budget.reserve(shapes, layer: name)
        } catch let error as LayerError {
            throw fail(error.message)
        }
    }

    func float(_ key: String, default value: Float? = nil) throws -> Float {
        guard let v = try present(key) else {
            if let value { return value }
            throw fail("missing '\(key)'")
        }
        guard let d = v.double else { throw fail("'\(key)' is not a number") }
        // Keras computes in float32: 1e308 would become infinity (and the file could not be
        // written back as JSON).
        guard Float(d).isFinite else { throw fail("'\(key)' is \(d), beyond float32") }
        return Float(d)
    }

    func optionalFloat(_ key: String) throws -> Float? {
        has(key) ? try float(key) : nil
    }

    func string(_ key: String, default value: String? = nil) throws -> String {
        guard let v = try present(key) else {
            if let value { return value }
            throw fail("missing '\(key)'")
        }
        guard let s = v.string else { throw fail("'\(key)' is not a string") }
        return s
    }

    func ints(_ key: String) throws -> [Int] {
        guard let list = option(key)?.array else { throw fail("'\(key)' is not a list") }
        return try list.map { item in
            guard let i = item.int else { throw fail("'\(key)' holds a non-integer") }
            return i
        }
    }

    /// Dropout's `noise_shape`: null, or one positive length or null per axis (batch first).
    func noiseShape() throws -> [Int?]? {
        guard let v = option("noise_shape"), !v.isNull else { return nil }
        guard let list = v.array else { throw fail("'noise_shape' is not a list") }
        return try list.map { item in
            if item.isNull { return nil }
            guard let i = item.int, (1...ModelLimits.maxDimension).contains(i) else {
                throw fail("'noise_shape' holds \(item.text.prefix(20)), not a positive length or null")
            }
            return i
        }
    }

    /// A number or a list of numbers, as `Rescaling`'s `scale` and `Normalization`'s `mean`.
    func floats(_ key: String) throws -> [Float]? {
        guard let v = option(key), !v.isNull else { return nil }
        if let d = v.double {
            guard Float(d).isFinite else { throw fail("'\(key)' is \(d), beyond float32") }
            return [Float(d)]
        }
        guard let list = v.array else { throw fail("'\(key)' is not a number or a list") }
        return try flatten(list).map { item in
            guard let d = item.double else { throw fail("'\(key)' holds a non-number") }
            guard Float(d).isFinite else { throw fail("'\(key)' holds \(d), beyond float32") }
            return Float(d)
        }
    }

    private func flatten(_ list: [JSON]) -> [JSON] {
        list.flatMap { $0.array.map(flatten) ?? [$0] }
    }

    /// A 2-D window option given as an int or a pair (`kernel_size`, `strides`, `pool_size`,
    /// `dilation_rate`, `size`): each value in 1...`ModelLimits.maxDimension`, as Keras
    /// requires `value > 0`.
    /// An explicit null is refused unless `nullMeansDefault` (pooling's `strides=None`).
    func pair(_ key: String, default value: (Int, Int)? = nil, nullMeansDefault: Bool = false) throws -> (Int, Int) {
        let pair: (Int, Int)
        if option(key)?.isNull == true && !nullMeansDefault {
            throw fail("'\(key)' is null")
        }
        if let v = option(key), !v.isNull {
            if let i = v.int {
                pair = (i, i)
            } else {
                let list = try ints(key)
                guard list.count == 2 else { throw fail("'\(key)' must have 2 values, has \(list.count)") }
                pair = (list[0], list[1])
            }
        } else if let value {
            pair = value
        } else {
            throw fail("missing '\(key)'")
        }
        let range = 1...ModelLimits.maxDimension
        guard range.contains(pair.0), range.contains(pair.1) else {
            throw fail("'\(key)' is \(pair); each value must be in 1...\(range.upperBound)")
        }
        return pair
    }

    /// `((top, bottom), (left, right))` from an int, a pair, or a pair of pairs; each value in
    /// 0...`ModelLimits.maxDimension` (Keras refuses negative cropping, and TensorFlow
    /// negative padding).
    func padding2D(_ key: String) throws -> ((Int, Int), (Int, Int)) {
        guard let v = option(key) else { throw fail("missing '\(key)'") }
        let result: ((Int, Int), (Int, Int))
        if let i = v.int {
            result = ((i, i), (i, i))
        } else {
            guard let list = v.array, list.count == 2 else { throw fail("'\(key)' must have 2 entries") }
            if let a = list[0].int, let b = list[1].int {
                result = ((a, a), (b, b))
            } else {
                guard let rows = list[0].array?.compactMap(\.int), let cols = list[1].array?.compactMap(\.int),
                      list[0].array?.count == 2, list[1].array?.count == 2, rows.count == 2, cols.count == 2 else {
                    throw fail("'\(key)' is not ((top, bottom), (left, right))")
                }
                result = ((rows[0], rows[1]), (cols[0], cols[1]))
            }
        }
        let range = 0...ModelLimits.maxDimension
        guard [result.0.0, result.0.1, result.1.0, result.1.1].allSatisfy(range.contains) else {
            throw fail("'\(key)' is \(result); each value must be in 0...\(range.upperBound)")
        }
        return result
    }

    func padding(caseSensitive: Bool = false) throws -> Padding {
        if option("padding")?.isNull == true { throw fail(.unsupportedOption, "padding is null (valid, same)") }
        let written = try string("padding", default: "valid")
        let value = caseSensitive ? written : written.lowercased()
        guard let p = Padding(rawValue: value) else {
            throw fail(.unsupportedOption, "padding '\(value)' is not supported (valid, same)")
        }
        return p
    }

    /// Refuses `channels_first`: Mien's tensors are NHWC.
    func requireChannelsLast() throws {
        let format = try string("data_format", default: "channels_last")
        guard format == "channels_last" else {
            throw fail(.unsupportedOption, "data_format '\(format)' is not supported: Mien runs channels_last (NHWC) models only")
        }
    }

    /// The `activation` option: a name, or Keras 3's serialized function object.
    func activation(_ key: String = "activation") throws -> Activation {
        guard let v = option(key), !v.isNull else { return .linear }
        let name: String
        if let s = v.string {
            name = s
        } else if let s = v["config"]?.string ?? v["registered_name"]?.string ?? v["class_name"]?.string {
            name = s
        } else {
            throw fail("'\(key)' is not an activation name")
        }
        guard let activation = Activation(kerasName: name, kerasMajor: kerasMajor) else {
            throw fail(.unsupportedOption,
                        "activation '\(name)' is not supported; supported: \(Activation.kerasNames.joined(separator: ", "))")
        }
        return activation
    }

    /// A Keras axis option resolved to a non-negative index of a shape of `rank`
    /// (batch included), e.g. BatchNormalization's `axis: -1` or `[3]`.
    func axis(_ key: String, default value: Int, rank: Int) throws -> Int {
        var a = value
        if let v = option(key), !v.isNull {
            if let i = v.int { a = i }
            else if let list = v.array, list.count == 1, let i = list[0].int { a = i }
            else { throw fail(.unsupportedOption, "'\(key)' must be a single axis") }
        }
        let resolved = a < 0 ? a + rank : a
        guard resolved >= 0, resolved < rank else { throw fail("'\(key)' \(a) is out of range for rank \(rank)") }
        return resolved
    }
}
