import MienFiles

/// Bounds on what a model may declare, checked before anything is allocated: a model file
/// is untrusted input, and a size in its config must not be able to overflow shape
/// arithmetic, divide by zero or make Mien allocate gigabytes before the file's own weight
/// shapes are compared.
///
/// The bounds are far above what real networks use (EfficientNet-Lite0 at 224×224 has a
/// largest activation of 1.2 M floats per image and 4.7 M weights; VGG16 has 138 M weights).
public enum ModelLimits {
    /// The largest length of one axis of a shape, and of a layer's size option (units,
    /// filters, kernel size, stride, pool size, dilation, padding): 2^24.
    public static let maxDimension = 1 << 24
    /// The largest activation of one image (every axis but the batch): 2^26 floats, 256 MiB
    /// (VGG16's first layers at 1024×1024 take exactly that).
    public static let maxActivationElements = 1 << 26
    /// The largest batch a model may declare or be run on at once: 2^16.
    public static let maxBatch = 1 << 16
    /// The most weights (elements) a model built without a file may have: 2^28 floats, 1 GiB.
    /// A model read from a file may not declare more weights than the file has bytes.
    public static let maxWeightElements = 1 << 28

    /// Checks a shape a layer produces or an input declares: every known axis in
    /// 1...`maxDimension` (the batch axis up to `maxBatch`), and at most
    /// `maxActivationElements` per image. `what` names it in the error ("output", "input").
    public static func check(_ shape: Shape, layer: String, what: String = "output") throws {
        for (axis, dim) in shape.enumerated() {
            guard let dim else { continue }
            let limit = axis == 0 ? maxBatch : maxDimension
            guard dim >= 1 else {
                throw LayerError(layer: layer, "\(what) shape \(shape.kerasDescription) is empty or negative: every axis needs a length of at least 1 (an input too small for the layer's window or cropping?)")
            }
            guard dim <= limit else {
                throw LayerError(layer: layer, "\(what) shape \(shape.kerasDescription) has an axis of \(dim), above Mien's limit of \(limit)")
            }
        }
        let perImage = shape.dropFirst().compactMap { $0 }
        guard let elements = CheckedSize.product(perImage), elements <= maxActivationElements else {
            throw LayerError(layer: layer, "\(what) shape \(shape.kerasDescription) holds more than \(maxActivationElements) values per image (\(maxActivationElements / (1 << 18)) MiB), Mien's limit for one activation")
        }
    }
}

/// The weights a model may still allocate while it is built from a config: each layer asks
/// before it allocates, so a config that declares more than its file can hold is refused
/// before the memory is taken.
public final class WeightBudget: @unchecked Sendable {
    // @unchecked: one builder uses it on one thread.
    public let limit: Int
    public private(set) var used = 0
    /// What the limit is, for messages ("the file's 1,234 bytes").
    public let reason: String

    public init(limit: Int, reason: String) {
        self.limit = limit
        self.reason = reason
    }

    /// A budget for a model read from a file of `bytes` bytes: every weight element takes at
    /// least one byte of the file.
    public static func file(bytes: Int) -> WeightBudget {
        WeightBudget(limit: min(bytes, ModelLimits.maxWeightElements * 4),
                     reason: "the \(bytes)-byte file can hold at most \(bytes) weights")
    }

    /// The budget of a model built from a description alone (`--head`).
    public static func standard() -> WeightBudget {
        WeightBudget(limit: ModelLimits.maxWeightElements,
                     reason: "Mien's limit for a new model is \(ModelLimits.maxWeightElements) weights (1 GiB)")
    }

    /// Reserves the weights of shapes `shapes` for `layer`, or throws naming the layer.
    public func reserve(_ shapes: [[Int]], layer: String) throws {
        var total = 0
        for shape in shapes {
            guard shape.allSatisfy({ $0 >= 0 && $0 <= ModelLimits.maxDimension }),
                  let count = CheckedSize.product(shape) else {
                throw LayerError(layer: layer, "a weight of shape \(shape) is out of range")
            }
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow else { throw LayerError(layer: layer, "its weights overflow") }
            total = sum
        }
        guard total <= limit - used else {
            throw LayerError(layer: layer, "declares \(total) weights (\(shapes.map { "\($0)" }.joined(separator: ", "))), more than remain: \(reason), and \(used) are taken by earlier layers")
        }
        used += total
    }
}
