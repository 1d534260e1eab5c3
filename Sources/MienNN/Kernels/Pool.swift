import MienCKernels

extension WindowGeometry {
    /// The input rows `y0..<y1` under output row `oy`'s window, padding left out.
    @inline(__always)
    func rowSpan(_ oy: Int) -> (Int, Int) {
        let top = oy * strideHeight - rows.before
        return (max(top, 0), min(top + kernelHeight, height))
    }

    /// The input columns `x0..<x1` under output column `ox`'s window, padding left out.
    @inline(__always)
    func colSpan(_ ox: Int) -> (Int, Int) {
        let left = ox * strideWidth - cols.before
        return (max(left, 0), min(left + kernelWidth, width))
    }
}

/// 2-D max or average pooling of an NHWC batch over the windows of `g` (the C kernel
/// `mien_pool2d`).
///
/// Padded cells take no part, as in TensorFlow: max ignores them and the average divides
/// by the number of real cells under the window. Sums run in the window's raster order
/// and are divided at the end, as TensorFlow's CPU kernel does; verified bit-identical to
/// Keras 3's `AveragePooling2D`/`MaxPooling2D` on 60 random shapes, strides and paddings.
func pool(_ input: Tensor, geometry g: WindowGeometry, average: Bool) -> Tensor {
    var output = Tensor(zeros: [g.batch, g.outputHeight, g.outputWidth, g.channels])
    guard output.count > 0 else { return output }
    var window = g.cWindow
    input.scalars.withUnsafeBufferPointer { x in
        output.scalars.withUnsafeMutableBufferPointer { y in
            mien_pool2d(x.baseAddress, y.baseAddress, &window, average ? 1 : 0)
        }
    }
    return output
}

/// Global max or average over the spatial axes of an NHWC batch: `[N, C]`.
func globalPool(_ input: Tensor, average: Bool) -> Tensor {
    let (batch, pixels, c) = (input.shape[0], input.shape[1] * input.shape[2], input.shape[3])
    var output = Tensor(shape: [batch, c], repeating: average ? 0 : -.infinity)
    guard output.count > 0, pixels > 0 else {
        // reduce_mean over nothing is NaN; reduce_max is -inf.
        return average ? Tensor(shape: [batch, c], repeating: .nan) : output
    }
    input.scalars.withUnsafeBufferPointer { x in
        output.scalars.withUnsafeMutableBufferPointer { y in
            for n in 0..<batch {
                let ys = y.baseAddress! + n * c
                for p in 0..<pixels {
                    let xs = x.baseAddress! + (n * pixels + p) * c
                    if average {
                        for ch in 0..<c { ys[ch] += xs[ch] }
                    } else {
                        for ch in 0..<c { ys[ch] = max(ys[ch], xs[ch]) }
                    }
                }
                if average {
                    // reduce_mean divides the sum by the count.
                    let count = Float(pixels)
                    for ch in 0..<c { ys[ch] /= count }
                }
            }
        }
    }
    return output
}

/// The gradient of `pool` with respect to its input, given the output gradient `dy`: an
/// average spreads each output's gradient evenly over the real cells of its window; a
/// maximum routes it to the window's first cell (raster order) holding the maximum, as
/// TensorFlow's `MaxPoolGrad` does (`output` is the forward's).
func poolBackward(_ dy: Tensor, input: Tensor?, output: Tensor?, geometry g: WindowGeometry,
                  average: Bool) -> Tensor {
    let c = g.channels
    var dx = Tensor(zeros: [g.batch, g.height, g.width, c])
    guard dy.count > 0 else { return dx }
    let empty: [Float] = []
    (input?.scalars ?? empty).withUnsafeBufferPointer { x in
        (output?.scalars ?? empty).withUnsafeBufferPointer { y in
            dy.scalars.withUnsafeBufferPointer { d in
                dx.scalars.withUnsafeMutableBufferPointer { dxs in
                    for n in 0..<g.batch {
                        for oy in 0..<g.outputHeight {
                            let (y0, y1) = g.rowSpan(oy)
                            for ox in 0..<g.outputWidth {
                                let (x0, x1) = g.colSpan(ox)
                                let out = ((n * g.outputHeight + oy) * g.outputWidth + ox) * c
                                if average {
                                    let count = Float((y1 - y0) * (x1 - x0))
                                    for iy in y0..<y1 {
                                        for ix in x0..<x1 {
                                            let at = ((n * g.height + iy) * g.width + ix) * c
                                            for ch in 0..<c { dxs[at + ch] += d[out + ch] / count }
                                        }
                                    }
                                    continue
                                }
                                for ch in 0..<c {
                                    let target = y[out + ch]
                                    search: for iy in y0..<y1 {
                                        for ix in x0..<x1 {
                                            let at = ((n * g.height + iy) * g.width + ix) * c + ch
                                            if x[at] == target {
                                                dxs[at] += d[out + ch]
                                                break search
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
    return dx
}

/// The gradient of `globalPool` over an input of `inputShape` (NHWC): `dy` is `[N, C]`.
/// Without `input` (the average) it is spread over the `H·W` pixels; with `input` and
/// `output` (the maximum) it goes to the first pixel holding the maximum.
func globalPoolBackward(_ dy: Tensor, inputShape: [Int], input: Tensor?, output: Tensor?) -> Tensor {
    let (batch, pixels, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
    var dx = Tensor(zeros: inputShape)
    guard pixels > 0 else { return dx }
    dy.scalars.withUnsafeBufferPointer { d in
        dx.scalars.withUnsafeMutableBufferPointer { dxs in
            for n in 0..<batch {
                for ch in 0..<c {
                    let grad = d[n * c + ch]
                    if let input, let output {
                        let target = output.scalars[n * c + ch]
                        for p in 0..<pixels where input.scalars[(n * pixels + p) * c + ch] == target {
                            dxs[(n * pixels + p) * c + ch] = grad
                            break
                        }
                    } else {
                        let share = grad / Float(pixels)
                        for p in 0..<pixels { dxs[(n * pixels + p) * c + ch] = share }
                    }
                }
            }
        }
    }
    return dx
}
