import MienCKernels

/// The geometry of a 2-D window op over NHWC input: convolutions and poolings share it.
public struct WindowGeometry: Sendable, Equatable {
    public var batch, height, width, channels: Int
    public var kernelHeight, kernelWidth: Int
    public var strideHeight, strideWidth: Int
    public var dilationHeight, dilationWidth: Int
    public var rows: AxisPadding
    public var cols: AxisPadding

    /// Nil when the window does not fit (`valid` on a too-small input). `inputPadding`,
    /// `((top, bottom), (left, right))`, is zeros added around the input first, as a
    /// ZeroPadding2D before the layer would add them.
    public init?(input: [Int], kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int) = (1, 1),
                 padding: Padding, inputPadding: ((Int, Int), (Int, Int)) = ((0, 0), (0, 0))) {
        precondition(input.count == 4)
        let ((top, bottom), (left, right)) = inputPadding
        guard var rows = resolvePadding(padding, input: input[1] + top + bottom, kernel: kernel.0,
                                        stride: strides.0, dilation: dilation.0),
              var cols = resolvePadding(padding, input: input[2] + left + right, kernel: kernel.1,
                                        stride: strides.1, dilation: dilation.1) else { return nil }
        // Out-of-image taps read zero, so the extra zeros are only more padding.
        (rows.before, rows.after, cols.before, cols.after) =
            (rows.before + top, rows.after + bottom, cols.before + left, cols.after + right)
        (batch, height, width, channels) = (input[0], input[1], input[2], input[3])
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = strides
        (dilationHeight, dilationWidth) = dilation
        self.rows = rows
        self.cols = cols
    }

    public var outputHeight: Int { rows.output }

    public var outputWidth: Int { cols.output }

    /// The same geometry for the C kernels.
    var cWindow: mien_window {
        mien_window(batch: Int32(batch), height: Int32(height), width: Int32(width), channels: Int32(channels),
                    kernel_height: Int32(kernelHeight), kernel_width: Int32(kernelWidth),
                    stride_height: Int32(strideHeight), stride_width: Int32(strideWidth),
                    dilation_height: Int32(dilationHeight), dilation_width: Int32(dilationWidth),
                    pad_top: Int32(rows.before), pad_left: Int32(cols.before),
                    output_height: Int32(outputHeight), output_width: Int32(outputWidth))
    }

    /// Whether the op is a plain per-pixel matrix product (1×1, stride 1, no padding).
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && rows.before == 0 && cols.before == 0
    }
}

/// `activation(convolution + bias)` of NHWC `input` with an HWIO `kernel` (`[kh, kw, C, F]`),
/// by im2col and `cblas_sgemm` on blocks of output pixels, each finished (bias, activation)
/// while it is in cache; or, for inputs of fewer than `directConvolutionMaxChannels`
/// channels, by the direct C kernel. Out-of-image taps read zero.
///
/// `packed` (`mien_pack_weights`'s layout of the kernel as `[kh·kw·C, filters]` and the bias;
/// the activation then a clamp) replaces `cblas_sgemm` in the im2col path by the packed
/// product, which reads the columns in place where sgemm copied both operands every call.
func convolve(_ input: Tensor, kernel: Tensor, geometry g: WindowGeometry,
              bias: Tensor? = nil, activation: Activation = .linear, packed: [Float]? = nil) -> Tensor {
    let filters = kernel.shape[3]
    var output = Tensor(uninitialized: [g.batch, g.outputHeight, g.outputWidth, filters])
    let k = g.kernelHeight * g.kernelWidth * g.channels

    input.scalars.withUnsafeBufferPointer { x in
        kernel.scalars.withUnsafeBufferPointer { w in
            output.scalars.withUnsafeMutableBufferPointer { y in
                withOptionalPointer(bias?.scalars) { b in
                    if !g.isPointwise, convolvesDirectly(channels: g.channels, filters: filters) {
                        var window = g.cWindow
                        let bounds = activation.clampRange ?? -Float.infinity...Float.infinity
                        if filters == 16 || (filters % 8 == 0 && filters >= 32) {
                            mien_conv2d_direct(x.baseAddress, w.baseAddress, b, y.baseAddress, &window, Int32(filters),
                                               bounds.lowerBound, bounds.upperBound)
                        } else {
                            // The kernel's fast paths take 16 and 32 filters (2 and 4 vectors per
                            // pixel, several pixels at once), and others ran one vector of 8 at a
                            // time and the rest one by one: MTCNN's 10 filters at 1.4 GFLOP/s.
                            // Zero filters pad it to 16 (or 32, or a multiple of 8 above), and the
                            // real ones are copied out.
                            let padded = filters < 16 ? 16 : filters < 32 ? 32 : (filters + 7) / 8 * 8
                            let (kernelPadded, biasPadded) = paddedFilters(w, bias: b, filters: filters, to: padded)
                            var wide = [Float](unsafeUninitializedCapacity: y.count / filters * padded) { _, n in
                                n = y.count / filters * padded
                            }
                            kernelPadded.withUnsafeBufferPointer { kp in
                                biasPadded.withUnsafeBufferPointer { bp in
                                    mien_conv2d_direct(x.baseAddress, kp.baseAddress, b == nil ? nil : bp.baseAddress,
                                                       &wide, &window, Int32(padded), bounds.lowerBound, bounds.upperBound)
                                }
                            }
                            wide.withUnsafeBufferPointer { from in
                                for pixel in 0..<(y.count / filters) {
                                    (y.baseAddress! + pixel * filters).update(from: from.baseAddress! + pixel * padded,
                                                                              count: filters)
                                }
                            }
                        }
                        if activation.clampRange == nil { activation.apply(y, lastAxis: filters) }
                        return
                    }
                    if g.isPointwise {
                        // NHWC makes a 1×1 convolution a matrix product with no copy.
                        gemmBiasActivate(x.baseAddress!, w.baseAddress!, y.baseAddress!,
                                         m: g.batch * g.height * g.width, n: filters, k: k,
                                         bias: b, activation: activation)
                        return
                    }
                    let pixels = g.outputHeight * g.outputWidth
                    let blockRows = min(pixels, gemmBlockRows(n: filters))
                    var columns = [Float](repeating: 0, count: blockRows * k)
                    columns.withUnsafeMutableBufferPointer { col in
                        withOptionalPointer(packed) { packed in
                            for n in 0..<g.batch {
                                var start = 0
                                while start < pixels {
                                    let count = min(blockRows, pixels - start)
                                    im2col(x, image: n, geometry: g, firstPixel: start, pixels: count, into: col)
                                    let out = y.baseAddress! + (n * pixels + start) * filters
                                    if let packed {
                                        packedProduct(col.baseAddress!, packed, out, rows: count, k: k, n: filters, activation: activation)
                                    } else {
                                        gemmBiasActivate(col.baseAddress!, w.baseAddress!, out,
                                                         m: count, n: filters, k: k, bias: b, activation: activation)
                                    }
                                    start += count
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

/// A `[..., filters]` kernel and its bias with zero filters added up to `padded`.
private func paddedFilters(_ w: UnsafeBufferPointer<Float>, bias: UnsafePointer<Float>?, filters: Int,
                           to padded: Int) -> (kernel: [Float], bias: [Float]) {
    let taps = w.count / filters
    var kernel = [Float](repeating: 0, count: taps * padded)
    for t in 0..<taps {
        for f in 0..<filters { kernel[t * padded + f] = w[t * filters + f] }
    }
    var b = [Float](repeating: 0, count: padded)
    if let bias { for f in 0..<filters { b[f] = bias[f] } }
    return (kernel, b)
}

/// Whether `convolve` runs a non-pointwise convolution of `channels` inputs into `filters`
/// outputs by the direct kernel, else by im2col and a matrix product.
func convolvesDirectly(channels: Int, filters: Int) -> Bool {
    channels < directConvolutionMaxChannels || (channels <= directSmallFiltersMaxChannels && filters <= 32)
}

/// And inputs with up to this many channels when there are at most 32 filters, which the
/// direct kernel's 32-filter path computes in registers: MTCNN's P-Net (10 → 16 and 16 → 32
/// channels, 3×3) took 3.3 and 5.5 ms at 192×192 through im2col and sgemm, 0.8 and 1.0 ms
/// directly (`mien bench --profile`).
let directSmallFiltersMaxChannels = 16

/// Inputs with fewer channels than this (a stem on RGB or gray pixels) are convolved
/// directly: with K = kh·kw·C of 27, the im2col copy and a thin sgemm ran the Lite0 stem at
/// 14 GFLOP/s (`mien bench --profile`).
let directConvolutionMaxChannels = 8

/// Calls `body` with a pointer to `array`'s elements, or with nil when there is no array.
@inline(__always)
func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Copies the receptive fields of `pixels` output pixels into rows of `col`
/// (`kh·kw·C` values each, in HWIO order), writing zeros for padding.
func im2col(_ x: UnsafeBufferPointer<Float>, image n: Int, geometry g: WindowGeometry,
                    firstPixel: Int, pixels: Int, into col: UnsafeMutableBufferPointer<Float>) {
    let c = g.channels
    let rowLength = g.kernelHeight * g.kernelWidth * c
    let imageBase = n * g.height * g.width * c
    for p in 0..<pixels {
        let oy = (firstPixel + p) / g.outputWidth
        let ox = (firstPixel + p) % g.outputWidth
        var dst = p * rowLength
        let left = ox * g.strideWidth - g.cols.before
        for ky in 0..<g.kernelHeight {
            let iy = oy * g.strideHeight + ky * g.dilationHeight - g.rows.before
            if g.dilationWidth == 1 {
                // A kernel row's taps are adjacent pixels: its part inside the image is one
                // run of memory, copied at once (a loop per tap of 28–64 channels cost MTCNN's
                // R-Net and O-Net a tenth of a frame).
                let row = col.baseAddress! + dst
                let first = iy >= 0 && iy < g.height ? min(max(-left, 0), g.kernelWidth) : g.kernelWidth
                let end = max(first, min(g.kernelWidth, g.width - left))
                if first > 0 { row.update(repeating: 0, count: first * c) }
                if end > first {
                    row.advanced(by: first * c).update(from: x.baseAddress! + imageBase + (iy * g.width + left + first) * c,
                                                       count: (end - first) * c)
                }
                if end < g.kernelWidth { row.advanced(by: end * c).update(repeating: 0, count: (g.kernelWidth - end) * c) }
                dst += g.kernelWidth * c
                continue
            }
            for kx in 0..<g.kernelWidth {
                let ix = left + kx * g.dilationWidth
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

/// `activation(depthwise convolution + bias)` of NHWC `input` with a `[kh, kw, C, M]` kernel:
/// output channel `c·M + m` is channel `c` filtered by `kernel[..., c, m]` (Keras's layout).
///
/// With depth multiplier 1 (MobileNet, EfficientNet) it runs the C kernel, which adds the
/// bias and applies a clamp activation (ReLU, ReLU6) as it stores each result; otherwise
/// the loop below starts each pixel from the bias. Other activations run after, in place.
func depthwiseConvolve(_ input: Tensor, kernel: Tensor, geometry g: WindowGeometry,
                       bias: Tensor? = nil, activation: Activation = .linear) -> Tensor {
    let multiplier = kernel.shape[3]
    let c = g.channels
    let outChannels = c * multiplier
    // Not zero-filled: every output value is assigned.
    var output = Tensor(uninitialized: [g.batch, g.outputHeight, g.outputWidth, outChannels])
    guard output.count > 0 else { return output }
    if multiplier == 1 {
        var window = g.cWindow
        let bounds = activation.clampRange ?? -Float.infinity...Float.infinity
        input.scalars.withUnsafeBufferPointer { x in
            kernel.scalars.withUnsafeBufferPointer { w in
                output.scalars.withUnsafeMutableBufferPointer { y in
                    withOptionalPointer(bias?.scalars) { b in
                        mien_depthwise_conv2d(x.baseAddress, w.baseAddress, b, y.baseAddress,
                                              &window, bounds.lowerBound, bounds.upperBound)
                    }
                    if activation.clampRange == nil { activation.apply(y, lastAxis: outChannels) }
                }
            }
        }
        return output
    }
    input.scalars.withUnsafeBufferPointer { x in
        kernel.scalars.withUnsafeBufferPointer { w in
            output.scalars.withUnsafeMutableBufferPointer { y in
                let bias = bias?.scalars ?? [Float](repeating: 0, count: outChannels)
                for n in 0..<g.batch {
                    for oy in 0..<g.outputHeight {
                        for ox in 0..<g.outputWidth {
                            let ys = y.baseAddress! + ((n * g.outputHeight + oy) * g.outputWidth + ox) * outChannels
                            bias.withUnsafeBufferPointer { ys.update(from: $0.baseAddress!, count: outChannels) }
                            for ky in 0..<g.kernelHeight {
                                let iy = oy * g.strideHeight + ky * g.dilationHeight - g.rows.before
                                guard iy >= 0, iy < g.height else { continue }
                                for kx in 0..<g.kernelWidth {
                                    let ix = ox * g.strideWidth + kx * g.dilationWidth - g.cols.before
                                    guard ix >= 0, ix < g.width else { continue }
                                    let xs = x.baseAddress! + ((n * g.height + iy) * g.width + ix) * c
                                    let ws = w.baseAddress! + (ky * g.kernelWidth + kx) * outChannels
                                    for ch in 0..<c {
                                        let v = xs[ch]
                                        let (yc, wc) = (ys + ch * multiplier, ws + ch * multiplier)
                                        for m in 0..<multiplier { yc[m] += v * wc[m] }
                                    }
                                }
                            }
                        }
                    }
                }
                activation.apply(y, lastAxis: outChannels)
            }
        }
    }
    return output
}
