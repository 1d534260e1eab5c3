import Foundation
import MienNN

/// Keras's `ImageDataGenerator` augmentation (rotation, shifts, zoom, horizontal flip),
/// applied to a face's 48×48 bytes before the model upsamples it.
///
/// The random draws follow `ImageDataGenerator.get_random_transform`: theta uniform in
/// [-rotation, rotation] degrees; `tx = uniform(-heightShift, heightShift) · height` and
/// `ty = uniform(-widthShift, widthShift) · width` pixels; `zx`, `zy` independently uniform in
/// [1 − zoom, 1 + zoom]; a flip with probability 1/2. The numbers come from a
/// `SeededGenerator`, not numpy, so the views are Keras's transforms but not numpy's draws.
///
/// Keras's naming quirk, kept for fidelity: after `apply_affine_transform` swaps the axes
/// (`M' = PMP`), `tx` (drawn from the *height* range) moves the content along the columns
/// (`out[r][c] = in[r][c + tx]`), `ty` along the rows (`out[r][c] = in[r + ty][c]`), `zx`
/// scales the column coordinate and `zy` the row coordinate. For square faces and equal
/// ranges this makes no difference to the distribution.
public struct Augmentation: Codable, Equatable, Sendable {
    /// Degrees: the angle is uniform in [-rotation, rotation] (`rotation_range`).
    public var rotation: Float
    /// Fraction of the width: uniform in [-w, w] (`width_shift_range`).
    public var widthShift: Float
    /// Fraction of the height: uniform in [-h, h] (`height_shift_range`).
    public var heightShift: Float
    /// `zoom_range` z: zx and zy are uniform in [1 − z, 1 + z], independently, as in Keras.
    public var zoom: Float
    /// Flip left–right with probability 1/2.
    public var horizontalFlip: Bool

    public init(rotation: Float = 0, widthShift: Float = 0, heightShift: Float = 0, zoom: Float = 0,
                horizontalFlip: Bool = false) {
        self.rotation = rotation
        self.widthShift = widthShift
        self.heightShift = heightShift
        self.zoom = zoom
        self.horizontalFlip = horizontalFlip
    }

    /// No augmentation: `apply` returns the face's pixels as floats.
    public static let none = Augmentation()

    /// The usual FER settings: rotation 10°, shifts 0.1, zoom 0.1, horizontal flip.
    public static let standard = Augmentation(rotation: 10, widthShift: 0.1, heightShift: 0.1, zoom: 0.1,
                                              horizontalFlip: true)

    /// True when no parameter is active, so every view is the face itself.
    public var isIdentity: Bool {
        rotation == 0 && widthShift == 0 && heightShift == 0 && zoom == 0 && !horizontalFlip
    }

    /// One draw of the transform's parameters, in Keras's units (degrees and pixels).
    public struct Parameters: Equatable, Sendable {
        public var theta: Float
        public var tx: Float
        public var ty: Float
        public var zx: Float
        public var zy: Float
        public var flip: Bool

        public init(theta: Float = 0, tx: Float = 0, ty: Float = 0, zx: Float = 1, zy: Float = 1, flip: Bool = false) {
            self.theta = theta
            self.tx = tx
            self.ty = ty
            self.zx = zx
            self.zy = zy
            self.flip = flip
        }
    }

    /// Draws the parameters for a `side × side` image in `get_random_transform`'s order
    /// (theta, tx, ty, zx and zy, flip); an inactive parameter draws nothing.
    public func randomParameters(side: Int, generator: inout SeededGenerator) -> Parameters {
        var p = Parameters()
        if rotation != 0 {
            p.theta = Float(generator.uniform(-Double(rotation), Double(rotation)))
        }
        if heightShift != 0 {
            p.tx = Float(generator.uniform(-Double(heightShift), Double(heightShift)) * Double(side))
        }
        if widthShift != 0 {
            p.ty = Float(generator.uniform(-Double(widthShift), Double(widthShift)) * Double(side))
        }
        if zoom != 0 {
            p.zx = Float(generator.uniform(1 - Double(zoom), 1 + Double(zoom)))
            p.zy = Float(generator.uniform(1 - Double(zoom), 1 + Double(zoom)))
        }
        if horizontalFlip {
            p.flip = generator.nextDouble() < 0.5
        }
        return p
    }

    /// One random view of a square face (row-major bytes), as float pixels 0...255;
    /// reproducible from the generator's state.
    public func apply(_ pixels: [UInt8], generator: inout SeededGenerator) -> [Float] {
        let side = Augmentation.side(of: pixels.count)
        let floats = pixels.map(Float.init)
        if isIdentity { return floats }
        let p = randomParameters(side: side, generator: &generator)
        return Augmentation.transform(floats, side: side, parameters: p)
    }

    /// `transform` with drawn parameters.
    public static func transform(_ pixels: [Float], side: Int, parameters p: Parameters) -> [Float] {
        transform(pixels, side: side, theta: p.theta, tx: p.tx, ty: p.ty, zx: p.zx, zy: p.zy, flip: p.flip)
    }

    /// The deterministic transform, exactly Keras's
    /// `apply_affine_transform(x, theta=, tx=, ty=, zx=, zy=, row_axis=0, col_axis=1,
    /// channel_axis=2, fill_mode="nearest", order=1)` followed by an optional left–right flip
    /// (`ImageDataGenerator.apply_transform`'s order).
    ///
    /// Keras builds `M = R(theta) · S(tx, ty) · Z(zx, zy)` (3×3, float64, each factor only
    /// when it is not the identity), centres it (`O · M · O⁻¹` with `o = side/2 − 0.5`),
    /// swaps the two axes and calls `scipy.ndimage.affine_transform`, which maps each output
    /// pixel `(i, j)` to the input point `A · (i, j) + offset`, clamps it to the image
    /// (`nearest`), and samples it with an order-1 spline, i.e. bilinearly. This code does
    /// the same arithmetic in the same order, in `Double`, so its output equals Keras's to
    /// float32 rounding.
    public static func transform(_ pixels: [Float], side: Int, theta: Float, tx: Float, ty: Float,
                                 zx: Float, zy: Float, flip: Bool) -> [Float] {
        precondition(side > 0 && pixels.count == side * side,
                     "Augmentation.transform: \(pixels.count) pixels is not \(side)×\(side)")
        let n = side
        var output: [Float]
        if theta == 0 && tx == 0 && ty == 0 && zx == 1 && zy == 1 {
            output = pixels                    // Keras skips the resampling entirely
        } else {
            let m = kerasMatrix(side: n, theta: Double(theta), tx: Double(tx), ty: Double(ty),
                                zx: Double(zx), zy: Double(zy))
            output = [Float](repeating: 0, count: n * n)
            sample(pixels, into: &output, side: n, matrix: m)
        }
        if flip {
            output.withUnsafeMutableBufferPointer { b in
                for r in 0..<n {
                    var lo = r * n, hi = r * n + n - 1
                    while lo < hi {
                        b.swapAt(lo, hi)
                        lo += 1
                        hi -= 1
                    }
                }
            }
        }
        return output
    }

    /// scipy's `(matrix, offset)` after Keras's axis swap: input row =
    /// `offset.0 + a00·i + a01·j`, input column = `offset.1 + a10·i + a11·j`.
    struct Affine {
        var a00, a01, a10, a11, offset0, offset1: Double
    }

    /// A 3×3 float64 matrix, by rows.
    struct M3 {
        var r0, r1, r2: SIMD3<Double>

        static let identity = M3(r0: [1, 0, 0], r1: [0, 1, 0], r2: [0, 0, 1])

        /// `np.dot(self, b)`: each element `(a[i][0]·b[0][j] + a[i][1]·b[1][j]) + a[i][2]·b[2][j]`.
        func dot(_ b: M3) -> M3 {
            func row(_ a: SIMD3<Double>) -> SIMD3<Double> { a.x * b.r0 + a.y * b.r1 + a.z * b.r2 }
            return M3(r0: row(r0), r1: row(r1), r2: row(r2))
        }
    }

    /// The composition `apply_affine_transform` builds, centred and axis-swapped.
    static func kerasMatrix(side: Int, theta: Double, tx: Double, ty: Double, zx: Double, zy: Double) -> Affine {
        var m: M3? = nil
        func compose(_ next: M3) { m = m.map { $0.dot(next) } ?? next }
        if theta != 0 {
            let t = theta * (Double.pi / 180)          // np.deg2rad
            let (c, s) = (cos(t), sin(t))
            compose(M3(r0: [c, -s, 0], r1: [s, c, 0], r2: [0, 0, 1]))
        }
        if tx != 0 || ty != 0 {
            compose(M3(r0: [1, 0, tx], r1: [0, 1, ty], r2: [0, 0, 1]))
        }
        if zx != 1 || zy != 1 {
            compose(M3(r0: [zx, 0, 0], r1: [0, zy, 0], r2: [0, 0, 1]))
        }
        // transform_matrix_offset_center(m, h, w): o_x = h/2 − 0.5, o_y = w/2 − 0.5.
        let o = Double(side) / 2 - 0.5
        let offset = M3(r0: [1, 0, o], r1: [0, 1, o], r2: [0, 0, 1])
        let reset = M3(r0: [1, 0, -o], r1: [0, 1, -o], r2: [0, 0, 1])
        let centred = offset.dot(m ?? .identity).dot(reset)
        // col_axis > row_axis: swap columns 0 and 1, then rows 0 and 1.
        return Affine(a00: centred.r1.y, a01: centred.r1.x, a10: centred.r0.y, a11: centred.r0.x,
                      offset0: centred.r1.z, offset1: centred.r0.z)
    }

    /// scipy's NI_GeometricTransform for order 1, mode `nearest`, one 2-D channel.
    private static func sample(_ input: [Float], into output: inout [Float], side n: Int, matrix m: Affine) {
        let last = Double(n - 1)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                for i in 0..<n {
                    // scipy: t = shift; t += coord0 * m[.,0]; t += coord1 * m[.,1].
                    let rowBase = m.offset0 + Double(i) * m.a00
                    let colBase = m.offset1 + Double(i) * m.a10
                    for j in 0..<n {
                        var r = rowBase + Double(j) * m.a01
                        var c = colBase + Double(j) * m.a11
                        // map_coordinate, mode nearest: clamp to [0, len − 1].
                        r = r < 0 ? 0 : (r > last ? last : r)
                        c = c < 0 ? 0 : (c > last ? last : c)
                        let r0 = Int(r), c0 = Int(c)              // floor: r, c >= 0
                        let rf = Double(r0), cf = Double(c0)
                        let r1 = r0 + 1 < n ? r0 + 1 : n - 1
                        let c1 = c0 + 1 < n ? c0 + 1 : n - 1
                        // get_spline_interpolation_weights(order 1): w0 = 1 − t, w1 = 1 − w0.
                        let wr0 = 1 - (r - rf), wc0 = 1 - (c - cf)
                        let wr1 = 1 - wr0, wc1 = 1 - wc0
                        var t = 0.0
                        t += Double(x[r0 * n + c0]) * wr0 * wc0
                        t += Double(x[r0 * n + c1]) * wr0 * wc1
                        t += Double(x[r1 * n + c0]) * wr1 * wc0
                        t += Double(x[r1 * n + c1]) * wr1 * wc1
                        y[i * n + j] = Float(t)
                    }
                }
            }
        }
    }

    /// The side of a square image of `count` pixels.
    static func side(of count: Int) -> Int {
        let side = Int(Double(count).squareRoot().rounded())
        precondition(side * side == count && count > 0, "Augmentation: \(count) pixels is not a square image")
        return side
    }
}
