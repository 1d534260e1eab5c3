/// An element-wise binary op `dst = dst ∘ src`, as used by the merge layers and PReLU.
enum ElementwiseOp: Sendable {
    case copy, add, subtract, multiply, divide, maximum, minimum
    /// `dst > 0 ? dst : src · dst`, with `src` the slopes (PReLU's `alpha`).
    case prelu
}

/// Numpy's broadcast of two shapes of equal rank; nil where a dimension is unknown and
/// not forced by the other. Returns nil (outer) if the shapes do not broadcast.
func broadcastShape(_ a: Shape, _ b: Shape) -> Shape? {
    guard a.count == b.count else { return nil }
    var result: Shape = []
    for (x, y) in zip(a, b) {
        switch (x, y) {
        case let (x?, y?):
            guard x == y || x == 1 || y == 1 else { return nil }
            result.append(x == 1 ? y : x)
        case let (x?, nil): result.append(x == 1 ? nil : x)
        case let (nil, y?): result.append(y == 1 ? nil : y)
        case (nil, nil): result.append(nil)
        }
    }
    return result
}

/// Applies `dst = dst ∘ src` where `src` broadcasts (numpy rules, same rank) to `dst`'s shape.
///
/// Dimensions are first collapsed into runs that are either all broadcast or all contiguous
/// in `src`, so the common cases are a few long inner loops: same shapes are one loop,
/// squeeze-and-excitation's `[N,H,W,C] ∘ [N,1,1,C]` is N·H·W loops over C.
func broadcastApply(_ op: ElementwiseOp, into dst: inout Tensor, _ src: Tensor) {
    let shape = dst.shape
    precondition(src.rank == shape.count
                 && zip(src.shape, shape).allSatisfy { $0 == $1 || $0 == 1 })
    // Contiguous strides of src, zero along broadcast axes.
    var strides = [Int](repeating: 0, count: shape.count)
    var step = 1
    for axis in shape.indices.reversed() {
        strides[axis] = src.shape[axis] == 1 && shape[axis] != 1 ? 0 : step
        step *= src.shape[axis]
    }
    // Collapse, outermost first: drop unit axes; merge an axis into the previous run when
    // the run's stride equals (this size × this stride), which covers both contiguous and
    // broadcast runs.
    var sizes: [Int] = [], runStrides: [Int] = []
    for axis in shape.indices where shape[axis] != 1 {
        if let last = runStrides.last, last == shape[axis] * strides[axis] {
            sizes[sizes.count - 1] *= shape[axis]
            runStrides[runStrides.count - 1] = strides[axis]
        } else {
            sizes.append(shape[axis])
            runStrides.append(strides[axis])
        }
    }
    guard dst.count > 0 else { return }
    let inner = sizes.last ?? 1
    let innerStride = runStrides.last ?? 0   // 0 or 1: the innermost kept axis of src.
    let outer = Array(sizes.dropLast()), outerStrides = Array(runStrides.dropLast())
    let rows = dst.count / inner

    src.scalars.withUnsafeBufferPointer { s in
        dst.scalars.withUnsafeMutableBufferPointer { d in
            guard let sBase = s.baseAddress, let dBase = d.baseAddress else { return }
            var index = [Int](repeating: 0, count: outer.count)
            var offset = 0
            for row in 0..<rows {
                applyRow(op, dBase + row * inner, sBase + offset, count: inner, broadcast: innerStride == 0)
                // Odometer over the outer runs.
                var axis = outer.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    offset += outerStrides[axis]
                    if index[axis] < outer[axis] { break }
                    offset -= outerStrides[axis] * outer[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}

/// One contiguous run of `dst` against either a contiguous run of `src` or its first value.
@inline(__always)
private func applyRow(_ op: ElementwiseOp, _ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>,
                      count n: Int, broadcast: Bool) {
    if broadcast {
        let v = s[0]
        switch op {
        case .copy: d.update(repeating: v, count: n)
        case .add: for i in 0..<n { d[i] += v }
        case .subtract: for i in 0..<n { d[i] -= v }
        case .multiply: for i in 0..<n { d[i] *= v }
        case .divide: for i in 0..<n { d[i] /= v }
        case .maximum: for i in 0..<n { d[i] = max(d[i], v) }
        case .minimum: for i in 0..<n { d[i] = min(d[i], v) }
        case .prelu: for i in 0..<n where !(d[i] > 0) { d[i] *= v }
        }
    } else {
        switch op {
        case .copy: d.update(from: s, count: n)
        case .add: for i in 0..<n { d[i] += s[i] }
        case .subtract: for i in 0..<n { d[i] -= s[i] }
        case .multiply: for i in 0..<n { d[i] *= s[i] }
        case .divide: for i in 0..<n { d[i] /= s[i] }
        case .maximum: for i in 0..<n { d[i] = max(d[i], s[i]) }
        case .minimum: for i in 0..<n { d[i] = min(d[i], s[i]) }
        case .prelu: for i in 0..<n where !(d[i] > 0) { d[i] *= s[i] }
        }
    }
}

/// The sum of `g` over the axes where `shape` (same rank) is 1 and `g`'s is not: the
/// gradient of an input that was broadcast to `g`'s shape.
func reduceBroadcast(_ g: Tensor, to shape: [Int]) -> Tensor {
    precondition(shape.count == g.rank && zip(shape, g.shape).allSatisfy { $0 == $1 || $0 == 1 })
    if shape == g.shape { return g }
    var result = Tensor(zeros: shape)
    // Strides of the result, zero along reduced axes; walk g in order with an odometer.
    var strides = [Int](repeating: 0, count: shape.count)
    var step = 1
    for axis in shape.indices.reversed() {
        strides[axis] = shape[axis] == 1 && g.shape[axis] != 1 ? 0 : step
        step *= shape[axis]
    }
    guard g.count > 0 else { return result }
    var index = [Int](repeating: 0, count: shape.count)
    var offset = 0
    g.scalars.withUnsafeBufferPointer { src in
        result.scalars.withUnsafeMutableBufferPointer { dst in
            let last = shape.count - 1
            let inner = g.shape[last], innerStride = strides[last]
            var i = 0
            while i < src.count {
                for k in 0..<inner { dst[offset + k * innerStride] += src[i + k] }
                i += inner
                // Advance the odometer over the axes before the last.
                var axis = last - 1
                while axis >= 0 {
                    index[axis] += 1
                    offset += strides[axis]
                    if index[axis] < g.shape[axis] { break }
                    offset -= strides[axis] * index[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
    return result
}
