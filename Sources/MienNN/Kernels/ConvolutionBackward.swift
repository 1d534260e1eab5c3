import MienCKernels
import Dispatch
/// The gradients of `convolve` (before its bias and activation): given `dz`, the gradient
/// of the convolution's output `[N, OH, OW, F]`, the kernel's `Σ im2col(x)ᵀ · dz` and the
/// input's `col2im(dz · kernelᵀ)`, block by block of output pixels as the forward runs.
func convolutionBackward(_ dz: Tensor, input: Tensor, kernel: Tensor, geometry g: WindowGeometry,
                         inputGradient: Bool, kernelGradient: Bool) -> (input: Tensor?, kernel: Tensor?) {
    let filters = kernel.shape[3]
    let k = g.kernelHeight * g.kernelWidth * g.channels
    let pixels = g.outputHeight * g.outputWidth
    var dKernel: Tensor? = kernelGradient ? Tensor(zeros: kernel.shape) : nil
    var dInput: Tensor? = inputGradient ? Tensor(zeros: input.shape) : nil
    guard pixels > 0, k > 0, filters > 0, g.batch > 0 else { return (dInput, dKernel) }
    if g.isPointwise {
        // A 1×1 convolution is one matrix product over every pixel of the batch: no
        // im2col, and products large enough for OpenBLAS's threads.
        let rows = g.batch * pixels
        input.scalars.withUnsafeBufferPointer { x in
            dz.scalars.withUnsafeBufferPointer { d in
                if dKernel != nil {
                    dKernel!.scalars.withUnsafeMutableBufferPointer { dw in
                        gemm(x.baseAddress!, d.baseAddress!, dw.baseAddress!, m: k, n: filters, k: rows, transposeA: true)
                    }
                }
                if dInput != nil {
                    kernel.scalars.withUnsafeBufferPointer { w in
                        dInput!.scalars.withUnsafeMutableBufferPointer { dx in
                            gemm(d.baseAddress!, w.baseAddress!, dx.baseAddress!, m: rows, n: k, k: filters, transposeB: true)
                        }
                    }
                }
            }
        }
        return (dInput, dKernel)
    }
    let blockRows = min(pixels, gemmBlockRows(n: max(filters, k)))
    var columns = [Float](repeating: 0, count: blockRows * k)
    input.scalars.withUnsafeBufferPointer { x in
        kernel.scalars.withUnsafeBufferPointer { w in
            dz.scalars.withUnsafeBufferPointer { d in
                columns.withUnsafeMutableBufferPointer { col in
                    for n in 0..<g.batch {
                        var start = 0
                        while start < pixels {
                            let count = min(blockRows, pixels - start)
                            let dzBlock = d.baseAddress! + (n * pixels + start) * filters
                            if dKernel != nil {
                                // dKernel[k × F] += colᵀ[k × count] · dz[count × F]
                                im2col(x, image: n, geometry: g, firstPixel: start, pixels: count, into: col)
                                dKernel!.scalars.withUnsafeMutableBufferPointer { dw in
                                    gemm(col.baseAddress!, dzBlock, dw.baseAddress!, m: k, n: filters, k: count,
                                         accumulate: true, transposeA: true)
                                }
                            }
                            if dInput != nil {
                                // col[count × k] = dz[count × F] · kernelᵀ[F × k], then scattered back.
                                gemm(dzBlock, w.baseAddress!, col.baseAddress!, m: count, n: k, k: filters,
                                     transposeB: true)
                                dInput!.scalars.withUnsafeMutableBufferPointer { dx in
                                    col2im(col, image: n, geometry: g, firstPixel: start, pixels: count, into: dx)
                                }
                            }
                            start += count
                        }
                    }
                }
            }
        }
    }
    return (dInput, dKernel)
}

/// The adjoint of `im2col`: adds each row of `col` (one output pixel's receptive field,
/// `kh·kw·C` values in HWIO order) back onto the input cells it was copied from; padding
/// taps are dropped.
func col2im(_ col: UnsafeMutableBufferPointer<Float>, image n: Int, geometry g: WindowGeometry,
            firstPixel: Int, pixels: Int, into dx: UnsafeMutableBufferPointer<Float>) {
    let c = g.channels
    let rowLength = g.kernelHeight * g.kernelWidth * c
    let imageBase = n * g.height * g.width * c
    for p in 0..<pixels {
        let oy = (firstPixel + p) / g.outputWidth
        let ox = (firstPixel + p) % g.outputWidth
        var src = p * rowLength
        for ky in 0..<g.kernelHeight {
            let iy = oy * g.strideHeight + ky * g.dilationHeight - g.rows.before
            for kx in 0..<g.kernelWidth {
                let ix = ox * g.strideWidth + kx * g.dilationWidth - g.cols.before
                if iy >= 0, iy < g.height, ix >= 0, ix < g.width {
                    let dst = imageBase + (iy * g.width + ix) * c
                    for ch in 0..<c { dx[dst + ch] += col[src + ch] }
                }
                src += c
            }
        }
    }
}

/// Σ over rows of a `[rows, channels]` gradient: a bias's gradient.
func biasGradient(_ dz: Tensor, channels: Int) -> Tensor {
    var db = Tensor(zeros: [channels])
    dz.scalars.withUnsafeBufferPointer { d in
        db.scalars.withUnsafeMutableBufferPointer { out in columnSums(d, channels: channels, into: out) }
    }
    return db
}

/// The gradients of `depthwiseConvolve` (before its bias and activation) given `dz`
/// (`[N, OH, OW, C·M]`): each tap adds `dz · kernel` to the input cell it read, and
/// `dz · x` to its kernel weight.
func depthwiseConvolutionBackward(_ dz: Tensor, input: Tensor, kernel: Tensor, geometry g: WindowGeometry,
                                  inputGradient: Bool, kernelGradient: Bool) -> (input: Tensor?, kernel: Tensor?) {
    let multiplier = kernel.shape[3]
    let c = g.channels
    let outChannels = c * multiplier
    var dKernel = Tensor(zeros: kernelGradient ? kernel.shape : [0])
    var dInput = Tensor(zeros: inputGradient ? input.shape : [0])
    // Images are independent: one slice of them per core, each with its own kernel-gradient
    // sum (added up at the end), so no two threads write the same value.
    let slices = max(1, min(BatchRunner.cores, g.batch))
    let partials = PartialSums(count: slices, size: kernelGradient ? kernel.count : 0)
    input.scalars.withUnsafeBufferPointer { x in
        kernel.scalars.withUnsafeBufferPointer { w in
            dz.scalars.withUnsafeBufferPointer { d in
                dInput.scalars.withUnsafeMutableBufferPointer { dxAll in
                    let p = KernelPointers(x: x.baseAddress!, w: w.baseAddress!, d: d.baseAddress!, dx: dxAll.baseAddress)
                    DispatchQueue.concurrentPerform(iterations: slices) { s in
                        let (x, w, d, dxBase) = (p.x, p.w, p.d, p.dx)
                        let dw = partials.buffer(s)
                        let (first, last) = (s * g.batch / slices, (s + 1) * g.batch / slices)
                        if multiplier == 1 {
                            // The C kernel, vectorized over the contiguous channels.
                            var window = g.cWindow
                            mien_depthwise_conv2d_backward(x, w, d, dxBase, dw, &window, Int32(first), Int32(last))
                            return
                        }
                        for n in first..<last {
                            for oy in 0..<g.outputHeight {
                                for ox in 0..<g.outputWidth {
                                    let dp = d + ((n * g.outputHeight + oy) * g.outputWidth + ox) * outChannels
                                    for ky in 0..<g.kernelHeight {
                                        let iy = oy * g.strideHeight + ky * g.dilationHeight - g.rows.before
                                        guard iy >= 0, iy < g.height else { continue }
                                        for kx in 0..<g.kernelWidth {
                                            let ix = ox * g.strideWidth + kx * g.dilationWidth - g.cols.before
                                            guard ix >= 0, ix < g.width else { continue }
                                            let xs = ((n * g.height + iy) * g.width + ix) * c
                                            let ws = (ky * g.kernelWidth + kx) * outChannels
                                            for ch in 0..<c {
                                                for m in 0..<multiplier {
                                                    let o = ch * multiplier + m
                                                    if let dxBase { dxBase[xs + ch] += dp[o] * w[ws + o] }
                                                    if let dw { dw[ws + o] += dp[o] * x[xs + ch] }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if kernelGradient { partials.sum(into: &dKernel.scalars) }
    return (inputGradient ? dInput : nil, kernelGradient ? dKernel : nil)
}

/// The buffers a parallel kernel reads and writes; each thread writes its own part.
struct KernelPointers: @unchecked Sendable {
    let x, w, d: UnsafePointer<Float>
    let dx: UnsafeMutablePointer<Float>?
}

/// One sum per thread, added up at the end: how a gradient accumulated over a batch split
/// across cores stays free of races.
final class PartialSums: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Float>?
    private let count: Int
    private let size: Int

    init(count: Int, size: Int) {
        self.count = count
        self.size = size
        if size > 0 {
            storage = .allocate(capacity: count * size)
            storage!.initialize(repeating: 0, count: count * size)
        } else {
            storage = nil
        }
    }

    deinit { storage?.deallocate() }

    /// Slice `i`'s sum; nil when nothing is summed.
    func buffer(_ i: Int) -> UnsafeMutablePointer<Float>? { storage.map { $0 + i * size } }

    func sum(into total: inout [Float]) {
        guard let storage else { return }
        total.withUnsafeMutableBufferPointer { t in
            for s in 0..<count {
                for i in 0..<size { t[i] += storage[s * size + i] }
            }
        }
    }
}
