import MienNN

/// The inverse of `KerasLayers.builders`: each Mien layer as a Keras class name and config,
/// in the same order as the builders.
extension KerasLayers {
    typealias Written = (className: String, config: [String: JSON])

    /// The activation a layer applies, if it has one (for choosing the Keras version).
    public static func activation(of layer: any Layer) -> Activation? {
        switch layer {
        case let l as Conv2D: return l.activation
        case let l as GroupedConv2D: return l.activation
        case let l as DepthwiseConv2D: return l.activation
        case let l as SeparableConv2D: return l.activation
        case let l as Dense: return l.activation
        case let l as ActivationLayer: return l.activation
        default: return nil
        }
    }

    static func config(of layer: any Layer, kerasMajor: Int) throws -> Written {
        func name(_ activation: Activation) throws -> JSON {
            .string(try kerasName(activation, kerasMajor: kerasMajor, layer: layer.name))
        }
        let channelsLast: JSON = "channels_last"
        switch layer {
        case let l as any InputPaddedLayer where l.hasInputPadding:
            throw KerasError(.unsupportedOption, file: "model_config", layer: l.name,
                             "a folded-in ZeroPadding2D (inputPadding) has no Keras form; export the graph before folding")
        case let l as InputLayer:
            return ("InputLayer", ["batch_input_shape": .array(l.shape.map { dim in dim.map { JSON($0) } ?? .null }),
                                   "dtype": "float32", "sparse": false])
        case let l as Conv2D:
            return ("Conv2D", ["filters": JSON(l.filters), "kernel_size": JSON(l.kernelSize),
                               "strides": JSON(l.strides), "dilation_rate": JSON(l.dilation),
                               "padding": .string(l.padding.rawValue), "data_format": channelsLast,
                               "use_bias": .bool(l.bias != nil), "activation": try name(l.activation)])
        case let l as GroupedConv2D:
            return ("Conv2D", ["filters": JSON(l.filters), "kernel_size": JSON(l.kernelSize),
                               "strides": JSON(l.strides), "dilation_rate": JSON(l.dilation),
                               "padding": .string(l.padding.rawValue), "data_format": channelsLast,
                               "groups": JSON(l.groups),
                               "use_bias": .bool(l.bias != nil), "activation": try name(l.activation)])
        case let l as DepthwiseConv2D:
            return ("DepthwiseConv2D", ["kernel_size": JSON(l.kernelSize), "strides": JSON(l.strides),
                                        "dilation_rate": JSON(l.dilation), "padding": .string(l.padding.rawValue),
                                        "depth_multiplier": JSON(l.depthMultiplier), "data_format": channelsLast,
                                        "use_bias": .bool(l.bias != nil), "activation": try name(l.activation)])
        case let l as SeparableConv2D:
            return ("SeparableConv2D", ["filters": JSON(l.filters), "kernel_size": JSON(l.kernelSize),
                                        "strides": JSON(l.strides), "dilation_rate": JSON(l.dilation),
                                        "padding": .string(l.padding.rawValue),
                                        "depth_multiplier": JSON(l.depthMultiplier), "data_format": channelsLast,
                                        "use_bias": .bool(l.bias != nil), "activation": try name(l.activation)])
        case let l as Dense:
            return ("Dense", ["units": JSON(l.units), "use_bias": .bool(l.bias != nil),
                              "activation": try name(l.activation)])
        case let l as BatchNormalization:
            return ("BatchNormalization", ["axis": -1, "epsilon": JSON(l.epsilon), "momentum": JSON(l.momentum),
                                           "center": .bool(l.beta != nil), "scale": .bool(l.gamma != nil)])
        case let l as ActivationLayer:
            return ("Activation", ["activation": try name(l.activation)])
        case let l as ReLU:
            return ("ReLU", ["max_value": l.maxValue.map { JSON($0) } ?? .null,
                             "negative_slope": JSON(l.negativeSlope), "threshold": JSON(l.threshold)])
        case let l as LeakyReLU:
            // Both Keras versions read `alpha` (Keras 3 with a deprecation warning).
            return ("LeakyReLU", ["alpha": JSON(l.slope)])
        case let l as PReLU:
            let shared = l.alpha.shape.enumerated().filter { $0.element == 1 }.map { $0.offset + 1 }
            return ("PReLU", ["shared_axes": shared.isEmpty ? .null : JSON(shared)])
        case let l as Softmax:
            return ("Softmax", ["axis": JSON(l.axis)])
        case let l as ELU:
            return ("ELU", ["alpha": JSON(l.alpha)])
        case let l as MaxPooling2D:
            return ("MaxPooling2D", pooling(l.poolSize, l.strides, l.padding))
        case let l as AveragePooling2D:
            return ("AveragePooling2D", pooling(l.poolSize, l.strides, l.padding))
        case let l as GlobalAveragePooling2D:
            return ("GlobalAveragePooling2D", ["data_format": channelsLast, "keepdims": .bool(l.keepDims)])
        case let l as GlobalMaxPooling2D:
            return ("GlobalMaxPooling2D", ["data_format": channelsLast, "keepdims": .bool(l.keepDims)])
        case let l as ZeroPadding2D:
            return ("ZeroPadding2D", ["padding": [JSON(l.padding.0), JSON(l.padding.1)], "data_format": channelsLast])
        case let l as Cropping2D:
            return ("Cropping2D", ["cropping": [JSON(l.cropping.0), JSON(l.cropping.1)], "data_format": channelsLast])
        case let l as UpSampling2D:
            return ("UpSampling2D", ["size": JSON(l.size), "interpolation": .string(l.interpolation.rawValue),
                                     "data_format": channelsLast])
        case let l as Merge:
            return (l.kerasClass, [:])
        case let l as Concatenate:
            return ("Concatenate", ["axis": JSON(l.axis)])
        case let l as Reshape:
            return ("Reshape", ["target_shape": JSON(l.targetShape)])
        case is Flatten:
            return ("Flatten", ["data_format": channelsLast])
        case let l as Permute:
            return ("Permute", ["dims": JSON(l.dims)])
        case let l as Dropout:
            var config: [String: JSON] = ["rate": JSON(l.rate)]
            if l.spatialRank == nil, let shape = l.noiseShape {
                config["noise_shape"] = .array(shape.map { $0.map { JSON($0) } ?? .null })
            }
            return (l.kerasClass, config)
        case let l as Identity:
            var config = l.options.mapValues { JSON($0) }
            if let shape = l.noiseShape { config["noise_shape"] = .array(shape.map { $0.map { JSON($0) } ?? .null }) }
            return (l.kerasClass, config)
        case let l as Rescaling:
            return ("Rescaling", ["scale": scalarOrList(l.scale), "offset": scalarOrList(l.offset)])
        case let l as Normalization:
            // An adapted layer keeps its statistics as weights; a configured one in its config.
            return ("Normalization", ["axis": -1, "invert": .bool(l.invert),
                                      "mean": l.storesWeights ? .null : JSON(l.mean.scalars),
                                      "variance": l.storesWeights ? .null : JSON(l.variance.scalars)])
        case let l as Resizing:
            return ("Resizing", ["height": JSON(l.height), "width": JSON(l.width),
                                 "interpolation": .string(l.interpolation.rawValue),
                                 "crop_to_aspect_ratio": false])
        default:
            for family in families {
                if let written = try family.config(of: layer, kerasMajor: kerasMajor) { return written }
            }
            throw KerasError(.unsupportedLayer, file: "model_config", layer: layer.name,
                             "\(layer.kerasClass) has no Keras equivalent to write")
        }
    }

    private static func pooling(_ pool: (Int, Int), _ strides: (Int, Int), _ padding: Padding) -> [String: JSON] {
        ["pool_size": JSON(pool), "strides": JSON(strides), "padding": .string(padding.rawValue),
         "data_format": "channels_last"]
    }

    private static func scalarOrList(_ values: [Float]) -> JSON {
        values.count == 1 ? JSON(values[0]) : JSON(values)
    }

    /// Keras's name for an activation, or an error if that Keras version has none for it.
    static func kerasName(_ activation: Activation, kerasMajor: Int, layer: String) throws -> String {
        switch activation {
        case .linear: return "linear"
        case .relu: return "relu"
        case .relu6: return "relu6"
        case .sigmoid: return "sigmoid"
        case .hardSigmoid where activation == (kerasMajor >= 3 ? Activation.hardSigmoidKeras3 : .hardSigmoidKeras2):
            return "hard_sigmoid"
        case .hardSwish where kerasMajor >= 3: return "hard_silu"
        case .tanh: return "tanh"
        case .softmax: return "softmax"
        case .logSoftmax where kerasMajor >= 3: return "log_softmax"
        case .swish: return "swish"
        case .elu(let alpha) where alpha == 1: return "elu"
        case .selu: return "selu"
        case .gelu(let approximate) where !approximate: return "gelu"
        case .softplus: return "softplus"
        case .softsign: return "softsign"
        case .exponential: return "exponential"
        case .mish where kerasMajor >= 3: return "mish"
        case .leakyReLU(let slope) where kerasMajor >= 3 && slope == 0.2: return "leaky_relu"
        default:
            throw KerasError(.unsupportedOption, file: "model_config", layer: layer,
                             "activation \(activation) has no name in Keras \(kerasMajor)")
        }
    }
}
