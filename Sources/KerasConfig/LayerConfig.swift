import NN

/// One layer's entry in `model_config`, with typed accessors that turn a missing or
/// malformed option into a `KerasError` naming the file and the layer.
struct LayerConfig {
    var className: String
    var name: String
    var config: JSON
    /// 2 for tf.keras 2.x files, 3 for Keras 3: some defaults differ between them.
    var kerasMajor: Int
    var file: String

    func fail(_ kind: KerasError.Kind, _ message: String) -> KerasError {
        KerasError(kind, file: file, layer: name, message)
    }

    func fail(_ message: String) -> KerasError { fail(.invalidConfig, message) }

    func has(_ key: String) -> Bool { config[key].map { !$0.isNull } ?? false }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let v = config[key], !v.isNull else { return value }
        guard let b = v.bool else { throw fail("'\(key)' is not a boolean") }
        return b
    }

    func int(_ key: String, default value: Int? = nil) throws -> Int {
        guard let v = config[key], !v.isNull else {
            if let value { return value }
            throw fail("missing '\(key)'")
        }
        // Keras sometimes writes a one-element list where an int is meant.
        if let i = v.int ?? v.array?.first?.int, v.array.map({ $0.count == 1 }) ?? true { return i }
        throw fail("'\(key)' is not an integer")
    }

    func float(_ key: String, default value: Float? = nil) throws -> Float {
        guard let v = config[key], !v.isNull else {
            if let value { return value }
            throw fail("missing '\(key)'")
        }
        guard let d = v.double else { throw fail("'\(key)' is not a number") }
        return Float(d)
    }

    func optionalFloat(_ key: String) throws -> Float? {
        has(key) ? try float(key) : nil
    }

    func string(_ key: String, default value: String? = nil) throws -> String {
        guard let v = config[key], !v.isNull else {
            if let value { return value }
            throw fail("missing '\(key)'")
        }
        guard let s = v.string else { throw fail("'\(key)' is not a string") }
        return s
    }

    func ints(_ key: String) throws -> [Int] {
        guard let list = config[key]?.array else { throw fail("'\(key)' is not a list") }
        return try list.map { item in
            guard let i = item.int else { throw fail("'\(key)' holds a non-integer") }
            return i
        }
    }

    /// A number or a list of numbers, as `Rescaling`'s `scale` and `Normalization`'s `mean`.
    func floats(_ key: String) throws -> [Float]? {
        guard let v = config[key], !v.isNull else { return nil }
        if let d = v.double { return [Float(d)] }
        guard let list = v.array else { throw fail("'\(key)' is not a number or a list") }
        return try flatten(list).map { item in
            guard let d = item.double else { throw fail("'\(key)' holds a non-number") }
            return Float(d)
        }
    }

    private func flatten(_ list: [JSON]) -> [JSON] {
        list.flatMap { $0.array.map(flatten) ?? [$0] }
    }

    /// A 2-D size option given as an int or a pair (`kernel_size`, `strides`, `pool_size`).
    func pair(_ key: String, default value: (Int, Int)? = nil) throws -> (Int, Int) {
        guard let v = config[key], !v.isNull else {
            if let value { return value }
            throw fail("missing '\(key)'")
        }
        if let i = v.int { return (i, i) }
        let list = try ints(key)
        guard list.count == 2 else { throw fail("'\(key)' must have 2 values, has \(list.count)") }
        return (list[0], list[1])
    }

    /// `((top, bottom), (left, right))` from an int, a pair, or a pair of pairs.
    func padding2D(_ key: String) throws -> ((Int, Int), (Int, Int)) {
        guard let v = config[key] else { throw fail("missing '\(key)'") }
        if let i = v.int { return ((i, i), (i, i)) }
        guard let list = v.array, list.count == 2 else { throw fail("'\(key)' must have 2 entries") }
        if let a = list[0].int, let b = list[1].int { return ((a, a), (b, b)) }
        guard let rows = list[0].array?.compactMap(\.int), let cols = list[1].array?.compactMap(\.int),
              rows.count == 2, cols.count == 2 else {
            throw fail("'\(key)' is not ((top, bottom), (left, right))")
        }
        return ((rows[0], rows[1]), (cols[0], cols[1]))
    }

    func padding() throws -> Padding {
        let value = try string("padding", default: "valid").lowercased()
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
        guard let v = config[key], !v.isNull else { return .linear }
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
        if let v = config[key], !v.isNull {
            if let i = v.int { a = i }
            else if let list = v.array, list.count == 1, let i = list[0].int { a = i }
            else { throw fail(.unsupportedOption, "'\(key)' must be a single axis") }
        }
        let resolved = a < 0 ? a + rank : a
        guard resolved >= 0, resolved < rank else { throw fail("'\(key)' \(a) is out of range for rank \(rank)") }
        return resolved
    }
}
