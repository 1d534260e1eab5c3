import MienCBLAS
import MienCKernels

/// `C[m×n] = A[m×k] · B[k×n] (+ C if accumulate)`, row-major, through OpenBLAS.
@inline(__always)
func gemm(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
          m: Int, n: Int, k: Int, accumulate: Bool = false,
          transposeA: Bool = false, transposeB: Bool = false) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        if !accumulate { c.update(repeating: 0, count: m * n) }
        return
    }
    cblas_sgemm(CblasRowMajor,
                transposeA ? CblasTrans : CblasNoTrans,
                transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), 1,
                a, Int32(transposeA ? m : k),
                b, Int32(transposeB ? k : n),
                accumulate ? 1 : 0,
                c, Int32(n))
}

/// `y = activation(a · w + bias)` for `m` rows of `k` → `n` values (row-major), in blocks of
/// rows small enough (about 256 KB of output) to stay in cache from the bias fill through the
/// product to the activation, so that the output goes to memory once. (A plain sgemm with
/// beta 0 first zero-fills the whole output, and a separate epilogue reads and writes it
/// again: three passes where the tall, thin products of the early layers are memory-bound.)
func gemmBiasActivate(_ a: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                      m: Int, n: Int, k: Int, bias: UnsafePointer<Float>?, activation: Activation) {
    guard m > 0, n > 0 else { return }
    let blockRows = min(m, gemmBlockRows(n: n))
    // The bias repeated for a whole block, so that each block starts with one copy
    // instead of a call per row.
    var biasBlock = [Float]()
    if let bias {
        biasBlock.reserveCapacity(blockRows * n)
        for _ in 0..<blockRows { biasBlock.append(contentsOf: UnsafeBufferPointer(start: bias, count: n)) }
    }
    biasBlock.withUnsafeBufferPointer { biasRows in
        var start = 0
        while start < m {
            let rows = min(blockRows, m - start)
            let out = y + start * n
            // sgemm with beta 1 adds to the bias already in place and skips its zero-fill.
            if bias != nil { out.update(from: biasRows.baseAddress!, count: rows * n) }
            gemm(a + start * k, w, out, m: rows, n: n, k: k, accumulate: bias != nil)
            activation.apply(UnsafeMutableBufferPointer(start: out, count: rows * n), lastAxis: n)
            start += rows
        }
    }
}

/// Rows per block of `gemmBiasActivate`: about 256 KB of output, and at least 128 rows so
/// that each sgemm call still has work for its kernels.
@inline(__always)
func gemmBlockRows(n: Int) -> Int { max(128, (1 << 16) / max(n, 1)) }

/// `sums[c] (+)= Σ_r x[r·channels + c]`: the column sums of a `[rows × channels]` buffer
/// (the bias gradient of a dense layer), accumulated row by row in order.
@inline(__always)
func columnSums(_ x: UnsafeBufferPointer<Float>, channels: Int, into sums: UnsafeMutableBufferPointer<Float>,
                accumulate: Bool = false) {
    precondition(sums.count == channels, "columnSums: \(sums.count) sums for \(channels) channels")
    if !accumulate { for c in 0..<channels { sums[c] = 0 } }
    guard channels > 0 else { return }
    var start = 0
    while start < x.count {
        for c in 0..<channels { sums[c] += x[start + c] }
        start += channels
    }
}

/// `y = activation(a · w + bias)` for `rows` rows of `k` → `n` values, with `w` and the bias
/// packed by `mien_pack_weights` (`KernelAndBiasLayer.packedForProduct`), in calls of at
/// most 2^30 rows (the kernel counts in Int32).
func packedProduct(_ a: UnsafePointer<Float>, _ packed: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                   rows: Int, k: Int, n: Int, activation: Activation) {
    let clamp = activation.clampRange ?? -Float.infinity...Float.infinity
    for start in stride(from: 0, to: rows, by: 1 << 30) {
        mien_gemm_packed(a + start * k, k, Int32(min(1 << 30, rows - start)), Int32(k), packed, Int32(n),
                         clamp.lowerBound, clamp.upperBound, nil, 0, y + start * n, n)
    }
    // Softmax and the other activations that are not a clamp: one pass over the rows after.
    if activation.clampRange == nil { activation.apply(UnsafeMutableBufferPointer(start: y, count: rows * n), lastAxis: n) }
}

extension KernelAndBiasLayer {
    /// The kernel as a `[k, n]` matrix (`n` its last axis: Dense's `[k, n]`, and Conv2D's HWIO
    /// `[kh, kw, c, n]` is `[kh·kw·c, n]` row-major) and the bias, in `mien_pack_weights`'s layout.
    func packedForProduct() -> [Float] {
        let n = kernel.shape.last ?? 0
        let k = n > 0 ? kernel.count / n : 0
        var packed = [Float](repeating: 0, count: mien_packed_weights_size(Int32(k), Int32(n)))
        kernel.scalars.withUnsafeBufferPointer { w in
            withOptionalPointer(bias?.scalars) { b in
                packed.withUnsafeMutableBufferPointer {
                    mien_pack_weights(w.baseAddress, b, Int32(k), Int32(n), $0.baseAddress)
                }
            }
        }
        return packed
    }
}
