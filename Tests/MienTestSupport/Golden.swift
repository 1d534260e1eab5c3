import MienHDF5
import MienNN

/// A fixture's `NAME.io.h5`, written by a `tools/` script with real Keras: the inputs,
/// Keras's outputs, and the numbers Keras's `model.summary()` printed.
public struct Golden {
    public let root: HDF5Group

    public init(_ relativePath: String) throws {
        root = try HDF5File(path: Fixtures.path(relativePath)).root
    }

    /// `inputs/0`, `inputs/1`, ... in `model.inputs` order.
    public var inputs: [Tensor] {
        get throws {
            let names = try root.group("inputs").childNames().sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
            return try names.map { try tensor("inputs/\($0)") }
        }
    }

    /// The dataset `output` (or another named one).
    public func tensor(_ path: String = "output") throws -> Tensor {
        let dataset = try root.dataset(path)
        return Tensor(shape: dataset.shape, scalars: try dataset.readFloats())
    }

    public func int(_ key: String) throws -> Int {
        guard let value = try root.attribute(key).intValue else { throw GoldenError(key: key) }
        return Int(value)
    }

    public func ints(_ key: String) throws -> [Int] {
        switch try root.attribute(key) {
        case .ints(let values): return values.map { Int($0) }
        case .int(let value): return [Int(value)]
        default: throw GoldenError(key: key)
        }
    }

    public func strings(_ key: String) throws -> [String] {
        guard let values = try root.stringArrayAttribute(key) else { throw GoldenError(key: key) }
        return values
    }

    /// Keras's `(total, trainable, non-trainable)` parameter counts.
    public var parameterCounts: (total: Int, trainable: Int, nonTrainable: Int) {
        get throws { (try int("total_params"), try int("trainable_params"), try int("non_trainable_params")) }
    }

    public struct GoldenError: Error, CustomStringConvertible {
        public var key: String
        public var description: String { "fixture attribute '\(key)' is missing or of another type" }
    }
}
