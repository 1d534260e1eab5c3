import MienCPNG

/// PNG encoding through libpng's simplified write API (`png_image_write_to_memory`, driven
/// from C in `Sources/MienCPNG/shim.h`, which keeps libpng's longjmp-based errors away from Swift).
public enum PNGEncoder {
    /// Encodes an 8-bit gray (1 channel) or RGB (3 channels) image as a PNG file's bytes: bit
    /// depth 8, gray or RGB colour type, not interlaced, an sRGB chunk, zlib's default
    /// compression. `ImageDecoder.decode` (and Pillow) give back exactly `image.pixels`.
    ///
    /// - Throws: `ImageError` (path `"<memory>"`) for an image that cannot be written: a zero
    ///   width or height, a channel count other than 1 or 3, `pixels` not holding
    ///   `width * height * channels` bytes (the fields are mutable, so `Image.init`'s checks
    ///   may no longer hold), or a side beyond libpng's limit (1,000,000 pixels).
    public static func encode(_ image: Image) throws -> [UInt8] {
        let path = "<memory>"
        guard image.width > 0, image.height > 0 else {
            throw ImageError(path: path, message: "cannot encode an image of size \(image.width)x\(image.height)")
        }
        guard image.channels == 1 || image.channels == 3 else {
            throw ImageError(path: path, message: "cannot encode \(image.channels) channels (1 or 3)")
        }
        let (area, areaOverflow) = image.width.multipliedReportingOverflow(by: image.height)
        let (expected, overflow) = area.multipliedReportingOverflow(by: image.channels)
        guard !areaOverflow, !overflow, expected == image.pixels.count else {
            throw ImageError(path: path, message:
                "\(image.pixels.count) pixel bytes for \(image.width)x\(image.height)x\(image.channels)")
        }
        guard let width = UInt32(exactly: image.width), let height = UInt32(exactly: image.height) else {
            throw ImageError(path: path, message: "image too large for PNG: \(image.width)x\(image.height)")
        }

        let bound = mien_png_encode_bound(width, height, Int32(image.channels))
        guard bound > 0, bound <= Int.max else {
            throw ImageError(path: path, message: "image too large for PNG: \(image.width)x\(image.height)")
        }
        var out = [UInt8](repeating: 0, count: Int(bound))
        var message = [CChar](repeating: 0, count: 256)
        var size = out.count
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            out.withUnsafeMutableBufferPointer { output in
                message.withUnsafeMutableBufferPointer { text in
                    mien_png_encode(pixels.baseAddress, width, height, Int32(image.channels),
                                    output.baseAddress, &size, text.baseAddress, text.count)
                }
            }
        }
        guard status == 0 else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw ImageError(path: path, message: "cannot encode PNG: \(text.isEmpty ? "unknown error" : text)")
        }
        out.removeSubrange(min(size, out.count)...)
        return out
    }
}
