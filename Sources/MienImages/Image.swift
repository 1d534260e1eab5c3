/// An 8-bit image: gray (1 channel) or RGB (3 channels), row-major, channels last (HWC).
public struct Image: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 (gray) or 3 (RGB).
    public var channels: Int
    /// `height * width * channels` bytes, row-major, channels last.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "Image: negative size \(width)x\(height)")
        precondition(channels == 1 || channels == 3, "Image: channels must be 1 or 3, not \(channels)")
        precondition(pixels.count == width * height * channels,
                     "Image: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The `width`×`height` pixels from (`x`, `y`), which must lie inside the image.
    public func region(x: Int, y: Int, width w: Int, height h: Int) -> Image {
        precondition(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= width && y + h <= height,
                     "Image.region: \(w)x\(h) at (\(x), \(y)) outside \(width)x\(height)")
        if x == 0, y == 0, w == width, h == height { return self }
        var out = [UInt8]()
        out.reserveCapacity(w * h * channels)
        for row in y..<(y + h) {
            let start = (row * width + x) * channels
            out.append(contentsOf: pixels[start..<(start + w * channels)])
        }
        return Image(width: w, height: h, channels: channels, pixels: out)
    }

    /// Luminance exactly as Pillow's `Image.convert("L")` computes it:
    /// `L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16` (ITU-R 601-2 luma in 16-bit fixed
    /// point, rounded). Keras users load faces with
    /// `keras.utils.load_img(color_mode="grayscale")`, which is this conversion. Gray stays gray.
    public func grayscale() -> Image {
        guard channels == 3 else { return self }
        let count = width * height
        let gray = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            pixels.withUnsafeBufferPointer { rgb in
                for i in 0..<count {
                    out[i] = Image.luminance(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2])
                }
            }
            initialized = count
        }
        return Image(width: width, height: height, channels: 1, pixels: gray)
    }

    /// Gray replicated to R, G and B (Pillow's `convert("RGB")` of an "L" image). RGB stays RGB.
    public func rgb() -> Image {
        guard channels == 1 else { return self }
        let count = width * height
        let rgb = [UInt8](unsafeUninitializedCapacity: 3 * count) { out, initialized in
            pixels.withUnsafeBufferPointer { gray in
                for i in 0..<count {
                    let v = gray[i]
                    out[3 * i] = v
                    out[3 * i + 1] = v
                    out[3 * i + 2] = v
                }
            }
            initialized = 3 * count
        }
        return Image(width: width, height: height, channels: 3, pixels: rgb)
    }

    /// Pillow's `L24` luma of one RGB pixel.
    @inline(__always)
    static func luminance(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: (UInt32(r) &* 19595 &+ UInt32(g) &* 38470 &+ UInt32(b) &* 7471 &+ 0x8000) >> 16)
    }

    /// The image with `channels` channels (1 or 3), converted as Pillow converts.
    func converted(to channels: Int) -> Image {
        channels == 1 ? grayscale() : rgb()
    }
}

/// A file that could not be read or decoded.
public struct ImageError: Error, CustomStringConvertible, Equatable {
    /// The file's path as given (or "<memory>" for bytes).
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// "PATH: message", e.g. "faces/x.jpg: not a JPEG or PNG file".
    public var description: String { "\(path): \(message)" }
}
