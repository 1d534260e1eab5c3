import MienNN

/// The random image augmentation layers and the crops: `RandomFlip`, `RandomRotation`,
/// `RandomZoom`, `RandomTranslation`, `RandomContrast`, `RandomBrightness`, `RandomCrop`,
/// `CenterCrop`. Each option is read and checked as the Keras that wrote the file reads it
/// (their factors' forms and bounds differ between tf.keras 2 and Keras 3).
///
/// Options that cannot change the images are read and checked, then left: `seed` (Mien
/// draws from its own seeded streams; Keras's numbers come from TensorFlow's RNG),
/// tf.keras 2's `rng_type` (these layers force a stateful generator whatever it says) and
/// Keras 3's `bounding_box_format` (it only concerns dict inputs with boxes).
enum KerasAugmentationFamily: KerasLayerFamily {
    static let builders: [String: KerasLayers.Builder] = [
        "RandomFlip": randomFlip,
        "RandomRotation": randomRotation,
        "RandomZoom": randomZoom,
        "RandomTranslation": randomTranslation,
        "RandomContrast": randomContrast,
        "RandomBrightness": randomBrightness,
        "RandomCrop": randomCrop,
        "CenterCrop": centerCrop,
    ]

    /// The classes whose Keras 3 `call` defaults to `training=True`, so that Keras 3 writes
    /// `training: true` in each of their calls; Keras 3's predict runs them in inference mode
    /// all the same (Functional passes its own `training=False` to every layer). tf.keras 2
    /// writes the flag only when it was given, and then honours it in predict: refused there.
    static let trainingByDefault: Set<String> = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                                                 "RandomContrast", "RandomBrightness", "RandomCrop"]

    // MARK: Options shared by the family

    /// The single image-batch input; `data_format` (Keras 3's option only) and the options
    /// that do not change the images.
    private static func common(_ c: LayerConfig, _ shapes: [Shape]) throws {
        guard shapes.count == 1 else { throw c.fail("expects 1 input, got \(shapes.count)") }
        guard shapes[0].count == 4 else {
            throw c.fail(.unsupportedOption, "\(c.className) on a \(shapes[0].kerasDescription) input is not supported (only batches of images, rank 4)")
        }
        if c.has("seed") { _ = try c.int("seed") }
        if c.kerasMajor >= 3 {
            try c.requireChannelsLast()
            if c.has("bounding_box_format") { _ = try c.string("bounding_box_format") }
        } else if c.has("rng_type") {
            _ = try c.string("rng_type")
        }
    }

    /// A factor option as written: a number, or a list of two numbers; nil when absent or null.
    private static func factor(_ c: LayerConfig, _ key: String) throws -> (values: [Double], isList: Bool)? {
        guard c.has(key) else { return nil }
        let isList = c.config[key]?.array != nil
        if isList, c.config[key]?.array?.count != 2 || c.config[key]?.array?.contains(where: { $0.double == nil }) == true {
            throw c.fail("'\(key)' must be a number or a list of two numbers, not \(c.config[key]!.text.prefix(60))")
        }
        guard let values = try c.floats(key) else { return nil }
        return (values.map(Double.init), isList)
    }

    private static func required(_ c: LayerConfig, _ key: String) throws -> (values: [Double], isList: Bool) {
        guard let f = try factor(c, key) else { throw c.fail("missing (or null) '\(key)'") }
        return f
    }

    /// Keras 3's `BaseImagePreprocessingLayer._set_factor`: a list must reach into the
    /// bounds and is sorted; a number must lie in them and means `[max(−|f|, low), |f|]`.
    private static func keras3Factor(_ c: LayerConfig, _ key: String, _ f: (values: [Double], isList: Bool),
                                     bounds: ClosedRange<Double>) throws -> FactorRange {
        if f.isList {
            guard f.values[0] <= bounds.upperBound, f.values[1] >= bounds.lowerBound else {
                throw c.fail("'\(key)' \(f.values) lies outside \(interval(bounds)), which Keras 3 refuses")
            }
            return FactorRange(f.values.min()!, f.values.max()!)
        }
        guard bounds.contains(f.values[0]) else {
            throw c.fail("'\(key)' \(f.values[0]) lies outside \(interval(bounds)), which Keras 3 refuses")
        }
        let magnitude = abs(f.values[0])
        return FactorRange(max(-magnitude, bounds.lowerBound), magnitude)
    }

    private static func interval(_ bounds: ClosedRange<Double>) -> String {
        func text(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
        return "[\(text(bounds.lowerBound)), \(text(bounds.upperBound))]"
    }

    /// Keras 3's RandomZoom and RandomTranslation factors: each value checked by `valid`,
    /// a list sorted, a number f meaning `[−|f|, |f|]`.
    private static func keras3Range(_ c: LayerConfig, _ key: String, _ f: (values: [Double], isList: Bool),
                                    _ valid: (Double) -> Bool, _ rule: String) throws -> FactorRange {
        for v in f.values where !valid(v) { throw c.fail("'\(key)' holds \(v); Keras 3 requires values in \(rule)") }
        if f.isList { return FactorRange(f.values.min()!, f.values.max()!) }
        return FactorRange(-abs(f.values[0]), abs(f.values[0]))
    }

    /// tf.keras 2's reading of a factor: a list is `(lower, upper)` as written, a number f
    /// is `(−f, f)`.
    private static func keras2Range(_ f: (values: [Double], isList: Bool)) -> (Double, Double) {
        f.isList ? (f.values[0], f.values[1]) : (-f.values[0], f.values[0])
    }

    private static func sampling(_ c: LayerConfig) throws -> AffineSampling {
        let name = try c.string("fill_mode", default: "reflect")
        guard let mode = FillMode(rawValue: name) else {
            throw c.fail(.unsupportedOption, "\(c.className) fill_mode '\(name)' is not supported (\(FillMode.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return AffineSampling(fillMode: mode, fillValue: try c.float("fill_value", default: 0),
                              interpolation: try KerasLayers.interpolation(c, default: .bilinear))
    }

    /// `value_range`: a list of two numbers (default `[0, 255]`).
    private static func valueRange(_ c: LayerConfig) throws -> (Double, Double) {
        if c.config["value_range"]?.isNull == true { throw c.fail("'value_range' is null; Keras needs two numbers") }
        guard let f = try factor(c, "value_range") else { return (0, 255) }
        guard f.isList else { throw c.fail("'value_range' must be a list of two numbers") }
        return (f.values[0], f.values[1])
    }

    // MARK: Builders

    static func randomFlip(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try common(c, shapes)
        let name = try c.string("mode", default: RandomFlip.Mode.horizontalAndVertical.rawValue)
        // Keras 3 takes any mode and then flips nothing; tf.keras 2 refuses it.
        guard let mode = RandomFlip.Mode(rawValue: name) else {
            throw c.fail(.unsupportedOption, "RandomFlip mode '\(name)' is not supported (\(RandomFlip.Mode.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return RandomFlip(name: c.name, mode: mode, kerasMajor: c.kerasMajor)
    }

    static func randomRotation(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try common(c, shapes)
        let f = try required(c, "factor")
        let range: FactorRange
        if c.kerasMajor >= 3 {
            range = try keras3Factor(c, "factor", f, bounds: -1...1)
        } else {
            let (lower, upper) = keras2Range(f)
            guard upper >= lower else { throw c.fail("'factor' \(f.values) has its upper bound below its lower, which tf.keras refuses") }
            range = FactorRange(lower, upper)
        }
        return RandomRotation(name: c.name, factor: range, sampling: try sampling(c))
    }

    static func randomZoom(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try common(c, shapes)
        let h = try required(c, "height_factor"), w = try factor(c, "width_factor")
        let height: FactorRange, width: FactorRange?
        if c.kerasMajor >= 3 {
            let valid = { (v: Double) in v > -1 && v <= 1 }
            height = try keras3Range(c, "height_factor", h, valid, "(-1, 1]")
            width = try w.map { try keras3Range(c, "width_factor", $0, valid, "(-1, 1]") }
        } else {
            // tf.keras 2 draws uniform(1 + lower, 1 + upper) as written: the same
            // distribution as the sorted bounds.
            let (hl, hu) = keras2Range(h)
            guard abs(hl) <= 1, abs(hu) <= 1 else { throw c.fail("'height_factor' \(h.values) must lie in [-1, 1], as tf.keras requires") }
            height = FactorRange(min(hl, hu), max(hl, hu))
            width = try w.map { w in
                let (wl, wu) = keras2Range(w)
                guard wl >= -1, wu >= -1 else { throw c.fail("'width_factor' \(w.values) must be at least -1, as tf.keras requires") }
                return FactorRange(min(wl, wu), max(wl, wu))
            }
        }
        return RandomZoom(name: c.name, heightFactor: height, widthFactor: width, sampling: try sampling(c))
    }

    static func randomTranslation(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try common(c, shapes)
        let h = try required(c, "height_factor"), w = try required(c, "width_factor")
        func range(_ key: String, _ f: (values: [Double], isList: Bool)) throws -> FactorRange {
            if c.kerasMajor >= 3 { return try keras3Range(c, key, f, { abs($0) <= 1 }, "[-1, 1]") }
            let (lower, upper) = keras2Range(f)
            guard upper >= lower, abs(lower) <= 1, abs(upper) <= 1 else {
                throw c.fail("'\(key)' \(f.values) must be a range within [-1, 1], as tf.keras requires")
            }
            return FactorRange(lower, upper)
        }
        return RandomTranslation(name: c.name, heightFactor: try range("height_factor", h),
                                 widthFactor: try range("width_factor", w), sampling: try sampling(c))
    }

    static func randomContrast(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try common(c, shapes)
        let f = try required(c, "factor")
        if c.kerasMajor >= 3 {
            let range = try keras3Factor(c, "factor", f, bounds: 0...1)
            let values = try valueRange(c)
            // Keras 3 clips to [value_range[0], value_range[1]] as written.
            guard values.0 < values.1 else {
                throw c.fail(.unsupportedOption, "RandomContrast value_range \(values) is not increasing; Keras 3 would clip every value to its second end")
            }
            return RandomContrast(name: c.name, factor: range, valueRange: values, kerasMajor: 3)
        }
        // tf.keras 2: a number f is [f, f] (a factor in [1 − f, 1 + f]); no value_range.
        let (lower, upper) = f.isList ? (f.values[0], f.values[1]) : (f.values[0], f.values[0])
        guard lower >= 0, upper >= 0, lower <= 1 else {
            throw c.fail("'factor' \(f.values) must be non-negative with a lower bound of at most 1, as tf.keras requires")
        }
        return RandomContrast(name: c.name, factor: FactorRange(lower, upper), valueRange: (0, 255), kerasMajor: 2)
    }

    static func randomBrightness(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try common(c, shapes)
        let f = try required(c, "factor")
        let range: FactorRange
        if c.kerasMajor >= 3 {
            range = try keras3Factor(c, "factor", f, bounds: -1...1)
        } else {
            for v in f.values where abs(v) > 1 { throw c.fail("'factor' holds \(v); tf.keras requires values in [-1, 1]") }
            range = f.isList ? FactorRange(f.values.min()!, f.values.max()!) : FactorRange(-abs(f.values[0]), abs(f.values[0]))
        }
        // Both versions sort the value range.
        let values = try valueRange(c)
        return RandomBrightness(name: c.name, factor: range, valueRange: (min(values.0, values.1), max(values.0, values.1)))
    }

    static func randomCrop(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try common(c, shapes)
        return RandomCrop(name: c.name, height: try c.size("height"), width: try c.size("width"), kerasMajor: c.kerasMajor)
    }

    static func centerCrop(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        guard shapes.count == 1 else { throw c.fail("expects 1 input, got \(shapes.count)") }
        guard shapes[0].count == 4 else {
            throw c.fail(.unsupportedOption, "CenterCrop on a \(shapes[0].kerasDescription) input is not supported (only batches of images, rank 4)")
        }
        if c.kerasMajor >= 3 { try c.requireChannelsLast() }
        return CenterCrop(name: c.name, height: try c.size("height"), width: try c.size("width"))
    }

    // MARK: Writing

    private static func pair(_ range: FactorRange) -> JSON { [JSON(Float(range.lower)), JSON(Float(range.upper))] }

    private static func sampling(_ s: AffineSampling) -> [String: JSON] {
        ["fill_mode": .string(s.fillMode.rawValue), "fill_value": JSON(s.fillValue),
         "interpolation": .string(s.interpolation.rawValue), "seed": .null]
    }

    /// A layer that means one Keras version's definition cannot be written for the other.
    private static func requireVersion(_ layer: any Layer, _ own: Int, _ kerasMajor: Int, _ why: String) throws {
        guard own == kerasMajor else {
            throw KerasError(.unsupportedOption, file: "model_config", layer: layer.name,
                             "this \(layer.kerasClass) follows Keras \(own)'s definition, which a Keras \(kerasMajor) config cannot express (\(why))")
        }
    }

    static func config(of layer: any Layer, kerasMajor: Int) throws -> KerasLayers.Written? {
        switch layer {
        case let l as RandomFlip:
            if l.mode == .horizontalAndVertical {
                try requireVersion(l, l.kerasMajor, kerasMajor, "Keras 3 flips an image both ways or neither, tf.keras 2 draws each flip apart")
            }
            return ("RandomFlip", ["mode": .string(l.mode.rawValue), "seed": .null])
        case let l as RandomRotation:
            return ("RandomRotation", sampling(l.sampling).merging(["factor": pair(l.factor)]) { $1 })
        case let l as RandomZoom:
            return ("RandomZoom", sampling(l.sampling).merging(["height_factor": pair(l.heightFactor),
                                                                "width_factor": l.widthFactor.map(pair) ?? .null]) { $1 })
        case let l as RandomTranslation:
            return ("RandomTranslation", sampling(l.sampling).merging(["height_factor": pair(l.heightFactor),
                                                                       "width_factor": pair(l.widthFactor)]) { $1 })
        case let l as RandomContrast:
            try requireVersion(l, l.kerasMajor, kerasMajor, "Keras 3 draws a factor per image, tf.keras 2 one per batch")
            var config: [String: JSON] = ["factor": pair(l.factor), "seed": .null]
            if kerasMajor >= 3 { config["value_range"] = [JSON(Float(l.valueRange.0)), JSON(Float(l.valueRange.1))] }
            return ("RandomContrast", config)
        case let l as RandomBrightness:
            return ("RandomBrightness", ["factor": pair(l.factor), "seed": .null,
                                         "value_range": [JSON(Float(l.valueRange.0)), JSON(Float(l.valueRange.1))]])
        case let l as RandomCrop:
            try requireVersion(l, l.kerasMajor, kerasMajor, "at inference Keras 3 passes the image through, tf.keras 2 resizes it")
            return ("RandomCrop", ["height": JSON(l.height), "width": JSON(l.width), "seed": .null])
        case let l as CenterCrop:
            return ("CenterCrop", ["height": JSON(l.height), "width": JSON(l.width)])
        default:
            return nil
        }
    }

    static func kerasMajor(of layer: any Layer) -> Int? {
        switch layer {
        case let l as RandomFlip where l.mode == .horizontalAndVertical: return l.kerasMajor
        case let l as RandomContrast: return l.kerasMajor
        case let l as RandomCrop: return l.kerasMajor
        default: return nil
        }
    }
}
