/// A window of an image batch: rows `top..<top+height`, columns `left..<left+width`.
public struct CropBox: Sendable, Equatable {
    public var top: Int
    public var left: Int
    public var height: Int
    public var width: Int

    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }
}

extension Layer {
    /// Keras's `smart_resize` box: the largest centred window of the target's aspect ratio
    /// (`int(W·th/tw)` rows, `int(H·tw/th)` columns, each at most the image's, starts
    /// `int((H − rows)/2)`, `int((W − cols)/2)`). Keras 3 raises an empty side to 1, tf.keras 2
    /// fails on it; Mien refuses it (it takes a sliver of 1 pixel of a much wider image).
    func smartResizeBox(height: Int, width: Int, targetHeight: Int, targetWidth: Int) throws -> CropBox {
        let rows = min(height, width * targetHeight / targetWidth)
        let cols = min(width, height * targetWidth / targetHeight)
        guard rows > 0, cols > 0 else {
            throw LayerError(layer: name, "\(kerasClass) cannot resize a \(height)×\(width) image to \(targetHeight)×\(targetWidth): the window of that aspect ratio is empty")
        }
        return CropBox(top: (height - rows) / 2, left: (width - cols) / 2, height: rows, width: cols)
    }

    /// The images' window `box` (clipped to the image, as a slice is), resized bilinearly
    /// (`tf.image.resize`) to `height × width` when it is not that size.
    func cropped(_ x: Tensor, _ box: CropBox, resizedTo height: Int, _ width: Int) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let rows = max(0, min(box.top + box.height, h) - box.top), cols = max(0, min(box.left + box.width, w) - box.left)
        var window = Tensor(zeros: [n, rows, cols, c])
        x.scalars.withUnsafeBufferPointer { src in
            window.scalars.withUnsafeMutableBufferPointer { dst in
                for image in 0..<n {
                    for r in 0..<rows {
                        let from = ((image * h + box.top + r) * w + box.left) * c
                        let to = (image * rows + r) * cols * c
                        for k in 0..<cols * c { dst[to + k] = src[from + k] }
                    }
                }
            }
        }
        if rows == height && cols == width { return window }
        return resize(window, height: height, width: width, interpolation: .bilinear)
    }

    /// The gradient of a crop without resizing: the output gradient put back in its window
    /// of a zero input gradient.
    func uncropped(_ g: Tensor, _ box: CropBox, inputShape: [Int]) throws -> Tensor {
        guard g.rank == 4, g.shape[0] == inputShape[0], g.shape[1] == box.height, g.shape[2] == box.width,
              g.shape[3] == inputShape[3], box.top + box.height <= inputShape[1], box.left + box.width <= inputShape[2] else {
            throw LayerError(layer: name, "backward: gradient of shape \(g.shape) does not fit the crop (not this layer's tape)")
        }
        let (h, w, c) = (inputShape[1], inputShape[2], inputShape[3])
        var dx = Tensor(zeros: inputShape)
        g.scalars.withUnsafeBufferPointer { src in
            dx.scalars.withUnsafeMutableBufferPointer { dst in
                for image in 0..<inputShape[0] {
                    for r in 0..<box.height {
                        let to = ((image * h + box.top + r) * w + box.left) * c
                        let from = (image * box.height + r) * box.width * c
                        for k in 0..<box.width * c { dst[to + k] = src[from + k] }
                    }
                }
            }
        }
        return dx
    }
}

/// The tape of a crop: the box and the input's shape, or (resized) nothing to go back through.
private func cropTape(_ box: CropBox?, _ shape: [Int]) -> Tape {
    guard let box else { return Tape() }
    return Tape(shapes: [shape, [box.top, box.left, box.height, box.width]])
}

extension Layer {
    fileprivate func cropBackward(_ g: Tensor, _ tape: Tape, _ inputs: [Bool]) throws -> LayerGradients {
        guard inputs.first == true else { return LayerGradients(inputs: [nil]) }
        guard tape.shapes.count == 2, tape.shapes[1].count == 4 else {
            throw LayerError(layer: name, "\(kerasClass) passes no gradient to its input when it resizes (the image was smaller than the target, or of another aspect ratio): put it before every layer that trains")
        }
        let b = tape.shapes[1]
        return LayerGradients(inputs: [try uncropped(g, CropBox(top: b[0], left: b[1], height: b[2], width: b[3]), inputShape: tape.shapes[0])])
    }
}

/// Keras's `CenterCrop` (both versions alike, in and out of training): the centred
/// `height × width` window (starts `(H − h) / 2`, `(W − w) / 2`), or, when the image is
/// smaller than the target on either side, `smart_resize` to it.
public struct CenterCrop: Layer {
    public var name: String
    public var kerasClass: String { "CenterCrop" }
    public var trainable: Bool = true
    public var height: Int
    public var width: Int

    public init(name: String, height: Int, width: Int) {
        self.name = name
        self.height = height
        self.width = width
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireImages(shape)
        return [shape[0], height, width, shape[3]]
    }

    /// The crop's window, nil when the image is resized.
    func box(_ x: Tensor) throws -> (box: CropBox, resized: Bool) {
        let (h, w) = (x.shape[1], x.shape[2])
        if h >= height && w >= width {
            return (CropBox(top: (h - height) / 2, left: (w - width) / 2, height: height, width: width), false)
        }
        return (try smartResizeBox(height: h, width: w, targetHeight: height, targetWidth: width), true)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        return cropped(x, try box(x).box, resizedTo: height, width)
    }

    public var canTrain: Bool { true }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        let (box, resized) = try box(x)
        return TrainingForward(cropped(x, box, resizedTo: height, width), tape: cropTape(resized ? nil : box, x.shape))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        try cropBackward(outputGradient, tape, inputs)
    }
}

/// Keras's `RandomCrop`, whose two versions differ at inference:
/// - Keras 3 passes the input through unchanged (its `transform_images` does nothing when
///   not training, whatever the image size), so later layers see the whole image; in
///   training, an image larger than the target on both sides is cropped at a random offset,
///   one for the batch (uniform in `0...H − h`, `0...W − w`); otherwise the window starts at
///   `smart_resize`'s offsets, `height × width` from there (clipped to the image), resized to
///   the target when that is not its size.
/// - tf.keras 2 `smart_resize`s every image to the target at inference; in training, an
///   image at least as large as the target is cropped at a random offset (one for the
///   batch), a smaller one `smart_resize`d.
public struct RandomCrop: Layer {
    public var name: String
    public var kerasClass: String { "RandomCrop" }
    public var trainable: Bool = true
    public var height: Int
    public var width: Int
    public var kerasMajor: Int

    public init(name: String, height: Int, width: Int, kerasMajor: Int = 3) {
        self.name = name
        self.height = height
        self.width = width
        self.kerasMajor = kerasMajor
    }

    /// At inference Keras 3's output is its input.
    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        try requireImages(shape)
        return kerasMajor >= 3 ? shape : [shape[0], height, width, shape[3]]
    }

    public var isIdentityAtInference: Bool { kerasMajor >= 3 }
    public var usesTrainingFlag: Bool { true }
    public var canTrain: Bool { true }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        if kerasMajor >= 3 { return x }
        let box = try smartResizeBox(height: x.shape[1], width: x.shape[2], targetHeight: height, targetWidth: width)
        return cropped(x, box, resizedTo: height, width)
    }

    /// The training crop of a batch of `imageHeight × imageWidth` images (one for the batch);
    /// `resized` when the window is not the target's size.
    public func drawBox(imageHeight h: Int, imageWidth w: Int, generator: inout SeededGenerator) throws -> (box: CropBox, resized: Bool) {
        let random = kerasMajor >= 3 ? h > height && w > width : h >= height && w >= width
        if random {
            let top = generator.nextInt(below: h - height + 1), left = generator.nextInt(below: w - width + 1)
            return (CropBox(top: top, left: left, height: height, width: width), false)
        }
        let center = try smartResizeBox(height: h, width: w, targetHeight: height, targetWidth: width)
        if kerasMajor < 3 { return (center, true) }
        // Keras 3 slices `height × width` from smart_resize's starts, then resizes what it got.
        let box = CropBox(top: center.top, left: center.left, height: height, width: width)
        let fits = box.top + height <= h && box.left + width <= w
        return (box, !fits)
    }

    /// Keras's `transform_images` in training mode with a given window.
    public func apply(_ box: CropBox, to x: Tensor) throws -> Tensor {
        try requireImages(x.shape.map { $0 })
        guard box.top >= 0, box.left >= 0, box.top < x.shape[1], box.left < x.shape[2], box.height > 0, box.width > 0 else {
            throw LayerError(layer: name, "crop window \(box) lies outside a \(x.shape[1])×\(x.shape[2]) image")
        }
        return cropped(x, box, resizedTo: height, width)
    }

    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        try requireImages(x.shape.map { $0 })
        var (generator, _, _) = augmentationDraws(x, context)
        let (box, resized) = try drawBox(imageHeight: x.shape[1], imageWidth: x.shape[2], generator: &generator)
        return TrainingForward(try apply(box, to: x), tape: cropTape(resized ? nil : box, x.shape))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        try cropBackward(outputGradient, tape, inputs)
    }
}
