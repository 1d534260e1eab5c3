import MienFiles

/// Decodes JPEG (libjpeg-turbo's TurboJPEG API) and PNG (libpng) files into 8-bit gray or
/// RGB pixels equal to what Pillow gives for `Image.open(path).convert("L")` /
/// `.convert("RGB")`, i.e. what `keras.utils.load_img(color_mode="grayscale" | "rgb")` loads.
public enum ImageDecoder {
    /// Images wider or taller than this are refused before any pixel memory is allocated.
    public static let maxSide = 16_384
    /// Images with more pixels than this (a 64-megapixel photo) are refused before any pixel
    /// memory is allocated: decoding one takes 192 MB, and its Float copy for the model 768 MB.
    public static let maxPixels = 1 << 26
    /// Image files larger than this are refused before they are read.
    public static let maxFileBytes = 256 << 20

    /// Decodes a JPEG or PNG file; the format is found from the file's signature, not its
    /// extension.
    ///
    /// - Parameters:
    ///   - path: the image file (a regular file: a FIFO or a folder is refused).
    ///   - channels: 1 for grayscale, 3 for RGB, `nil` for the file's own: 1 for gray
    ///     (and gray+alpha) files, 3 for colour, palette and CMYK files. Alpha is dropped, not
    ///     composited, as Pillow's `convert` drops it.
    /// - Throws: `ImageError` naming `path` for unreadable, empty, unknown, corrupt,
    ///   truncated or oversized files.
    public static func decode(contentsOf path: String, channels: Int? = nil) throws -> Image {
        let bytes = try readFile(path)
        return try decode(bytes, path: path, channels: channels)
    }

    /// Decodes JPEG or PNG bytes. `path` is only used in error messages.
    public static func decode(_ bytes: [UInt8], path: String = "<memory>", channels: Int? = nil) throws -> Image {
        if let channels, channels != 1 && channels != 3 {
            throw ImageError(path: path, message: "channels must be 1, 3 or nil, not \(channels)")
        }
        if bytes.isEmpty {
            throw ImageError(path: path, message: "empty file")
        }
        let image: Image
        if JPEG.hasSignature(bytes) {
            image = try JPEG.decode(bytes, path: path)
        } else if PNG.hasSignature(bytes) {
            image = try PNG.decode(bytes, path: path)
        } else {
            throw ImageError(path: path, message: "not a JPEG or PNG file")
        }
        guard let channels else { return image }
        return image.converted(to: channels)
    }

    /// Throws unless `width` x `height` is a size we are willing to allocate.
    static func checkSize(width: Int, height: Int, path: String) throws {
        guard width > 0, height > 0 else {
            throw ImageError(path: path, message: "invalid image size \(width)x\(height)")
        }
        guard width <= maxSide, height <= maxSide, width * height <= maxPixels else {
            throw ImageError(path: path, message:
                "image too large: \(width)x\(height) pixels (limit \(maxSide) per side and \(maxPixels) pixels)")
        }
    }

    /// The whole file: a regular file of at most `maxFileBytes`.
    static func readFile(_ path: String) throws -> [UInt8] {
        do {
            return try RegularFile.read(path, limit: maxFileBytes, what: "the image file")
        } catch let error as FileError {
            throw ImageError(path: path, message: "cannot read file: \(error.message)")
        }
    }
}
