import Foundation

// Keras's random image augmentation layers (keras.layers.RandomFlip, RandomRotation,
// RandomZoom, RandomTranslation; RandomContrast and RandomBrightness are in
// ColorAugmentation.swift, the crops in ImageCropping.swift), channels_last batches.
//
// At inference (Keras's `training=False`, what `predict` runs) each passes its input
// through. In training mode each draws its parameters — from the same distributions as
// Keras — from the training context's `.imageAugmentation` stream for the layer's key path,
// the epoch and the batch, so a seeded run is reproducible; Keras's own draws come from
// TensorFlow's RNG and cannot be reproduced. The transforms themselves are Keras's
// (`transform_images` with given parameters), checked against both Keras versions in
// Tests/MienNNTests/AugmentationTests.swift.

extension Layer {
    /// The random numbers of an augmentation layer's training call, and the rows of the whole
    /// batch this call holds: the layer draws for the whole batch and keeps its rows, so a
    /// batch split across cores draws what the whole one draws.
    func augmentationDraws(_ x: Tensor, _ context: TrainingContext) -> (generator: SeededGenerator, whole: Int, rows: Range<Int>) {
        let whole = context.rows != nil ? context.batchSize : x.shape[0]
        return (context.generator(for: name, stream: .imageAugmentation), whole, context.rows ?? 0..<x.shape[0])
    }

    /// Checks an image batch `(N, H, W, C)`.
    func requireImages(_ shape: Shape) throws {
        guard shape.count == 4 else {
            throw LayerError(layer: name, "\(kerasClass) expects a batch of images (N, H, W, C), got \(shape.kerasDescription)")
        }
    }
}

/// A random augmentation layer: a batch of images passes through it unchanged at inference
/// (Keras's `predict`), and is transformed in training mode.
public protocol RandomImageLayer: Layer {}

extension RandomImageLayer {
    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireImages(shape)
        return shape
    }

    /// Keras's inference: the input, once it is checked to be a batch of images.
    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        return x
    }
    public var isIdentityAtInference: Bool { true }
    public var usesTrainingFlag: Bool { true }
    public var canTrain: Bool { true }
}

/// Float32 `uniform(low, high)` as TensorFlow draws it: `low + (high − low)·u`, u in [0, 1).
@inline(__always)
func uniformFloat<G: RandomNumberGenerator>(_ low: Double, _ high: Double, _ generator: inout G) -> Float {
    let u = Double(generator.next() >> 11) * 0x1p-53
    return Float(low + (high - low) * u)
}

// MARK: - RandomFlip

/// Keras's `RandomFlip`. Keras 3 draws one `u ≤ 0.5` per image and, with
/// `horizontal_and_vertical`, flips that image both ways or neither; tf.keras 2 draws the
/// left-right and the up-down flip of each image independently (`u < 0.5` each), so
/// `kerasMajor` keeps which one the model was saved with.
public struct RandomFlip: RandomImageLayer {
    public enum Mode: String, Sendable, CaseIterable {
        case horizontal, vertical
        case horizontalAndVertical = "horizontal_and_vertical"

        var horizontal: Bool { self != .vertical }
        var vertical: Bool { self != .horizontal }
    }

    /// One image's flips.
    public struct Flip: Sendable, Equatable {
        public var horizontal: Bool
        public var vertical: Bool

        public init(horizontal: Bool, vertical: Bool) {
            self.horizontal = horizontal
            self.vertical = vertical
        }
    }

    public var name: String
    public var kerasClass: String { "RandomFlip" }
    public var trainable: Bool = true
    public var mode: Mode
    public var kerasMajor: Int

    public init(name: String, mode: Mode = .horizontalAndVertical, kerasMajor: Int = 3) {
        self.name = name
        self.mode = mode
        self.kerasMajor = kerasMajor
    }


    /// The flips of `count` images.
    public func draw<G: RandomNumberGenerator>(count: Int, generator: inout G) -> [Flip] {
        if kerasMajor >= 3 {
            return (0..<count).map { _ in
                let flip = Double(generator.next() >> 11) * 0x1p-53 <= 0.5
                return Flip(horizontal: flip && mode.horizontal, vertical: flip && mode.vertical)
            }
        }
        let horizontal = (0..<count).map { _ in mode.horizontal && Double(generator.next() >> 11) * 0x1p-53 < 0.5 }
        let vertical = (0..<count).map { _ in mode.vertical && Double(generator.next() >> 11) * 0x1p-53 < 0.5 }
        return zip(horizontal, vertical).map { Flip(horizontal: $0, vertical: $1) }
    }

    /// Each image flipped as `flips` says (one per image).
    public func apply(_ flips: [Flip], to x: Tensor) throws -> Tensor {
        try requireImages(x.shape.map { $0 })
        guard flips.count == x.shape[0] else {
            throw LayerError(layer: name, "\(flips.count) flips for \(x.shape[0]) images")
        }
        let (h, w, c) = (x.shape[1], x.shape[2], x.shape[3])
        var y = x
        x.scalars.withUnsafeBufferPointer { src in
            y.scalars.withUnsafeMutableBufferPointer { dst in
                for (n, flip) in flips.enumerated() where flip.horizontal || flip.vertical {
                    let base = n * h * w * c
                    for row in 0..<h {
                        let from = flip.vertical ? h - 1 - row : row
                        for col in 0..<w {
                            let fromCol = flip.horizontal ? w - 1 - col : col
                            let (o, i) = (base + (row * w + col) * c, base + (from * w + fromCol) * c)
                            for k in 0..<c { dst[o + k] = src[i + k] }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Tape: each image's flips as `[n, 2]` zeros and ones.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        var (generator, whole, rows) = augmentationDraws(x, context)
        let flips = Array(draw(count: whole, generator: &generator)[rows])
        let tape = Tensor(shape: [flips.count, 2], scalars: flips.flatMap { [$0.horizontal ? 1 : 0, $0.vertical ? 1 : 0] })
        return TrainingForward(try apply(flips, to: x), tape: Tape([tape]))
    }

    /// A flip is its own inverse: the gradient is flipped back the same way.
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let record = try tape.tensor(0, layer: name)
        guard record.rank == 2, record.shape == [outputGradient.shape.first ?? -1, 2] else {
            throw LayerError(layer: name, "backward: the tape is not this layer's")
        }
        let flips = (0..<record.shape[0]).map { Flip(horizontal: record.scalars[2 * $0] != 0, vertical: record.scalars[2 * $0 + 1] != 0) }
        return LayerGradients(inputs: [inputs.first == true ? try apply(flips, to: outputGradient) : nil])
    }
}

// MARK: - Affine transforms: RandomRotation, RandomZoom, RandomTranslation

/// How the affine layers sample: Keras's `fill_mode`, `fill_value` and `interpolation`.
public struct AffineSampling: Sendable, Equatable {
    public var fillMode: FillMode
    public var fillValue: Float
    public var interpolation: Interpolation

    public init(fillMode: FillMode = .reflect, fillValue: Float = 0, interpolation: Interpolation = .bilinear) {
        self.fillMode = fillMode
        self.fillValue = fillValue
        self.interpolation = interpolation
    }
}

/// A random affine layer: per image a projective matrix (output pixel → input pixel), drawn
/// in training mode and applied with TensorFlow's `ImageProjectiveTransformV3`.
public protocol RandomAffineLayer: RandomImageLayer {
    var sampling: AffineSampling { get }
    /// The matrices of `count` images of `height × width`.
    func drawMatrices<G: RandomNumberGenerator>(count: Int, height: Int, width: Int, generator: inout G) -> [ProjectiveMatrix]
}

extension RandomAffineLayer {

    /// Each image transformed by its matrix (one per image, or one for all), as Keras's
    /// `transform_images` with an explicit transformation.
    public func apply(_ matrices: [ProjectiveMatrix], to x: Tensor) throws -> Tensor {
        try requireImages(x.shape.map { $0 })
        guard matrices.count == x.shape[0] || matrices.count == 1, matrices.allSatisfy({ $0.count == 8 && $0.allSatisfy(\.isFinite) }) else {
            throw LayerError(layer: name, "expects one matrix of 8 finite values per image (\(x.shape[0])), got \(matrices.count)")
        }
        return projectiveTransform(x, transforms: matrices, interpolation: sampling.interpolation,
                                   fillMode: sampling.fillMode, fillValue: sampling.fillValue)
    }

    /// No tape: the backward pass gives no input gradient.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        var (generator, whole, rows) = augmentationDraws(x, context)
        let matrices = drawMatrices(count: whole, height: x.shape[1], width: x.shape[2], generator: &generator)
        return TrainingForward(try apply(Array(matrices[rows]), to: x))
    }

    /// The layer sits after the model's input, where no gradient is needed; an input
    /// gradient asked of it is refused rather than approximated (TensorFlow's own is the
    /// inverse transform of the gradient, not the transform's adjoint).
    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        if inputs.first == true {
            throw LayerError(layer: name, "\(kerasClass) passes no gradient to its input: put it before every layer that trains (right after the model's input)")
        }
        return LayerGradients(inputs: [nil])
    }
}

/// A `[lower, upper]` range of a factor (Keras's parsed `factor`, `height_factor`, ...).
public struct FactorRange: Sendable, Equatable {
    public var lower: Double
    public var upper: Double

    public init(_ lower: Double, _ upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    /// A float32 uniform draw in `[lower, upper)` scaled by `scale`.
    func draw<G: RandomNumberGenerator>(_ generator: inout G, scale: Double = 1) -> Float {
        uniformFloat(lower * scale, upper * scale, &generator)
    }
}

/// Keras's `RandomRotation`: each image turned about its centre by an angle uniform in
/// `[lower, upper] · 2π` (Keras 3 draws `[lower, upper] · 360` degrees: the same).
public struct RandomRotation: RandomAffineLayer {
    public var name: String
    public var kerasClass: String { "RandomRotation" }
    public var trainable: Bool = true
    public var factor: FactorRange
    public var sampling: AffineSampling

    public init(name: String, factor: FactorRange, sampling: AffineSampling = AffineSampling()) {
        self.name = name
        self.factor = factor
        self.sampling = sampling
    }

    /// Keras's rotation matrix for `angle` radians about `((W − 1)/2, (H − 1)/2)` (Keras 3's
    /// `_compute_affine_matrix`, tf_keras's `get_rotation_matrix`), in double, then float.
    public static func matrix(angle: Double, height: Int, width: Int) -> ProjectiveMatrix {
        let (cx, cy) = (0.5 * Double(width - 1), 0.5 * Double(height - 1))
        let (c, s) = (cos(angle), sin(angle))
        return [c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c, 0, 0].map { Float($0) }
    }

    public func drawMatrices<G: RandomNumberGenerator>(count: Int, height: Int, width: Int, generator: inout G) -> [ProjectiveMatrix] {
        (0..<count).map { _ in
            let turns = Double(factor.draw(&generator, scale: 360)) * .pi / 180
            return RandomRotation.matrix(angle: turns, height: height, width: width)
        }
    }
}

/// Keras's `RandomZoom`: each image scaled about its centre; the sampling step along each
/// axis is `1 + f`, f uniform in the factor's range (above 1 zooms out); without a
/// `width_factor` both axes take the height's draw.
public struct RandomZoom: RandomAffineLayer {
    public var name: String
    public var kerasClass: String { "RandomZoom" }
    public var trainable: Bool = true
    public var heightFactor: FactorRange
    public var widthFactor: FactorRange?
    public var sampling: AffineSampling

    public init(name: String, heightFactor: FactorRange, widthFactor: FactorRange? = nil, sampling: AffineSampling = AffineSampling()) {
        self.name = name
        self.heightFactor = heightFactor
        self.widthFactor = widthFactor
        self.sampling = sampling
    }

    /// Keras's zoom matrix (`_get_zoom_matrix`): steps `zx`, `zy` about the centre.
    public static func matrix(zoomX: Float, zoomY: Float, height: Int, width: Int) -> ProjectiveMatrix {
        let xOffset = (Float(width) - 1) / 2 * (1 - zoomX)
        let yOffset = (Float(height) - 1) / 2 * (1 - zoomY)
        return [zoomX, 0, xOffset, 0, zoomY, yOffset, 0, 0]
    }

    public func drawMatrices<G: RandomNumberGenerator>(count: Int, height: Int, width: Int, generator: inout G) -> [ProjectiveMatrix] {
        let zy = (0..<count).map { _ in uniformFloat(1 + heightFactor.lower, 1 + heightFactor.upper, &generator) }
        let zx = widthFactor.map { w in (0..<count).map { _ in uniformFloat(1 + w.lower, 1 + w.upper, &generator) } } ?? zy
        return (0..<count).map { RandomZoom.matrix(zoomX: zx[$0], zoomY: zy[$0], height: height, width: width) }
    }
}

/// Keras's `RandomTranslation`: each image shifted by `f · H` rows and `g · W` columns, f
/// and g uniform in the height and width factors' ranges.
public struct RandomTranslation: RandomAffineLayer {
    public var name: String
    public var kerasClass: String { "RandomTranslation" }
    public var trainable: Bool = true
    public var heightFactor: FactorRange
    public var widthFactor: FactorRange
    public var sampling: AffineSampling

    public init(name: String, heightFactor: FactorRange, widthFactor: FactorRange, sampling: AffineSampling = AffineSampling()) {
        self.name = name
        self.heightFactor = heightFactor
        self.widthFactor = widthFactor
        self.sampling = sampling
    }

    /// Keras's translation matrix: the output at `(x, y)` reads the input at `(x − dx, y − dy)`.
    public static func matrix(dx: Float, dy: Float) -> ProjectiveMatrix {
        [1, 0, -dx, 0, 1, -dy, 0, 0]
    }

    public func drawMatrices<G: RandomNumberGenerator>(count: Int, height: Int, width: Int, generator: inout G) -> [ProjectiveMatrix] {
        // Keras draws the fraction in float32 and multiplies by the size in float32.
        let dy = (0..<count).map { _ in heightFactor.draw(&generator) * Float(height) }
        let dx = (0..<count).map { _ in widthFactor.draw(&generator) * Float(width) }
        return (0..<count).map { RandomTranslation.matrix(dx: dx[$0], dy: dy[$0]) }
    }
}
