/// The geometry of a 2-D window op over NHWC input: convolutions and poolings share it.
public struct WindowGeometry: Sendable, Equatable {
    public var batch, height, width, channels: Int
    public var kernelHeight, kernelWidth: Int
    public var strideHeight, strideWidth: Int
    public var dilationHeight, dilationWidth: Int
    public var rows: AxisPadding
    public var cols: AxisPadding

    /// Nil when the window does not fit (`valid` on a too-small input).
    public init?(input: [Int], kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int) = (1, 1),
                 padding: Padding) {
        precondition(input.count == 4)
        guard let rows = resolvePadding(padding, input: input[1], kernel: kernel.0, stride: strides.0,
                                        dilation: dilation.0),
              let cols = resolvePadding(padding, input: input[2], kernel: kernel.1, stride: strides.1,
                                        dilation: dilation.1) else { return nil }
        (batch, height, width, channels) = (input[0], input[1], input[2], input[3])
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = strides
        (dilationHeight, dilationWidth) = dilation
        self.rows = rows
        self.cols = cols
    }

    public var outputHeight: Int { rows.output }
    public var outputWidth: Int { cols.output }

    /// Whether the op is a plain per-pixel matrix product (1×1, stride 1, no padding).
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && rows.before == 0 && cols.before == 0
    }
}

/// Convolution of NHWC `input` with an HWIO `kernel` (`[kh, kw, C, F]`), by im2col and
/// one `cblas_sgemm` per block of output rows. Out-of-image taps read zero.
func convolve(_ input: Tensor, kernel: Tensor, geometry g: WindowGeometry) -> Tensor {
    let filters = kernel.shape[3]
    let outShape = [g.batch, g.outputHeight, g.outputWidth, filters]
    var output = Tensor(uninitialized: outShape)   // every row is a gemm output (beta 0)
    let k = g.kernelHeight * g.kernelWidth * g.channels

    input.scalars.withUnsafeBufferPointer { x in
        kernel.scalars.withUnsafeBufferPointer { w in
            output.scalars.withUnsafeMutableBufferPointer { y in
                if g.isPointwise {
                    // NHWC makes a 1×1 convolution a single matrix product with no copy.
                    gemm(x.baseAddress!, w.baseAddress!, y.baseAddress!,
                         m: g.batch * g.height * g.width, n: filters, k: k)
                    return
                }
                let pixels = g.outputHeight * g.outputWidth
                // Bound the im2col buffer (~16 MB) by working on blocks of output rows.
                let blockRows = max(1, min(pixels, (1 << 22) / max(k, 1)))
                var columns = [Float](repeating: 0, count: blockRows * k)
                columns.withUnsafeMutableBufferPointer { col in
                    for n in 0..<g.batch {
                        var start = 0
                        while start < pixels {
                            let count = min(blockRows, pixels - start)
                            im2col(x, image: n, geometry: g, firstPixel: start, pixels: count, into: col)
                            gemm(col.baseAddress!, w.baseAddress!,
                                 y.baseAddress! + (n * pixels + start) * filters,
                                 m: count, n: filters, k: k)
                            start += count
                        }
                    }
                }
            }
        }
    }
    return output
}

/// Copies the receptive fields of `pixels` output pixels into rows of `col`
/// (`kh·kw·C` values each, in HWIO order), writing zeros for padding.
private func im2col(_ x: UnsafeBufferPointer<Float>, image n: Int, geometry g: WindowGeometry,
                    firstPixel: Int, pixels: Int, into col: UnsafeMutableBufferPointer<Float>) {
    let c = g.channels
    let rowLength = g.kernelHeight * g.kernelWidth * c
    let imageBase = n * g.height * g.width * c
    for p in 0..<pixels {
        let oy = (firstPixel + p) / g.outputWidth
        let ox = (firstPixel + p) % g.outputWidth
        var dst = p * rowLength
        for ky in 0..<g.kernelHeight {
            let iy = oy * g.strideHeight + ky * g.dilationHeight - g.rows.before
            for kx in 0..<g.kernelWidth {
                let ix = ox * g.strideWidth + kx * g.dilationWidth - g.cols.before
                if iy >= 0, iy < g.height, ix >= 0, ix < g.width {
                    let src = imageBase + (iy * g.width + ix) * c
                    for ch in 0..<c { col[dst + ch] = x[src + ch] }
                } else {
                    for ch in 0..<c { col[dst + ch] = 0 }
                }
                dst += c
            }
        }
    }
}

/// Depthwise convolution of NHWC `input` with a `[kh, kw, C, M]` kernel: output channel
/// `c·M + m` is channel `c` filtered by `kernel[..., c, m]` (Keras's layout).
func depthwiseConvolve(_ input: Tensor, kernel: Tensor, geometry g: WindowGeometry) -> Tensor {
    let multiplier = kernel.shape[3]
    let c = g.channels
    let outChannels = c * multiplier
    // Not zero-filled: each output pixel's first tap assigns instead of adding (one pass
    // over the output less); a pixel with no tap inside the image is zeroed below.
    var output = Tensor(uninitialized: [g.batch, g.outputHeight, g.outputWidth, outChannels])
    guard output.count > 0 else { return output }
    input.scalars.withUnsafeBufferPointer { x in
        kernel.scalars.withUnsafeBufferPointer { w in
            output.scalars.withUnsafeMutableBufferPointer { y in
                for n in 0..<g.batch {
                    for oy in 0..<g.outputHeight {
                        for ox in 0..<g.outputWidth {
                            let dst = ((n * g.outputHeight + oy) * g.outputWidth + ox) * outChannels
                            var first = true
                            defer { if first { (y.baseAddress! + dst).update(repeating: 0, count: outChannels) } }
                            for ky in 0..<g.kernelHeight {
                                let iy = oy * g.strideHeight + ky * g.dilationHeight - g.rows.before
                                guard iy >= 0, iy < g.height else { continue }
                                for kx in 0..<g.kernelWidth {
                                    let ix = ox * g.strideWidth + kx * g.dilationWidth - g.cols.before
                                    guard ix >= 0, ix < g.width else { continue }
                                    // Inner loops run across channels: contiguous in NHWC and in the
                                    // kernel. Row pointers keep index arithmetic (and its overflow
                                    // checks) out of the inner loop so it vectorizes.
                                    let xs = x.baseAddress! + ((n * g.height + iy) * g.width + ix) * c
                                    let ws = w.baseAddress! + (ky * g.kernelWidth + kx) * outChannels
                                    let ys = y.baseAddress! + dst
                                    if multiplier == 1 {
                                        // The common case (MobileNet, EfficientNet): one tap per channel,
                                        // a straight multiply-add with no division.
                                        if first {
                                            for j in 0..<c { ys[j] = xs[j] * ws[j] }
                                        } else {
                                            for j in 0..<c { ys[j] += xs[j] * ws[j] }
                                        }
                                    } else {
                                        if first { ys.update(repeating: 0, count: outChannels) }
                                        for ch in 0..<c {
                                            let v = xs[ch]
                                            let (yc, wc) = (ys + ch * multiplier, ws + ch * multiplier)
                                            for m in 0..<multiplier { yc[m] += v * wc[m] }
                                        }
                                    }
                                    first = false
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return output
}
