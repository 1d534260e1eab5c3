import MienCJPEG

/// JPEG through libjpeg-turbo's TurboJPEG API, set up as Pillow sets up libjpeg: the
/// accurate integer ("islow") IDCT and fancy (smooth) chroma upsampling. Those are
/// libjpeg's defaults, which TurboJPEG keeps when neither TJFLAG_FASTDCT nor
/// TJFLAG_FASTUPSAMPLE is given; TJFLAG_ACCURATEDCT says so explicitly.
enum JPEG {
    /// TJFLAG_LIMITSCANS refuses progressive JPEGs with more than 500 scans (a denial-of-
    /// service guard that Pillow lacks; real encoders write about 10).
    static let flags: Int32 = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS

    /// SOI followed by the first marker's 0xFF.
    static func hasSignature(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
    }

    /// Decodes to the file's own channels: gray JPEGs to 1 channel, YCbCr/RGB/CMYK/YCCK to 3.
    static func decode(_ bytes: [UInt8], path: String) throws -> Image {
        guard let handle = tjInitDecompress() else {
            throw ImageError(path: path, message: "cannot create a TurboJPEG decompressor")
        }
        defer { tjDestroy(handle) }

        func libraryMessage() -> String {
            guard let text = tjGetErrorStr2(handle) else { return "unknown error" }
            return String(cString: text)
        }
        func isTruncation(_ message: String) -> Bool {
            message.hasPrefix("Premature end of JPEG file")          // libjpeg's JWRN_JPEG_EOF
        }
        func truncated(_ message: String) -> ImageError {
            ImageError(path: path, message: "truncated JPEG data: \(message)")
        }
        func corrupt(_ message: String) -> ImageError {
            ImageError(path: path, message: "corrupt JPEG data: \(message)")
        }
        // How TurboJPEG 2.x reports problems: a call returns -1 for libjpeg warnings as well
        // as for errors; tjGetErrorCode says TJERR_WARNING whenever a warning was seen during
        // the call, even if a fatal error followed it; the message is the first warning's
        // text unless a fatal error overwrote it.

        // Re-reads the data, stopping at the first warning, and returns that warning's text.
        // The 1x1 target makes tjDecompress2 fail right after the header ("could not scale
        // down") for anything larger than 8x8, and write at most one byte otherwise. It uses
        // a fresh handle: after a fatal error in tjDecompressHeader3 the old one is left in
        // the middle of the header, and its next call fails for that reason alone.
        func firstWarning() -> String? {
            guard let fresh = tjInitDecompress() else { return nil }
            defer { tjDestroy(fresh) }
            var scratch: [UInt8] = [0, 0, 0, 0]
            let status = bytes.withUnsafeBufferPointer { jpeg in
                scratch.withUnsafeMutableBufferPointer { out in
                    tjDecompress2(fresh, jpeg.baseAddress, UInt(jpeg.count), out.baseAddress, 1, 0, 1,
                                  Int32(TJPF_GRAY.rawValue), TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)
                }
            }
            guard status != 0, tjGetErrorCode(fresh) == Int32(TJERR_WARNING.rawValue),
                  let text = tjGetErrorStr2(fresh) else { return nil }
            return String(cString: text)
        }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let headerStatus = bytes.withUnsafeBufferPointer { jpeg in
            tjDecompressHeader3(handle, jpeg.baseAddress, UInt(jpeg.count),
                                &width, &height, &subsampling, &colorspace)
        }
        let headerWarned = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
        let headerFieldsSet = width > 0 && height > 0
        if headerStatus != 0 {
            let message = libraryMessage()
            if isTruncation(message) { throw truncated(message) }
            if headerFieldsSet && (headerWarned || message.contains("Could not determine subsampling type")) {
                // The fields are set: only warnings (say, stray bytes before a marker), or
                // sampling factors TurboJPEG 2.x cannot name, which tjDecompress2 does not
                // need (Pillow decodes those files). A real error shows up again below.
            } else if headerWarned, let warning = firstWarning(), isTruncation(warning) {
                throw truncated(warning)          // the cut came first, then a fatal error
            } else {
                throw corrupt(message)
            }
        } else if !headerFieldsSet {
            // jpeg_read_header met EOI before any frame: a cut file (libjpeg inserts a fake
            // EOI at the end of the data, with a warning) or a tables-only datastream.
            if headerWarned { throw truncated(libraryMessage()) }
            throw corrupt("no image in the file (tables-only datastream)")
        }
        try ImageDecoder.checkSize(width: Int(width), height: Int(height), path: path)

        let format: TJPF
        switch colorspace {
        case Int32(TJCS_GRAY.rawValue): format = TJPF_GRAY
        case Int32(TJCS_CMYK.rawValue), Int32(TJCS_YCCK.rawValue): format = TJPF_CMYK
        default: format = TJPF_RGB                      // TJCS_YCbCr, TJCS_RGB
        }
        let pixelSize = format == TJPF_GRAY ? 1 : format == TJPF_CMYK ? 4 : 3
        let count = Int(width) * Int(height)
        var pixels = [UInt8](repeating: 0, count: count * pixelSize)
        func decompress(_ flags: Int32) -> Int32 {
            bytes.withUnsafeBufferPointer { jpeg in
                pixels.withUnsafeMutableBufferPointer { out in
                    tjDecompress2(handle, jpeg.baseAddress, UInt(jpeg.count), out.baseAddress,
                                  width, 0, height, Int32(format.rawValue), flags)
                }
            }
        }
        // Pass 1 stops at the first warning, so a warning and a fatal error can be told apart.
        if decompress(flags | TJFLAG_STOPONWARNING) != 0 {
            let message = libraryMessage()
            guard tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue) else { throw corrupt(message) }
            if isTruncation(message) { throw truncated(message) }
            // A warning Pillow ignores ("Corrupt JPEG data: 3 extraneous bytes before marker
            // 0xd9", "... bad Huffman code"): decode again going past warnings. libjpeg keeps
            // only the first warning's text, so if the text is unchanged no fatal error
            // happened. (A truncation after such a warning goes unnoticed: its text is lost.)
            if decompress(flags) != 0 {
                let again = libraryMessage()
                if again != message { throw isTruncation(again) ? truncated(again) : corrupt(again) }
            }
        }

        switch format {
        case TJPF_GRAY:
            return Image(width: Int(width), height: Int(height), channels: 1, pixels: pixels)
        case TJPF_CMYK:
            return Image(width: Int(width), height: Int(height), channels: 3,
                         pixels: pillowCMYKToRGB(pixels, count: count))
        default:
            return Image(width: Int(width), height: Int(height), channels: 3, pixels: pixels)
        }
    }

    /// Pillow's CMYK JPEG path: it always reads CMYK with Adobe polarity (rawmode "CMYK;I",
    /// i.e. the stored values inverted), then `convert("RGB")` computes, per channel,
    /// `nk - nk*c/255` (rounded as Pillow's MULDIV255) with `nk = 255 - k`.
    static func pillowCMYKToRGB(_ cmyk: [UInt8], count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 3 * count) { out, initialized in
            cmyk.withUnsafeBufferPointer { inp in
                for i in 0..<count {
                    let nk = Int(inp[4 * i + 3])              // 255 - k, with k = 255 - stored
                    for c in 0..<3 {
                        let value = 255 - Int(inp[4 * i + c])  // c = 255 - stored
                        let t = value * nk + 128
                        let product = ((t >> 8) + t) >> 8      // MULDIV255(value, nk)
                        out[3 * i + c] = UInt8(min(max(nk - product, 0), 255))
                    }
                }
            }
            initialized = 3 * count
        }
    }
}
