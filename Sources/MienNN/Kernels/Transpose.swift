/// Permutes the axes of `input`: output axis `i` is input axis `permutation[i]`
/// (numpy's `transpose`).
func transpose(_ input: Tensor, permutation: [Int]) -> Tensor {
    let rank = input.rank
    precondition(permutation.sorted() == Array(0..<rank))
    if permutation == Array(0..<rank) { return input }
    var inStrides = [Int](repeating: 1, count: rank)
    for axis in stride(from: rank - 2, through: 0, by: -1) {
        inStrides[axis] = inStrides[axis + 1] * input.shape[axis + 1]
    }
    let outShape = permutation.map { input.shape[$0] }
    // Source stride of each output axis.
    let strides = permutation.map { inStrides[$0] }
    var output = Tensor(zeros: outShape)
    guard output.count > 0 else { return output }
    let inner = outShape[rank - 1], innerStride = strides[rank - 1]
    let rows = output.count / inner
    input.scalars.withUnsafeBufferPointer { x in
        output.scalars.withUnsafeMutableBufferPointer { y in
            var index = [Int](repeating: 0, count: rank - 1)
            var offset = 0
            for row in 0..<rows {
                let (xs, ys) = (x.baseAddress! + offset, y.baseAddress! + row * inner)
                for i in 0..<inner { ys[i] = xs[i &* innerStride] }
                var axis = rank - 2
                while axis >= 0 {
                    index[axis] += 1
                    offset += strides[axis]
                    if index[axis] < outShape[axis] { break }
                    offset -= strides[axis] * outShape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
    return output
}
