/// How `Resizing` and `UpSampling2D` sample the input; raw values are Keras's names.
public enum Interpolation: String, Sendable {
    case nearest, bilinear
}

/// `tf.image.resize` (TF2, resize v2: half-pixel centres, no antialias, no corner
/// alignment) of an NHWC batch to `height × width`.
///
/// Mirrors TensorFlow's CPU kernels step for step, in float32, so the results are
/// bit-identical. Verified against TensorFlow 2.21 (`tf.image.resize`, Keras 3 and tf_keras
/// `Resizing`/`UpSampling2D`) on 300 random size pairs (1–19 → 1–39, up and down, odd and
/// even): both methods matched exactly.
/// - bilinear: `src = (dst + 0.5) · (in / out) − 0.5`; lower = max(floor(src), 0),
///   upper = min(ceil(src), in − 1), lerp = src − floor(src), blended as
///   `top = tl + (tr − tl)·fx`, `bottom = bl + (br − bl)·fx`, `top + (bottom − top)·fy`.
///   (The same as clamping `src` at 0 and taking upper = min(floor + 1, in − 1).)
/// - nearest: `src = min(floor((dst + 0.5) · (in / out)), in − 1)` (no −0.5).
func resize(_ input: Tensor, height: Int, width: Int, interpolation: Interpolation) -> Tensor {
    precondition(input.rank == 4 && height > 0 && width > 0)
    let (inH, inW) = (input.shape[1], input.shape[2])
    switch interpolation {
    case .nearest:
        return gatherPixels(input, rows: nearestIndices(output: height, input: inH),
                            cols: nearestIndices(output: width, input: inW))
    case .bilinear:
        return bilinear(input, rows: bilinearTaps(output: height, input: inH),
                        cols: bilinearTaps(output: width, input: inW))
    }
}

/// `UpSampling2D`'s nearest mode: every pixel repeated `size` times (Keras uses
/// `repeat`, not a resize).
func repeatPixels(_ input: Tensor, size: (Int, Int)) -> Tensor {
    precondition(input.rank == 4 && size.0 > 0 && size.1 > 0)
    return gatherPixels(input, rows: (0..<input.shape[1] * size.0).map { $0 / size.0 },
                        cols: (0..<input.shape[2] * size.1).map { $0 / size.1 })
}

/// TensorFlow's half-pixel nearest-neighbour source indices, computed in float32 as TF does.
private func nearestIndices(output: Int, input: Int) -> [Int] {
    let scale = Float(input) / Float(output)
    return (0..<output).map { d in
        max(0, min(Int(((Float(d) + 0.5) * scale).rounded(.down)), input - 1))
    }
}

/// One output coordinate of bilinear resizing: the two source indices and the weight of the upper.
private struct BilinearTap {
    var lower: Int
    var upper: Int
    var lerp: Float
}

private func bilinearTaps(output: Int, input: Int) -> [BilinearTap] {
    let scale = Float(input) / Float(output)
    return (0..<output).map { d in
        let src = (Float(d) + 0.5) * scale - 0.5
        let floor = src.rounded(.down)
        let upper = min(Int(src.rounded(.up)), input - 1)
        return BilinearTap(lower: min(max(Int(floor), 0), upper), upper: upper, lerp: src - floor)
    }
}

/// Output pixel `(y, x)` is input pixel `(rows[y], cols[x])`: whole channel runs are copied.
private func gatherPixels(_ input: Tensor, rows: [Int], cols: [Int]) -> Tensor {
    let (batch, inH, inW, c) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (outH, outW) = (rows.count, cols.count)
    var output = Tensor(zeros: [batch, outH, outW, c])
    input.scalars.withUnsafeBufferPointer { x in
        output.scalars.withUnsafeMutableBufferPointer { y in
            guard let src = x.baseAddress, let dst = y.baseAddress else { return }
            for n in 0..<batch {
                for oy in 0..<outH {
                    let srcRow = src + (n * inH + rows[oy]) * inW * c
                    let dstRow = dst + (n * outH + oy) * outW * c
                    for ox in 0..<outW {
                        (dstRow + ox * c).update(from: srcRow + cols[ox] * c, count: c)
                    }
                }
            }
        }
    }
    return output
}

/// Blends each input row an output row reads along x once, into one of two rows kept (the
/// rows read only move down), and each output row from two of them along y: TensorFlow's
/// compute_lerp in the same order (top and bottom blended along x first), so the same
/// rounding, with the x blend done once per input row rather than once per output row
/// (upsampling a 48×48 face to 224×224 blended each input row 4.7 times).
private func bilinear(_ input: Tensor, rows: [BilinearTap], cols: [BilinearTap]) -> Tensor {
    let (batch, inH, inW, c) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (outH, outW) = (rows.count, cols.count)
    var output = Tensor(zeros: [batch, outH, outW, c])
    guard output.count > 0 else { return output }
    let width = outW * c
    var kept = [Float](repeating: 0, count: 2 * width)
    input.scalars.withUnsafeBufferPointer { x in
        output.scalars.withUnsafeMutableBufferPointer { y in
            kept.withUnsafeMutableBufferPointer { k in
                let slots = [k.baseAddress!, k.baseAddress! + width]
                for n in 0..<batch {
                    var held = [-1, -1]
                    // The slot holding input row `r` blended along x, filled unless held; never `keep`'s.
                    func blended(_ r: Int, keep: Int) -> UnsafeMutablePointer<Float> {
                        if let slot = held.firstIndex(of: r) { return slots[slot] }
                        let slot = held[0] == keep ? 1 : 0
                        held[slot] = r
                        let src = x.baseAddress! + (n * inH + r) * inW * c, row = slots[slot]
                        for ox in 0..<outW {
                            let q = cols[ox]
                            let (l, u, fx) = (src + q.lower * c, src + q.upper * c, q.lerp)
                            for ch in 0..<c { row[ox * c + ch] = l[ch] + (u[ch] - l[ch]) * fx }
                        }
                        return row
                    }
                    for oy in 0..<outH {
                        let r = rows[oy]
                        let top = blended(r.lower, keep: r.upper)
                        let bottom = blended(r.upper, keep: r.lower)
                        let fy = r.lerp
                        let dst = y.baseAddress! + (n * outH + oy) * width
                        for i in 0..<width { dst[i] = top[i] + (bottom[i] - top[i]) * fy }
                    }
                }
            }
        }
    }
    return output
}
