import Foundation
import MienKerasConfig
import MienNN

/// Keras's weight initializers (`keras.initializers`), drawn from Mien's seeded streams:
/// the same distributions as Keras, not the same numbers (TensorFlow's generator cannot be
/// reproduced). What `mien train --model M --from-scratch` starts from.
public enum KerasInitializer: Equatable, Sendable {
    case zeros
    case ones
    case constant(Float)
    case randomNormal(mean: Double, stddev: Double)
    case randomUniform(min: Double, max: Double)
    case truncatedNormal(mean: Double, stddev: Double)
    /// `VarianceScaling(scale, mode, distribution)`, which Glorot, He and LeCun are.
    case varianceScaling(scale: Double, mode: String, distribution: String)

    /// From a config entry: a name (`"glorot_uniform"`) or a serialized object
    /// (`{"class_name": "GlorotUniform", "config": {...}}`, either Keras).
    public init(_ json: JSON, weight: String) throws {
        let name: String
        let config: JSON?
        if let text = json.string {
            (name, config) = (text, nil)
        } else if let className = json["class_name"]?.string {
            (name, config) = (className, json["config"])
        } else {
            throw TrainingSetupError("weight '\(weight)': initializer \(json.text.prefix(60)) is neither a name nor a Keras initializer object")
        }
        func number(_ key: String, _ fallback: Double) throws -> Double {
            guard let value = config?[key], !value.isNull else { return fallback }
            guard let n = value.double, n.isFinite else {
                throw TrainingSetupError("weight '\(weight)': initializer \(name)'s \(key) is not a finite number")
            }
            return n
        }
        let key = name.lowercased().replacingOccurrences(of: "_", with: "")
        switch key {
        case "zeros", "zero": self = .zeros
        case "ones", "one": self = .ones
        case "constant": self = .constant(Float(try number("value", 0)))
        case "randomnormal", "normal": self = .randomNormal(mean: try number("mean", 0), stddev: try number("stddev", 0.05))
        case "randomuniform", "uniform":
            self = .randomUniform(min: try number("minval", -0.05), max: try number("maxval", 0.05))
        case "truncatednormal":
            self = .truncatedNormal(mean: try number("mean", 0), stddev: try number("stddev", 0.05))
        case "glorotuniform": self = .varianceScaling(scale: 1, mode: "fan_avg", distribution: "uniform")
        case "glorotnormal": self = .varianceScaling(scale: 1, mode: "fan_avg", distribution: "truncated_normal")
        case "henormal": self = .varianceScaling(scale: 2, mode: "fan_in", distribution: "truncated_normal")
        case "heuniform": self = .varianceScaling(scale: 2, mode: "fan_in", distribution: "uniform")
        case "lecunnormal": self = .varianceScaling(scale: 1, mode: "fan_in", distribution: "truncated_normal")
        case "lecununiform": self = .varianceScaling(scale: 1, mode: "fan_in", distribution: "uniform")
        case "variancescaling":
            let mode = config?["mode"]?.string ?? "fan_in"
            let distribution = config?["distribution"]?.string ?? "truncated_normal"
            guard ["fan_in", "fan_out", "fan_avg"].contains(mode),
                  ["truncated_normal", "untruncated_normal", "normal", "uniform"].contains(distribution) else {
                throw TrainingSetupError("weight '\(weight)': VarianceScaling mode '\(mode)' or distribution '\(distribution)' is not Keras's")
            }
            let scale = try number("scale", 1)
            guard scale > 0 else { throw TrainingSetupError("weight '\(weight)': VarianceScaling scale must be positive") }
            self = .varianceScaling(scale: scale, mode: mode, distribution: distribution == "normal" ? "truncated_normal" : distribution)
        default:
            throw TrainingSetupError("weight '\(weight)': Mien cannot draw initializer '\(name)' (it draws zeros, ones, constant, random_normal, random_uniform, truncated_normal, variance_scaling, glorot_*, he_*, lecun_*)")
        }
    }

    /// Keras's `compute_fans`: a vector is its own fan; a matrix `[in, out]`; a kernel
    /// `[..., in, out]` multiplies both by its receptive field.
    static func fans(_ shape: [Int]) -> (Double, Double) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (Double(shape[0]), Double(shape[0]))
        case 2: return (Double(shape[0]), Double(shape[1]))
        default:
            let receptive = Double(shape.dropLast(2).reduce(1, *))
            return (Double(shape[shape.count - 2]) * receptive, Double(shape[shape.count - 1]) * receptive)
        }
    }

    /// `count` values for a weight of `shape`.
    public func values(shape: [Int], generator: inout SeededGenerator) -> [Float] {
        let count = shape.reduce(1, *)
        func uniform(_ low: Double, _ high: Double) -> [Float] {
            (0..<count).map { _ in Float(low + (high - low) * generator.nextDouble()) }
        }
        func normal(_ mean: Double, _ stddev: Double, truncated: Bool) -> [Float] {
            (0..<count).map { _ in
                while true {
                    // Box–Muller; Keras's truncated normal redraws beyond two standard deviations.
                    let u = max(generator.nextDouble(), .leastNonzeroMagnitude)
                    let z = (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * generator.nextDouble())
                    if !truncated || abs(z) <= 2 { return Float(mean + stddev * z) }
                }
            }
        }
        switch self {
        case .zeros: return [Float](repeating: 0, count: count)
        case .ones: return [Float](repeating: 1, count: count)
        case .constant(let value): return [Float](repeating: value, count: count)
        case .randomNormal(let mean, let stddev): return normal(mean, stddev, truncated: false)
        case .randomUniform(let low, let high): return uniform(low, high)
        case .truncatedNormal(let mean, let stddev): return normal(mean, stddev, truncated: true)
        case .varianceScaling(let scale, let mode, let distribution):
            let (fanIn, fanOut) = KerasInitializer.fans(shape)
            let fan = mode == "fan_in" ? fanIn : mode == "fan_out" ? fanOut : (fanIn + fanOut) / 2
            let variance = scale / max(1, fan)
            switch distribution {
            case "uniform":
                let limit = (3 * variance).squareRoot()
                return uniform(-limit, limit)
            case "untruncated_normal": return normal(0, variance.squareRoot(), truncated: false)
            default:
                // The standard deviation of a unit normal truncated at ±2, as Keras divides by.
                return normal(0, variance.squareRoot() / 0.87962566103423978, truncated: true)
            }
        }
    }
}

extension Graph {
    /// Every weight drawn again from the initializer its layer's config names (by layer
    /// name; `initializers` from `KerasModel.initializers`), each from its own stream of
    /// `seed` keyed by its key path. Refuses a weight whose initializer is unknown.
    public mutating func reinitialize(_ initializers: [String: [String: JSON]], seed: UInt64) throws {
        for parameter in parameters {
            let parts = parameter.name.split(separator: "/").map(String.init)
            guard parts.count >= 2 else { continue }
            let (layer, weight) = (Graph.layerName(inPath: Substring(parts[parts.count - 2])), parts[parts.count - 1])
            guard let spec = initializers[layer]?[weight] else {
                throw TrainingSetupError("--from-scratch: the config names no initializer for weight '\(parameter.name)'")
            }
            let initializer = try KerasInitializer(spec, weight: parameter.name)
            var generator = SeededGenerator(seed: seed, .initializer, TrainingContext.hash(parameter.name))
            try setParameter(parameter.name, to: Tensor(shape: parameter.value.shape,
                                                        scalars: initializer.values(shape: parameter.value.shape, generator: &generator)))
        }
    }
}
