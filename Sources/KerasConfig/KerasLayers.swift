import NN

/// The mapping from a Keras layer config to a Mien layer, one builder per Keras class.
/// To support a new layer: add its `NN` struct and one entry here.
public enum KerasLayers {
    typealias Builder = @Sendable (LayerConfig, [Shape]) throws -> any Layer

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
        for identity in ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                         "GaussianDropout", "AlphaDropout", "ActivityRegularization"] {
            b[identity] = { config, _ in
                var options: [String: Float] = [:]
                for key in ["rate", "stddev", "l1", "l2"] { options[key] = try config.optionalFloat(key) }
                return Identity(name: config.name, kerasClass: identity, options: options)
            }
        }
        // Keras 2 kept versioned class names for some layers.
        b["BatchNormalizationV1"] = batchNormalization
        b["BatchNormalizationV2"] = batchNormalization
        return b
    }()

    /// Class names of models, which the model builder handles.
    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    static var supported: [String] {
        (Array(builders.keys) + Array(modelClasses) + ["InputLayer"]).sorted()
    }

    // MARK: Helpers

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
        let groups = try c.int("groups", default: 1)
        guard groups == 1 else { throw c.fail(.unsupportedOption, "Conv2D groups=\(groups) is not supported") }
        return Conv2D(name: c.name, inputChannels: try channels(c, shape), filters: try c.int("filters"),
                      kernelSize: try c.pair("kernel_size"), strides: try c.pair("strides", default: (1, 1)),
                      dilation: try c.pair("dilation_rate", default: (1, 1)), padding: try c.padding(),
                      useBias: try c.bool("use_bias", default: true), activation: try c.activation())
    }

    static func depthwiseConv2D(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        let shape = try input(c, shapes, rank: 4)
        return DepthwiseConv2D(name: c.name, inputChannels: try channels(c, shape),
                               kernelSize: try c.pair("kernel_size"), strides: try c.pair("strides", default: (1, 1)),
                               dilation: try c.pair("dilation_rate", default: (1, 1)), padding: try c.padding(),
                               depthMultiplier: try c.int("depth_multiplier", default: 1),
                               useBias: try c.bool("use_bias", default: true), activation: try c.activation())
    }

    static func separableConv2D(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        let shape = try input(c, shapes, rank: 4)
        return SeparableConv2D(name: c.name, inputChannels: try channels(c, shape), filters: try c.int("filters"),
                               kernelSize: try c.pair("kernel_size"), strides: try c.pair("strides", default: (1, 1)),
                               dilation: try c.pair("dilation_rate", default: (1, 1)), padding: try c.padding(),
                               depthMultiplier: try c.int("depth_multiplier", default: 1),
                               useBias: try c.bool("use_bias", default: true), activation: try c.activation())
    }

    static func dense(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let shape = try input(c, shapes)
        return Dense(name: c.name, inputUnits: try channels(c, shape), units: try c.int("units"),
                     useBias: try c.bool("use_bias", default: true), activation: try c.activation())
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
        return BatchNormalization(name: c.name, channels: try channels(c, shape),
                                  epsilon: try c.float("epsilon", default: 1e-3),
                                  momentum: try c.float("momentum", default: 0.99),
                                  center: try c.bool("center", default: true), scale: try c.bool("scale", default: true))
    }

    static func activation(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        ActivationLayer(name: c.name, activation: try c.activation())
    }

    static func relu(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        ReLU(name: c.name, maxValue: try c.optionalFloat("max_value"),
             negativeSlope: try c.float("negative_slope", default: 0), threshold: try c.float("threshold", default: 0))
    }

    static func leakyReLU(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        // Keras 2 calls the slope `alpha`, Keras 3 `negative_slope`; both default to 0.3.
        let slope = c.has("negative_slope") ? try c.float("negative_slope") : try c.float("alpha", default: 0.3)
        return LeakyReLU(name: c.name, slope: slope)
    }

    static func prelu(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        let shape = try input(c, shapes)
        var alphaShape = try shape.dropFirst().map { dim -> Int in
            guard let dim else { throw c.fail("PReLU needs a fully known input shape, got \(shape.kerasDescription)") }
            return dim
        }
        if c.has("shared_axes") {
            for axis in try c.ints("shared_axes") {
                guard axis >= 1, axis <= alphaShape.count else { throw c.fail("shared axis \(axis) out of range") }
                alphaShape[axis - 1] = 1
            }
        }
        return PReLU(name: c.name, alphaShape: alphaShape)
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
        let strides = try c.pair("strides", default: pool)
        let padding = try c.padding()
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
        Reshape(name: c.name, targetShape: try c.ints("target_shape"))
    }

    static func flatten(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        try c.requireChannelsLast()
        return Flatten(name: c.name)
    }

    static func permute(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        Permute(name: c.name, dims: try c.ints("dims"))
    }

    // MARK: Preprocessing

    static func rescaling(_ c: LayerConfig, _ shapes: [Shape]) throws -> any Layer {
        Rescaling(name: c.name, scale: try c.floats("scale") ?? [1], offset: try c.floats("offset") ?? [0])
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
        return Resizing(name: c.name, height: try c.int("height"), width: try c.int("width"),
                        interpolation: try interpolation(c, default: .bilinear))
    }
}
