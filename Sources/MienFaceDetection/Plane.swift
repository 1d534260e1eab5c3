import MienImages

/// An RGB image as MTCNN's networks take it: floats `(p − 127.5) / 128`, row-major, HWC.
struct Plane {
    var width: Int
    var height: Int
    var values: [Float]

    static let channels = 3

    /// A gray image is replicated to three channels, as `mtcnn` decodes with `channels=3`.
    init(_ image: Image) {
        width = image.width
        height = image.height
        let rgb = image.rgb()
        values = rgb.pixels.map { (Float($0) - 127.5) / 128 }
    }

    init(width: Int, height: Int, values: [Float]) {
        self.width = width
        self.height = height
        self.values = values
    }

    /// The image resized by TensorFlow's `AREA` method (`tf.image.resize(method="area")`,
    /// what `mtcnn` builds its pyramid with): each output pixel is the mean of the input
    /// area it covers, partly covered pixels weighted by the part.
    func areaResized(width outWidth: Int, height outHeight: Int) -> Plane {
        let rows = AreaTaps(input: height, output: outHeight)
        let cols = AreaTaps(input: width, output: outWidth)
        let c = Self.channels
        // Horizontal pass over every input row, then the vertical one.
        var across = [Float](repeating: 0, count: height * outWidth * c)
        values.withUnsafeBufferPointer { x in
            across.withUnsafeMutableBufferPointer { h in
                cols.weights.withUnsafeBufferPointer { weights in
                    for row in 0..<height {
                        let input = x.baseAddress! + row * width * c, output = h.baseAddress! + row * outWidth * c
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
                            output[j * c] = r
                            output[j * c + 1] = g
                            output[j * c + 2] = b
                        }
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: outHeight * outWidth * c)
        let rowLength = outWidth * c
        let norm = Float(outHeight) * Float(outWidth) / (Float(height) * Float(width))
        across.withUnsafeBufferPointer { h in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<outHeight {
                    let output = o.baseAddress! + i * rowLength
                    var input = h.baseAddress! + rows.start[i] * rowLength
                    for k in rows.first[i]..<rows.first[i + 1] {
                        let w = rows.weights[k] * norm
                        for j in 0..<rowLength { output[j] += input[j] * w }
                        input += rowLength
                    }
                }
            }
        }
        return Plane(width: outWidth, height: outHeight, values: out)
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
    /// scores are compared with its, so the crop is the same.
    func crop(x1 left: Float, y1 top: Float, x2 right: Float, y2 bottom: Float, size: Int,
              into out: UnsafeMutablePointer<Float>) {
        let sx = Float(width - 1) / Float(width), sy = Float(height - 1) / Float(height)
        let (x1, x2, y1, y2) = (left * sx, right * sx, top * sy, bottom * sy)
        let c = Self.channels
        let step = size > 1 ? 1 / Float(size - 1) : 0
        let maxX = Float(width - 1), maxY = Float(height - 1)
        values.withUnsafeBufferPointer { x in
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
                        let tl = x[(top * width + left) * c + k], tr = x[(top * width + right) * c + k]
                        let bl = x[(bottom * width + left) * c + k], br = x[(bottom * width + right) * c + k]
                        let t = tl + (tr - tl) * dx, b = bl + (br - bl) * dx
                        row[j * c + k] = t + (b - t) * dy
                    }
                }
            }
        }
    }
}
