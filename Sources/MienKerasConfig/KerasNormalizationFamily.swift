import MienNN

/// `LayerNormalization` and ConvNeXt's `LayerScale`.
enum KerasNormalizationFamily: KerasLayerFamily {
    static let builders: [String: KerasLayers.Builder] = [
        "LayerNormalization": layerNormalization,
        "LayerScale": layerScale,
    ]

    /// Where the Keras applications define `LayerScale` (`module` in Keras 3's and tf.keras's
    /// `to_json` and in `.keras` files; `.h5` files write no module). A `LayerScale` from any
    /// other module is someone's own class, which may compute something else.
    static let layerScaleModules: Set<String> = ["keras.src.applications.convnext", "tf_keras.src.applications.convnext"]

    static func layerNormalization(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        guard shapes.count == 1 else { throw c.fail("expects 1 input, got \(shapes.count)") }
        let shape = shapes[0], rank = shape.count
        // An int or a list of ints (tf.keras 2 writes them resolved, [3]; Keras 3 as given, [-1]).
        let raw: [Int] = c.config["axis"]?.array != nil ? try c.ints("axis") : [try c.int("axis", default: -1)]
        guard !raw.isEmpty else { throw c.fail("'axis' is an empty list") }
        let resolved = try raw.map { a -> Int in
            let r = a < 0 ? a + rank : a
            guard r >= 0, r < rank else { throw c.fail("'axis' \(a) is out of range for rank \(rank)") }
            return r
        }
        guard Set(resolved).count == resolved.count else { throw c.fail("'axis' \(raw) repeats an axis, which Keras refuses") }
        let trailing = Array((rank - resolved.count)..<rank)
        guard resolved.sorted() == trailing, !resolved.contains(0) else {
            throw c.fail(.unsupportedOption, "LayerNormalization over axes \(raw) of a rank-\(rank) input is not supported (only the last axis, or several trailing axes, batch excluded)")
        }
        // Keras's weight shape: Keras 3 sorts the axes as written, tf.keras 2 keeps their order.
        // (Keras 3's own .h5 loader drops a list of several axes and then fails on the weight
        // shapes; Mien computes what the saved model computed, as its JSON form does.)
        let order = c.kerasMajor >= 3 ? zip(raw, resolved).sorted { $0.0 < $1.0 }.map(\.1) : resolved
        let paramShape = try order.map { axis -> Int in
            guard let length = shape[axis] else {
                throw c.fail("needs known lengths on the normalized axes, input is \(shape.kerasDescription)")
            }
            return length
        }
        let epsilon = try c.float("epsilon", default: 1e-3)
        guard epsilon >= 0 else { throw c.fail("'epsilon' is \(epsilon); a negative epsilon could take the root of a negative number") }
        let center = try c.bool("center", default: true), scale = try c.bool("scale", default: true)
        // Keras 3 only (tf.keras 2 has no such option: it is refused as unknown there).
        let rms = c.kerasMajor >= 3 ? try c.bool("rms_scaling", default: false) : false
        let weights = (scale || rms ? 1 : 0) + (center && !rms ? 1 : 0)
        try c.reserve(Array(repeating: paramShape, count: weights))
        return LayerNormalization(name: c.name, paramShape: paramShape, axisCount: resolved.count, epsilon: epsilon,
                                  center: center, scale: scale, rmsScaling: rms)
    }

    static func layerScale(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        if let module = c.module, !layerScaleModules.contains(module) {
            throw c.fail(.unsupportedLayer, "LayerScale from module '\(module)' is not ConvNeXt's (\(layerScaleModules.sorted().joined(separator: ", "))); Mien supports only that one")
        }
        if let registered = c.registeredName, registered != "LayerScale" {
            throw c.fail(.unsupportedLayer, "LayerScale registered as '\(registered)' is not ConvNeXt's")
        }
        guard shapes.count == 1 else { throw c.fail("expects 1 input, got \(shapes.count)") }
        let dim = try c.size("projection_dim")
        guard let channels = shapes[0].last ?? nil, channels == dim, shapes[0].count >= 2 else {
            throw c.fail(.unsupportedOption, "LayerScale with projection_dim \(dim) on an input \(shapes[0].kerasDescription) is not supported (projection_dim must be the channel count)")
        }
        let initValues = try c.float("init_values")
        try c.reserve([[dim]])
        return LayerScale(name: c.name, projectionDim: dim, initValues: initValues)
    }

    static func config(of layer: any Layer, kerasMajor: Int) throws -> KerasLayers.Written? {
        switch layer {
        case let l as LayerNormalization:
            var config: [String: JSON] = ["axis": JSON(Array(-l.axisCount ... -1)), "epsilon": JSON(l.epsilon),
                                          "center": .bool(l.beta != nil), "scale": .bool(l.gamma != nil)]
            if l.rmsScaling {
                guard kerasMajor >= 3 else {
                    throw KerasError(.unsupportedOption, file: "model_config", layer: l.name,
                                     "LayerNormalization with rms_scaling has no tf.keras 2 form")
                }
                config["rms_scaling"] = true
            } else if kerasMajor >= 3 {
                config["rms_scaling"] = false
            }
            return ("LayerNormalization", config)
        case let l as LayerScale:
            return ("LayerScale", ["init_values": JSON(l.initValues), "projection_dim": JSON(l.projectionDim)])
        default:
            return nil
        }
    }

    static func kerasMajor(of layer: any Layer) -> Int? {
        (layer as? LayerNormalization)?.rmsScaling == true ? 3 : nil
    }
}
