import CBLAS

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

/// Adds `bias[channel]` to every row of a `[rows × channels]` buffer, then with `clampTo`
/// clamps each value to `0...upper`: bias and ReLU (upper = ∞) or ReLU6 in one pass.
@inline(__always)
func addBias(_ x: UnsafeMutableBufferPointer<Float>, _ bias: [Float], clampTo upper: Float? = nil) {
    let channels = bias.count
    guard channels > 0 else { return }
    bias.withUnsafeBufferPointer { b in
        let b = b.baseAddress!
        var row = x.baseAddress!
        // Row pointers keep `start + c` (and its overflow check) out of the inner loops, so
        // they vectorize.
        for _ in 0..<x.count / channels {
            if let upper {
                for c in 0..<channels { row[c] = min(max(row[c] + b[c], 0), upper) }
            } else {
                for c in 0..<channels { row[c] += b[c] }
            }
            row += channels
        }
    }
}

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
