import MienCPNG

/// PNG through libpng's classic API, driven from C (`Sources/MienCPNG/shim.h`) because libpng
/// reports errors with longjmp, which Swift cannot take part in.
enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func hasSignature(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && Array(bytes[0..<8]) == signature
    }

    /// Decodes to the file's own channels: gray and gray+alpha to 1, RGB, RGBA and palette to 3.
    static func decode(_ bytes: [UInt8], path: String) throws -> Image {
        var message = [CChar](repeating: 0, count: 512)
        return try bytes.withUnsafeBufferPointer { data in
            try message.withUnsafeMutableBufferPointer { messageBuffer in
                var source = mien_png_source(data: data.baseAddress, size: data.count, offset: 0,
                                             message: messageBuffer.baseAddress,
                                             message_size: messageBuffer.count, truncated: 0)
                func failure() -> ImageError {
                    let text = String(cString: messageBuffer.baseAddress!)
                    let kind = source.truncated != 0 ? "truncated PNG data" : "corrupt PNG data"
                    return ImageError(path: path, message: "\(kind): \(text.isEmpty ? "unknown error" : text)")
                }

                var header = mien_png_header()
                guard mien_png_read_header(&source, &header) == 0 else { throw failure() }
                let width = Int(header.width), height = Int(header.height)
                try ImageDecoder.checkSize(width: width, height: height, path: path)

                let channels = (header.color_type & 2) != 0 ? 3 : 1      // PNG_COLOR_MASK_COLOR
                var pixels = [UInt8](repeating: 0, count: width * height * channels)
                let status = pixels.withUnsafeMutableBufferPointer { out in
                    mien_png_decode(&source, header.width, header.height, out.baseAddress, out.count)
                }
                guard status == 0 else { throw failure() }
                return Image(width: width, height: height, channels: channels, pixels: pixels)
            }
        }
    }
}
