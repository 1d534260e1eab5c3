import MienNN

/// The mapping from a Keras layer config to a Mien layer, one builder per Keras class.
/// To support a new layer: add its `NN` struct and one entry here.
public enum KerasLayers {
    typealias Builder = @Sendable (LayerConfig, [Shape]) throws -> any Layer

    /// The classes whose Keras `call` takes a `mask` argument (Keras 3 saves `mask: null` in
    /// their calls): BatchNormalization, Softmax and nested models. A mask given to any other
    /// class is refused, as Keras refuses it.
    static let callsTakingMask: Set<String> = ["BatchNormalization", "Softmax", "Functional", "Sequential", "Model"]

    /// Keras class names (with their historical aliases) and their builders.
    static let builders: [String: Builder] = {
        var b: [String: Builder] = [
            "Conv2D": conv2D, "Convolution2D": conv2D,
            "DepthwiseConv2D": depthwiseConv2D,
            "SeparableConv2D": separableConv2D, "SeparableConvolution2D": separableConv2D,
            "Dense": dense,
            "BatchNormalization": batchNormalization,
            "Activation": activation,
            "ReLU": relu, "LeakyReLU": leakyReLU, "PReLU": prelu, "Softmax": softmax, "ELU": elu,
            "MaxPooling2D": { try pooling($0, $1, max: true) }, "MaxPool2D": { try pooling($0, $1, max: true) },
            "AveragePooling2D": { try pooling($0, $1, max: false) }, "AvgPool2D": { try pooling($0, $1, max: false) },
            "GlobalAveragePooling2D": { try globalPooling($0, $1, max: false) },
            "GlobalAvgPool2D": { try globalPooling($0, $1, max: false) },
            "GlobalMaxPooling2D": { try globalPooling($0, $1, max: true) },
            "GlobalMaxPool2D": { try globalPooling($0, $1, max: true) },
            "ZeroPadding2D": zeroPadding2D, "Cropping2D": cropping2D, "UpSampling2D": upSampling2D,
            "Concatenate": concatenate,
            "Reshape": reshape, "Flatten": flatten, "Permute": permute,
            "Rescaling": rescaling, "Normalization": normalization, "Resizing": resizing,
        ]
        for op in Merge.Op.allCases {
            b[Merge(name: "", op: op).kerasClass] = { config, _ in Merge(name: config.name, op: op) }
        }
        b["Dropout"] = { config, _ in
            Dropout(name: config.name, rate: try dropoutRate(config), noiseShape: try config.noiseShape())
        }
        for rank in 1...3 {
            b["SpatialDropout\(rank)D"] = { config, _ in
                try config.requireChannelsLast()
                _ = try config.noiseShape()   // tf.keras saves one; the spatial forms compute their own
                return Dropout(name: config.name, rate: try dropoutRate(config), spatialRank: rank)
            }
        }
        for identity in Identity.kerasClasses {
            b[identity] = { config, _ in
                var options: [String: Float] = [:]
                // Keras requires rates (and, in Keras 3, GaussianNoise's stddev) in 0...1,
                // and the dropouts' rate (GaussianNoise's stddev) as an argument.
                let required = identity == "GaussianNoise" ? "stddev" : identity == "ActivityRegularization" ? nil : "rate"
                if let required, !config.has(required) { throw config.fail("missing '\(required)'") }
                options["rate"] = try config.rate("rate")
                options["stddev"] = try identity == "GaussianNoise" && config.kerasMajor < 3
                    ? config.optionalFloat("stddev") : config.rate("stddev")
                for key in ["l1", "l2"] { options[key] = try config.optionalFloat(key) }
                return Identity(name: config.name, kerasClass: identity, options: options,
                                noiseShape: try config.noiseShape())
            }
        }
        // Keras 2 kept versioned class names for some layers.
        b["BatchNormalizationV1"] = batchNormalization
        b["BatchNormalizationV2"] = batchNormalization
        for family in families {
            for (className, builder) in family.builders {
                precondition(b[className] == nil, "the Keras class \(className) has two builders")
                b[className] = builder
            }
        }
        return b
    }()

    /// Class names of models, which the model builder handles.
    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    static var supported: [String] {
        (Array(builders.keys) + Array(modelClasses) + ["InputLayer"]).sorted()
    }

    // MARK: Helpers

    /// The dropouts' `rate`: required by Keras, in 0...1.
    private static func dropoutRate(_ c: LayerConfig) throws -> Float {
        guard c.has("rate") else { throw c.fail("missing 'rate'") }
        return try c.rate("rate") ?? 0
    }

    /// The single input shape of a layer, of the given rank (batch included).
    private static func input(_ c: LayerConfig, _ shapes: [Shape], rank: Int? = nil) throws -> Shape {
        guard shapes.count == 1 else { throw c.fail("expects 1 input, got \(shapes.count)") }
        if let rank, shapes[0].count != rank {
            throw c.fail("expects a rank-\(rank) input, got \(shapes[0].kerasDescription)")
        }
        return shapes[0]
    }

    /// The last-axis length, which must be known to size the weights.
    private static func channels(_ c: LayerConfig, _ shape: Shape) throws -> Int {
        guard let last = shape.last, let channels = last else {
            throw c.fail("needs a known channel count, input is \(shape.kerasDescription)")
        }
        return channels
    }

    // MARK: Convolutions

    static func conv2D(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        let shape = try input(c, shapes, rank: 4)
        let inputChannels = try channels(c, shape)
        let filters = try c.size("filters"), kernel = try c.pair("kernel_size")
        let (strides, dilation) = try window(c)
        let useBias = try c.bool("use_bias", default: true)
        let groups = try c.size("groups", default: 1)
        if groups > 1 {
            // Keras requires groups to divide both channel counts.
            guard inputChannels % groups == 0, filters % groups == 0 else {
                throw c.fail("groups \(groups) must divide the input channels (\(inputChannels)) and filters (\(filters))")
            }
            try c.reserve([[kernel.0, kernel.1, inputChannels / groups, filters]] + (useBias ? [[filters]] : []))
            return try GroupedConv2D(name: c.name, inputChannels: inputChannels, filters: filters, groups: groups,
                                     kernelSize: kernel, strides: strides, dilation: dilation, padding: try c.padding(),
                                     useBias: useBias, activation: try c.activation())
        }
        try c.reserve([[kernel.0, kernel.1, inputChannels, filters]] + (useBias ? [[filters]] : []))
        return Conv2D(name: c.name, inputChannels: inputChannels, filters: filters,
                      kernelSize: kernel, strides: strides, dilation: dilation, padding: try c.padding(),
                      useBias: useBias, activation: try c.activation())
    }

    static func depthwiseConv2D(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        let shape = try input(c, shapes, rank: 4)
        try ungrouped(c)
        let inputChannels = try channels(c, shape)
        let kernel = try c.pair("kernel_size"), multiplier = try c.size("depth_multiplier", default: 1)
        let (strides, dilation) = try window(c)
        let useBias = try c.bool("use_bias", default: true)
        try c.reserve([[kernel.0, kernel.1, inputChannels, multiplier]] + (useBias ? [[inputChannels * multiplier]] : []))
        return DepthwiseConv2D(name: c.name, inputChannels: inputChannels,
                               kernelSize: kernel, strides: strides, dilation: dilation, padding: try c.padding(),
                               depthMultiplier: multiplier, useBias: useBias, activation: try c.activation())
    }

    static func separableConv2D(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        let shape = try input(c, shapes, rank: 4)
        try ungrouped(c)
        let inputChannels = try channels(c, shape)
        let filters = try c.size("filters"), kernel = try c.pair("kernel_size")
        let multiplier = try c.size("depth_multiplier", default: 1)
        let (strides, dilation) = try window(c)
        let useBias = try c.bool("use_bias", default: true)
        try c.reserve([[kernel.0, kernel.1, inputChannels, multiplier], [1, 1, inputChannels * multiplier, filters]]
                      + (useBias ? [[filters]] : []))
        return SeparableConv2D(name: c.name, inputChannels: inputChannels, filters: filters,
                               kernelSize: kernel, strides: strides, dilation: dilation, padding: try c.padding(),
                               depthMultiplier: multiplier, useBias: useBias, activation: try c.activation())
    }

    /// Grouped convolutions are not implemented (tf.keras writes `groups: 1` for the
    /// depthwise and separable layers too).
    private static func ungrouped(_ c: LayerConfig) throws {
        let groups = try c.int("groups", default: 1)
        guard groups == 1 else { throw c.fail(.unsupportedOption, "\(c.className) groups=\(groups) is not supported") }
    }

    /// A convolution's `strides` and `dilation_rate`; Keras (and TensorFlow's kernels)
    /// refuse both above 1 at once.
    private static func window(_ c: LayerConfig) throws -> (strides: (Int, Int), dilation: (Int, Int)) {
        let strides = try c.pair("strides", default: (1, 1)), dilation = try c.pair("dilation_rate", default: (1, 1))
        if max(strides.0, strides.1) > 1 && max(dilation.0, dilation.1) > 1 {
            throw c.fail("strides \(strides) > 1 are not supported together with dilation_rate \(dilation) > 1 (Keras refuses them too)")
        }
        return (strides, dilation)
    }

    static func dense(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let shape = try input(c, shapes)
        let inputUnits = try channels(c, shape), units = try c.size("units")
        let useBias = try c.bool("use_bias", default: true)
        try c.reserve([[inputUnits, units]] + (useBias ? [[units]] : []))
        return Dense(name: c.name, inputUnits: inputUnits, units: units, useBias: useBias, activation: try c.activation())
    }

    // MARK: Normalization and activations

    static func batchNormalization(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let shape = try input(c, shapes)
        let axis = try c.axis("axis", default: -1, rank: shape.count)
        guard axis == shape.count - 1 else {
            throw c.fail(.unsupportedOption, "BatchNormalization over axis \(axis) is not supported (only the channel axis, -1)")
        }
        if try c.bool("renorm", default: false) {
            throw c.fail(.unsupportedOption, "BatchNormalization renorm is not supported")
        }
        let channels = try channels(c, shape)
        try c.reserve(Array(repeating: [channels], count: 4))
        return BatchNormalization(name: c.name, channels: channels,
                                  epsilon: try c.float("epsilon", default: 1e-3),
                                  momentum: try c.float("momentum", default: 0.99),
                                  center: try c.bool("center", default: true), scale: try c.bool("scale", default: true))
    }

    static func activation(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        // Keras's Activation layer requires its argument (Dense's defaults to linear).
        guard c.has("activation") else { throw c.fail("missing 'activation'") }
        return ActivationLayer(name: c.name, activation: try c.activation())
    }

    static func relu(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        ReLU(name: c.name, maxValue: try c.nonNegative("max_value", c.optionalFloat("max_value")),
             negativeSlope: try c.nonNegative("negative_slope", c.float("negative_slope", default: 0))!,
             threshold: try c.float("threshold", default: 0))
    }

    static func leakyReLU(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        // Keras 2 calls the slope `alpha`, Keras 3 `negative_slope`; both default to 0.3.
        // Keras 3 refuses a negative slope.
        let slope = c.has("negative_slope") ? try c.nonNegative("negative_slope", c.float("negative_slope"))!
                                            : try c.float("alpha", default: 0.3)
        return LeakyReLU(name: c.name, slope: slope)
    }

    static func prelu(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let shape = try input(c, shapes)
        // As in Keras: an axis may be unknown (MTCNN's P-Net takes any image size) only if
        // the slopes are shared along it.
        var alphaShape: [Int?] = Array(shape.dropFirst())
        if c.has("shared_axes") {
            for axis in try c.ints("shared_axes") {
                guard axis >= 1, axis <= alphaShape.count else { throw c.fail("shared axis \(axis) out of range") }
                alphaShape[axis - 1] = 1
            }
        }
        let known = try alphaShape.map { dim -> Int in
            guard let dim else {
                throw c.fail("PReLU needs a known size on every axis that is not shared, got \(shape.kerasDescription)")
            }
            return dim
        }
        try c.reserve([known])
        return PReLU(name: c.name, alphaShape: known)
    }

    static func softmax(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let shape = try input(c, shapes)
        return Softmax(name: c.name, axis: try c.axis("axis", default: -1, rank: shape.count))
    }

    static func elu(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        ELU(name: c.name, alpha: try c.float("alpha", default: 1))
    }

    // MARK: Pooling

    static func pooling(_ c: LayerConfig, _ shapes: [Shape], max: Bool) throws -> any Layer {
        try c.requireChannelsLast()
        _ = try input(c, shapes, rank: 4)
        let pool = try c.pair("pool_size", default: (2, 2))
        let strides = try c.pair("strides", default: pool, nullMeansDefault: true)
        // Keras 3 keeps a pooling layer's padding as written and refuses "SAME" when the
        // model is built; tf.keras 2 lowercases it, as both do for convolutions.
        let padding = try c.padding(caseSensitive: c.kerasMajor >= 3)
        return max ? MaxPooling2D(name: c.name, poolSize: pool, strides: strides, padding: padding) as any Layer
                   : AveragePooling2D(name: c.name, poolSize: pool, strides: strides, padding: padding)
    }

    static func globalPooling(_ c: LayerConfig, _ shapes: [Shape], max: Bool) throws -> any Layer {
        try c.requireChannelsLast()
        _ = try input(c, shapes, rank: 4)
        let keep = try c.bool("keepdims", default: false)
        return max ? GlobalMaxPooling2D(name: c.name, keepDims: keep) as any Layer
                   : GlobalAveragePooling2D(name: c.name, keepDims: keep)
    }

    // MARK: Reshaping

    static func zeroPadding2D(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        return ZeroPadding2D(name: c.name, padding: try c.padding2D("padding"))
    }

    static func cropping2D(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        return Cropping2D(name: c.name, cropping: try c.padding2D("cropping"))
    }

    static func upSampling2D(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        return UpSampling2D(name: c.name, size: try c.pair("size", default: (2, 2)),
                            interpolation: try interpolation(c, default: .nearest))
    }

    /// Keras's defaults differ: `nearest` for UpSampling2D, `bilinear` for Resizing.
    static func interpolation(_ c: LayerConfig, default fallback: Interpolation) throws -> Interpolation {
        let name = try c.string("interpolation", default: fallback.rawValue)
        guard let value = Interpolation(rawValue: name) else {
            throw c.fail(.unsupportedOption, "interpolation '\(name)' is not supported (nearest, bilinear)")
        }
        return value
    }

    static func concatenate(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        Concatenate(name: c.name, axis: try c.int("axis", default: -1))
    }

    static func reshape(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let target = try c.ints("target_shape")
        guard target.allSatisfy({ $0 == -1 || (1...ModelLimits.maxDimension).contains($0) }),
              target.filter({ $0 == -1 }).count <= 1 else {
            throw c.fail("'target_shape' \(target) must hold lengths in 1...\(ModelLimits.maxDimension), and at most one -1")
        }
        return Reshape(name: c.name, targetShape: target)
    }

    static func flatten(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        return Flatten(name: c.name)
    }

    static func permute(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let dims = try c.ints("dims")
        guard dims.sorted() == Array(1...max(dims.count, 1)) || dims.isEmpty else {
            throw c.fail("'dims' \(dims) must be a permutation of 1...\(dims.count), as Keras requires")
        }
        return Permute(name: c.name, dims: dims)
    }

    // MARK: Preprocessing

    static func rescaling(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        // Keras requires `scale`; Keras 3's from_config reads `offset` too (tf.keras 2 defaults it to 0).
        guard let scale = try c.floats("scale") else { throw c.fail("missing 'scale'") }
        let offset = try c.floats("offset")
        if offset == nil, c.kerasMajor >= 3 { throw c.fail("missing 'offset'") }
        return Rescaling(name: c.name, scale: scale, offset: offset ?? [0])
    }

    static func normalization(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let shape = try input(c, shapes)
        let axis = try c.axis("axis", default: -1, rank: shape.count)
        guard axis == shape.count - 1 else {
            throw c.fail(.unsupportedOption, "Normalization over axis \(axis) is not supported (only the last axis)")
        }
        let length = try channels(c, shape)
        // Given in the config, the statistics are constants; adapted, they are stored weights.
        let mean = try c.floats("mean")
        let variance = try c.floats("variance")
        if mean == nil { try c.reserve([[length], [length], []]) }
        return Normalization(name: c.name, mean: mean ?? [Float](repeating: 0, count: length),
                             variance: variance ?? [Float](repeating: 1, count: length), axisLength: length,
                             invert: try c.bool("invert", default: false), storesWeights: mean == nil)
    }

    static func resizing(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        _ = try input(c, shapes, rank: 4)
        if try c.bool("crop_to_aspect_ratio", default: false) || c.bool("pad_to_aspect_ratio", default: false) {
            throw c.fail(.unsupportedOption, "Resizing with crop_to_aspect_ratio or pad_to_aspect_ratio is not supported")
        }
        if try c.bool("antialias", default: false) {
            throw c.fail(.unsupportedOption, "Resizing with antialias=True is not supported")
        }
        // Only used with pad_to_aspect_ratio, which is refused above.
        _ = (c.has("fill_mode"), c.has("fill_value"))
        return Resizing(name: c.name, height: try c.size("height"), width: try c.size("width"),
                        interpolation: try interpolation(c, default: .bilinear))
    }
}
