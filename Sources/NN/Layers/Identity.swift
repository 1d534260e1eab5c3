/// A layer that is the identity at inference: `Dropout`, `SpatialDropout1D/2D/3D`,
/// `GaussianNoise`, `GaussianDropout`, `AlphaDropout`, `ActivityRegularization`.
/// Keeps the Keras class name for summaries.
public struct Identity: Layer {
    public var name: String
    public var kerasClass: String
    public var trainable: Bool = true
    /// The layer's numeric Keras options (`rate`, `stddev`, `l1`, ...): unused at inference,
    /// kept so that training and the export back to Keras see them.
    public var options: [String: Float]

    /// The Keras classes that are the identity at inference.
    public static let kerasClasses: Set<String> = [
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
        "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    ]

    public init(name: String, kerasClass: String, options: [String: Float] = [:]) {
        self.name = name
        self.kerasClass = kerasClass
        self.options = options
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { try single(inputShapes) }

    public func forward(_ inputs: [Tensor]) throws -> Tensor { try single(inputs) }
}
