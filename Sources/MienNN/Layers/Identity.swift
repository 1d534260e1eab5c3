/// A layer that is the identity at inference and that Mien does not train: `GaussianNoise`,
/// `GaussianDropout`, `AlphaDropout` (their noise is not reproduced) and
/// `ActivityRegularization` (it adds a loss). Keeps the Keras class name and options for
/// summaries and the export back to Keras. (`Dropout` and the spatial dropouts are `Dropout`.)
public struct Identity: Layer {
    public var name: String
    public var kerasClass: String
    public var trainable: Bool = true
    /// The layer's numeric Keras options (`rate`, `stddev`, `l1`, ...): unused at inference,
    /// kept for the export back to Keras.
    public var options: [String: Float]
    /// Keras's `noise_shape` (AlphaDropout), kept for the export back to Keras.
    public var noiseShape: [Int?]?

    /// The Keras classes that are the identity at inference.
    public static let kerasClasses: Set<String> = [
        "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    ]

    public init(name: String, kerasClass: String, options: [String: Float] = [:], noiseShape: [Int?]? = nil) {
        self.name = name
        self.kerasClass = kerasClass
        self.options = options
        self.noiseShape = noiseShape
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape { try single(inputShapes) }

    public func forward(_ inputs: [Tensor]) throws -> Tensor { try single(inputs) }

    public var isIdentityAtInference: Bool { true }

    /// Every class here but ActivityRegularization draws noise in training mode.
    public var usesTrainingFlag: Bool { kerasClass != "ActivityRegularization" }
}
