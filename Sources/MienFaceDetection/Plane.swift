import MienCKernels
import MienImages

/// An RGB image as MTCNN's networks read it: they take `(p − 127.5) / 128`. The pixels stay
/// bytes: that map is affine and the resizes average (their weights sum to 1), so it is
/// applied to each result instead, and every pyramid level reads a quarter of the memory
/// a float copy would take (the levels were bound by memory bandwidth).
struct Plane {
    var width: Int
    var height: Int
    /// RGB, row-major, HWC.
    var pixels: [UInt8]

    static let channels = 3

    /// A gray image is replicated to three channels, as `mtcnn` decodes with `channels=3`.
    init(_ image: Image) {
        width = image.width
        height = image.height
        pixels = image.rgb().pixels
    }

    init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A pixel value as the networks take it; × 1/128 is exactly ÷ 128 (a power of two).
    @inline(__always)
    static func normalized(_ v: Float) -> Float { (v - 127.5) * (1 / 128) }

    /// The image resized by TensorFlow's `AREA` method (`tf.image.resize(method="area")`,
    /// what `mtcnn` builds its pyramid with): each output pixel is the mean of the input
    /// area it covers, partly covered pixels weighted by the part; normalized, HWC.
    func areaResized(width outWidth: Int, height outHeight: Int) -> [Float] {
        let rows = AreaTaps(input: height, output: outHeight)
        let cols = AreaTaps(input: width, output: outWidth)
        let c = Self.channels
        // The vertical pass first: it runs over whole rows (a loop that vectorizes) and leaves
        // the horizontal one only the output's rows.
        let rowLength = width * c
        let norm = Float(outHeight) * Float(outWidth) / (Float(height) * Float(width))
        var down = [Float](repeating: 0, count: outHeight * rowLength)
        pixels.withUnsafeBufferPointer { x in
            down.withUnsafeMutableBufferPointer { d in
                for i in 0..<outHeight {
                    let output = d.baseAddress! + i * rowLength
                    var input = x.baseAddress! + rows.start[i] * rowLength
                    for k in rows.first[i]..<rows.first[i + 1] {
                        mien_accumulate_bytes(output, input, rowLength, rows.weights[k] * norm)
                        input += rowLength
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: outHeight * outWidth * c)
        down.withUnsafeBufferPointer { d in
            out.withUnsafeMutableBufferPointer { o in
                cols.weights.withUnsafeBufferPointer { weights in
                    for row in 0..<outHeight {
                        let input = d.baseAddress! + row * rowLength, output = o.baseAddress! + row * outWidth * c
                        for j in 0..<outWidth {
                            var (r, g, b): (Float, Float, Float) = (0, 0, 0)
                            var p = input + cols.start[j] * c
                            for k in cols.first[j]..<cols.first[j + 1] {
                                let w = weights[k]
                                r += p[0] * w
                                g += p[1] * w
                                b += p[2] * w
                                p += c
                            }
                            output[j * c] = Self.normalized(r)
                            output[j * c + 1] = Self.normalized(g)
                            output[j * c + 2] = Self.normalized(b)
                        }
                    }
                }
            }
        }
        return out
    }

    /// For each output index o: the first input index it covers (`start[o]`) and the covered
    /// part of each input index from there (`weights[first[o]..<first[o + 1]]`).
    private struct AreaTaps {
        var start: [Int] = [], first: [Int] = [0], weights: [Float] = []

        init(input: Int, output: Int) {
            let scale = Float(input) / Float(output)
            for o in 0..<output {
                let lo = Float(o) * scale, hi = Float(o + 1) * scale
                let begin = Int(lo.rounded(.down)), end = max(Int(hi.rounded(.up)), begin + 1)
                start.append(begin)
                for i in begin..<end {
                    let part = min(Float(i + 1), hi) - max(Float(i), lo)
                    // TensorFlow clamps indices past the edge to the last pixel.
                    if i >= input { weights[weights.count - 1] += part } else { weights.append(part) }
                }
                first.append(weights.count)
            }
        }
    }

    /// The box's pixels resized to `size`×`size` as `mtcnn` crops them with
    /// `tf.image.crop_and_resize` (bilinear; the corners are the first and last samples;
    /// samples outside the image are 0), written to `out` (`size · size · 3` floats). `mtcnn`
    /// divides the corners by the image's size where `crop_and_resize` maps 0…1 to
    /// 0…size − 1, so its samples sit at (size − 1) / size of each coordinate; the networks'
    /// scores are compared with its, so the crop is the same. Normalized, as the networks
    /// take it; samples outside are 0 after normalizing, as `mtcnn` crops a normalized image.
    func crop(x1 left: Float, y1 top: Float, x2 right: Float, y2 bottom: Float, size: Int,
              into out: UnsafeMutablePointer<Float>) {
        let sx = Float(width - 1) / Float(width), sy = Float(height - 1) / Float(height)
        let (x1, x2, y1, y2) = (left * sx, right * sx, top * sy, bottom * sy)
        let c = Self.channels
        let step = size > 1 ? 1 / Float(size - 1) : 0
        let maxX = Float(width - 1), maxY = Float(height - 1)
        pixels.withUnsafeBufferPointer { x in
            for i in 0..<size {
                let inY = size > 1 ? y1 + Float(i) * (y2 - y1) * step : (y1 + y2) / 2
                let row = out + i * size * c
                guard inY >= 0, inY <= maxY else {
                    row.update(repeating: 0, count: size * c)
                    continue
                }
                let top = Int(inY.rounded(.down)), bottom = Int(inY.rounded(.up))
                let dy = inY - Float(top)
                for j in 0..<size {
                    let inX = size > 1 ? x1 + Float(j) * (x2 - x1) * step : (x1 + x2) / 2
                    guard inX >= 0, inX <= maxX else {
                        for k in 0..<c { row[j * c + k] = 0 }
                        continue
                    }
                    let left = Int(inX.rounded(.down)), right = Int(inX.rounded(.up))
                    let dx = inX - Float(left)
                    for k in 0..<c {
                        let tl = Float(x[(top * width + left) * c + k]), tr = Float(x[(top * width + right) * c + k])
                        let bl = Float(x[(bottom * width + left) * c + k]), br = Float(x[(bottom * width + right) * c + k])
                        let t = tl + (tr - tl) * dx, b = bl + (br - bl) * dx
                        row[j * c + k] = Self.normalized(t + (b - t) * dy)
                    }
                }
            }
        }
    }
}
