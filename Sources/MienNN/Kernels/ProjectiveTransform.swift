/// How `projectiveTransform` fills the points that fall outside the input; raw values are
/// Keras's `fill_mode` names.
public enum FillMode: String, Sendable, CaseIterable {
    /// `(d c b a | a b c d | d c b a)`: reflected about the edge of the last pixel.
    case reflect
    /// `(a b c d | a b c d | a b c d)`.
    case wrap
    /// `(k k k k | a b c d | k k k k)` with k = `fill_value`.
    case constant
    /// `(a a a a | a b c d | d d d d)`.
    case nearest
}

/// One projective transform `[a0, a1, a2, b0, b1, b2, c0, c1]`: output pixel `(x, y)`
/// (column, row; integer pixel centres) samples the input at
/// `((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)` with `k = c0 x + c1 y + 1`, as
/// TensorFlow's `ImageProjectiveTransformV3` (the transform maps output to input).
public typealias ProjectiveMatrix = [Float]

/// TensorFlow's `ImageProjectiveTransformV3` CPU kernel (tensorflow/core/kernels/image/
/// image_ops.h), which Keras 3's `affine_transform` and tf_keras's `transform` both call:
/// an NHWC batch, one transform per image (or one for all), the output as large as the
/// input. Mirrors the kernel step for step in float32 — the coordinate arithmetic, the fill
/// modes' coordinate maps (scipy's), reads outside the image giving the fill value, `round`
/// (half away from zero) for nearest and the order of the bilinear blend — so the results
/// are TensorFlow 2.21's bit for bit (Tests/MienNNTests/AugmentationTests).
func projectiveTransform(_ input: Tensor, transforms: [ProjectiveMatrix], interpolation: Interpolation,
                         fillMode: FillMode, fillValue: Float) -> Tensor {
    precondition(input.rank == 4, "projectiveTransform: expects NHWC, got \(input.shape)")
    let (batch, height, width, channels) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    precondition(transforms.count == 1 || transforms.count == batch, "one transform per image, or one for all")
    precondition(transforms.allSatisfy { $0.count == 8 }, "a projective transform has 8 values")
    var output = Tensor(zeros: input.shape)
    guard output.count > 0 else { return output }
    let plane = height * width * channels
    input.scalars.withUnsafeBufferPointer { x in
        output.scalars.withUnsafeMutableBufferPointer { y in
            for n in 0..<batch {
                let t = transforms[transforms.count == 1 ? 0 : n]
                let image = x.baseAddress! + n * plane
                // The fill value where a read falls outside the image (only the constant mode
                // and the zero-weight upper taps at the last row or column get there).
                func read(_ row: Int, _ col: Int, _ c: Int) -> Float {
                    (0 <= row && row < height && 0 <= col && col < width) ? image[(row * width + col) * channels + c] : fillValue
                }
                for oy in 0..<height {
                    for ox in 0..<width {
                        let out = y.baseAddress! + n * plane + (oy * width + ox) * channels
                        let (fx, fy) = (Float(ox), Float(oy))
                        let projection = t[6] * fx + t[7] * fy + 1
                        guard projection != 0 else {
                            for c in 0..<channels { out[c] = fillValue }
                            continue
                        }
                        let inX = (t[0] * fx + t[1] * fy + t[2]) / projection
                        let inY = (t[3] * fx + t[4] * fy + t[5]) / projection
                        let sx = mapCoordinate(inX, length: width, fillMode)
                        let sy = mapCoordinate(inY, length: height, fillMode)
                        // Only the constant mode leaves coordinates outside the image; there each
                        // tap outside reads the fill value (TF 2.21 blends partly outside points).
                        // Coordinates no image reaches, and NaN, are the fill value (C++ leaves
                        // their integer conversion undefined).
                        guard abs(sx) < 0x1p40, abs(sy) < 0x1p40 else {
                            for c in 0..<channels { out[c] = fillValue }
                            continue
                        }
                        switch interpolation {
                        case .nearest:
                            let (row, col) = (Int(sy.rounded()), Int(sx.rounded()))
                            for c in 0..<channels { out[c] = read(row, col, c) }
                        case .bilinear:
                            let (yFloor, xFloor) = (sy.rounded(.down), sx.rounded(.down))
                            let (yCeil, xCeil) = (yFloor + 1, xFloor + 1)
                            let (r0, r1, c0, c1) = (Int(yFloor), Int(yCeil), Int(xFloor), Int(xCeil))
                            for c in 0..<channels {
                                // TensorFlow's order of operations, for identical rounding.
                                let top = (xCeil - sx) * read(r0, c0, c) + (sx - xFloor) * read(r0, c1, c)
                                let bottom = (xCeil - sx) * read(r1, c0, c) + (sx - xFloor) * read(r1, c1, c)
                                out[c] = (yCeil - sy) * top + (sy - yFloor) * bottom
                            }
                        }
                    }
                }
            }
        }
    }
    return output
}

/// TensorFlow's `MapCoordinate` for one axis of `length` pixels: an input coordinate outside
/// the image mapped inside by the fill mode (the constant mode leaves it), then clamped to
/// `[0, length − 1]`. The integer truncations are C++'s `static_cast<int64>` of a float.
func mapCoordinate(_ coordinate: Float, length: Int, _ mode: FillMode) -> Float {
    let last = Float(length - 1)
    func clamp(_ v: Float) -> Float { min(max(v, 0), last) }
    var v = coordinate
    switch mode {
    case .constant:
        return v
    case .nearest:
        return clamp(v)
    case .reflect:
        if v < 0 {
            if length <= 1 {
                v = 0
            } else {
                let size2 = 2 * length
                // Always true for a negative v (TensorFlow compares with +2·len, not −2·len).
                if v < Float(size2) { v = Float(size2 * truncated(-v / Float(size2))) + v }
                v = v < Float(-length) ? v + Float(size2) : -v - 1
            }
        } else if v > last {
            if length <= 1 {
                v = 0
            } else {
                let size2 = 2 * length
                v -= Float(size2 * truncated(v / Float(size2)))
                if v >= Float(length) { v = Float(size2) - v - 1 }
            }
        }
        return clamp(v)
    case .wrap:
        if v < 0 {
            if length <= 1 {
                v = 0
            } else {
                let size = length - 1
                v += Float(length * (truncated(-v / Float(size)) + 1))
            }
        } else if v > last {
            if length <= 1 {
                v = 0
            } else {
                let size = length - 1
                v -= Float(length * truncated(v / Float(size)))
            }
        }
        return clamp(v)
    }
}

/// `static_cast<int64>(v)` for the coordinates of sane transforms; NaN and values beyond
/// ±2^40 (no image is that large; C++ leaves them undefined) become 0, so nothing traps.
@inline(__always)
private func truncated(_ v: Float) -> Int {
    abs(v) < 0x1p40 ? Int(v) : 0
}
