// libpng 1.6 for Swift. Debian: libpng-dev (pkg-config "libpng").
//
// libpng reports an error by calling an error function that must not return; the
// way out is a longjmp back to a setjmp in the caller. Swift cannot call setjmp,
// so the whole libpng conversation of one read lives in the C functions below.
// They return 0 on success and -1 with a message on failure. Only C frames ever
// lie between their setjmp and libpng's longjmp (the error, warning and read
// callbacks are C functions here too), and every resource they allocate is freed
// on both paths.
//
// The classic API is used rather than the simplified png_image_* API because the
// simplified one cannot reproduce Pillow: it scales 16-bit samples with rounding
// and treats 16-bit data as linear light (Pillow keeps the high byte, or clips
// 16-bit gray at 255), composites alpha onto a background when asked for a format
// without alpha, and applies the file's gAMA chunk (Pillow ignores gamma).
#ifndef MIEN_CPNG_SHIM_H
#define MIEN_CPNG_SHIM_H

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// The PNG bytes to read, and where the first error message goes.
typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
    char *message;          // NUL-terminated on failure; at least 1 byte
    size_t message_size;
    int truncated;          // set when libpng asked for bytes past the end of `data`
} mien_png_source;

/// What IHDR says.
typedef struct {
    uint32_t width;
    uint32_t height;
    int bit_depth;          // 1, 2, 4, 8 or 16
    int color_type;         // 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
    int interlaced;         // 1 for Adam7
} mien_png_header;

static inline void mien_png_set_message(mien_png_source *source, const char *message) {
    if (source != NULL && source->message != NULL && source->message_size > 0) {
        snprintf(source->message, source->message_size, "%s", message);
    }
}

static inline void mien_png_on_error(png_structp png, png_const_charp message) {
    mien_png_set_message((mien_png_source *)png_get_error_ptr(png), message);
    png_longjmp(png, 1);
}

static inline void mien_png_on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;      // libpng warnings (bad ancillary chunks, sRGB profiles...) are ignored, as Pillow does
}

static inline void mien_png_read_data(png_structp png, png_bytep out, size_t length) {
    mien_png_source *source = (mien_png_source *)png_get_io_ptr(png);
    if (length > source->size - source->offset) {
        source->truncated = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(out, source->data + source->offset, length);
    source->offset += length;
}

/// A libpng reader and its info struct, reporting into `source`; 0 on success.
static inline int mien_png_create(mien_png_source *source, png_structp *png, png_infop *info) {
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, source, mien_png_on_error, mien_png_on_warning);
    if (*png == NULL) {
        mien_png_set_message(source, "cannot create a libpng reader");
        return -1;
    }
    *info = png_create_info_struct(*png);
    if (*info == NULL) {
        png_destroy_read_struct(png, NULL, NULL);
        mien_png_set_message(source, "cannot create a libpng reader");
        return -1;
    }
    return 0;
}

/// Reads the signature and the chunks up to the first IDAT. Allocates nothing for pixels.
static inline int mien_png_read_header(mien_png_source *source, mien_png_header *header) {
    png_structp png;
    png_infop info;
    if (mien_png_create(source, &png, &info) != 0) return -1;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    source->offset = 0;
    source->truncated = 0;
    png_set_read_fn(png, source, mien_png_read_data);
    png_read_info(png, info);
    header->width = png_get_image_width(png, info);
    header->height = png_get_image_height(png, info);
    header->bit_depth = png_get_bit_depth(png, info);
    header->color_type = png_get_color_type(png, info);
    header->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/// Decodes the image into `out`, width * height * out_channels bytes, where out_channels
/// is 1 for gray and gray+alpha files and 3 for RGB, RGBA and palette files. The samples
/// are the 8-bit values Pillow produces for mode "L" / "RGB" of the same file:
/// - bit depths below 8 scaled to 0...255 (libpng's expansion equals Pillow's "1",
///   "L;2", "L;4" unpackers), palette indices replaced by their PLTE colours;
/// - alpha (an alpha channel, or tRNS) dropped, not composited;
/// - 16-bit samples reduced to their high byte, except 16-bit gray without alpha:
///   Pillow opens that as "I;16" and converts it to "L" by clipping at 255;
/// - no gamma, sBIT or colour-profile correction.
static inline int mien_png_decode(mien_png_source *source, uint32_t width, uint32_t height,
                                  unsigned char *out, size_t out_size) {
    png_structp png;
    png_infop info;
    if (mien_png_create(source, &png, &info) != 0) return -1;
    // Changed after setjmp and used after longjmp: volatile.
    png_bytep volatile buffer = NULL;
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(buffer);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    source->offset = 0;
    source->truncated = 0;
    png_set_read_fn(png, source, mien_png_read_data);
    png_read_info(png, info);

    png_uint_32 w = png_get_image_width(png, info);
    png_uint_32 h = png_get_image_height(png, info);
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    size_t out_channels = (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    if (w != width || h != height) {
        png_error(png, "image size differs from the header read before");
    }
    if ((size_t)w * (size_t)h * out_channels != out_size) {
        png_error(png, "output buffer has the wrong size");
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t row_bytes = png_get_rowbytes(png, info);
    size_t channels = png_get_channels(png, info);
    size_t sample_bytes = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    if (channels < out_channels || row_bytes < (size_t)w * channels * sample_bytes) {
        png_error(png, "unexpected row layout after expansion");
    }
    buffer = (png_bytep)malloc(row_bytes * h);
    rows = (png_bytepp)malloc(sizeof(png_bytep) * h);
    if (buffer == NULL || rows == NULL) {
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < h; y++) {
        rows[y] = buffer + (size_t)y * row_bytes;
    }
    png_read_image(png, rows);

    int clip16 = sample_bytes == 2 && color_type == PNG_COLOR_TYPE_GRAY;
    unsigned char *o = out;
    for (png_uint_32 y = 0; y < h; y++) {
        const unsigned char *row = rows[y];
        for (png_uint_32 x = 0; x < w; x++) {
            const unsigned char *pixel = row + (size_t)x * channels * sample_bytes;
            for (size_t c = 0; c < out_channels; c++) {
                const unsigned char *s = pixel + c * sample_bytes;   // big-endian when 16-bit
                if (sample_bytes == 1) {
                    *o++ = s[0];
                } else if (clip16) {
                    *o++ = s[0] != 0 ? 255 : s[1];
                } else {
                    *o++ = s[0];
                }
            }
        }
    }
    free(rows);
    free(buffer);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

// ---------------------------------------------------------------------------- encoding
//
// Writing uses libpng's simplified API (png_image_write_to_memory, libpng >= 1.6.24). It
// runs the whole libpng conversation under its own setjmp (png_safe_execute) and reports
// errors in the png_image struct, so no longjmp can cross a Swift frame here either. For
// 8-bit gray / RGB / RGBA input it writes the samples unchanged (no conversion, unlike the
// read side described above): bit depth 8, not interlaced, zlib's default compression, and
// an sRGB chunk (flags 0), which decoders that ignore colour management (Pillow, the read
// code above) skip, and which browsers treat as the default anyway.

/// The most bytes mien_png_encode can write for this image (libpng's PNG_IMAGE_PNG_SIZE_MAX);
/// 0 for a channel count other than 1, 3 or 4.
static inline size_t mien_png_encode_bound(uint32_t width, uint32_t height, int channels) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    switch (channels) {
    case 1: image.format = PNG_FORMAT_GRAY; break;
    case 3: image.format = PNG_FORMAT_RGB; break;
    case 4: image.format = PNG_FORMAT_RGBA; break;
    default: return 0;
    }
    return (size_t)PNG_IMAGE_PNG_SIZE_MAX(image);
}

/// Encodes width * height * channels 8-bit samples (row-major, channels last; channels 1
/// gray, 3 RGB, 4 RGBA) as a PNG into out[0 ..< *out_size]. Returns 0 and sets *out_size to
/// the bytes written on success; -1 with a NUL-terminated message (at least 1 byte of
/// `message`) on failure. The caller checks that `pixels` holds width * height * channels
/// bytes; libpng checks the size limits (PNG_USER_WIDTH_MAX / PNG_USER_HEIGHT_MAX).
static inline int mien_png_encode(const unsigned char *pixels, uint32_t width, uint32_t height, int channels,
                                  unsigned char *out, size_t *out_size, char *message, size_t message_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.opaque = NULL;
    image.width = width;
    image.height = height;
    image.flags = 0;
    switch (channels) {
    case 1: image.format = PNG_FORMAT_GRAY; break;
    case 3: image.format = PNG_FORMAT_RGB; break;
    case 4: image.format = PNG_FORMAT_RGBA; break;
    default:
        snprintf(message, message_size, "cannot write %d channels", channels);
        return -1;
    }
    png_alloc_size_t capacity = (png_alloc_size_t)*out_size;
    png_alloc_size_t size = capacity;
    int ok = png_image_write_to_memory(&image, out, &size, 0 /* convert_to_8_bit */, pixels,
                                       0 /* row stride: width * channels */, NULL);
    png_image_free(&image);                 // already freed by the write; harmless
    if (!ok) {
        if (!PNG_IMAGE_FAILED(image) && size > capacity) {
            snprintf(message, message_size, "output buffer too small (%zu bytes, %zu needed)",
                     (size_t)capacity, (size_t)size);
        } else {
            snprintf(message, message_size, "%s", image.message[0] != 0 ? image.message : "unknown error");
        }
        return -1;
    }
    *out_size = (size_t)size;
    return 0;
}

#endif
