// The inverted-residual block in one pass over its rows (see mien_mbconv in the header).
//
// Why: the expanded activation of an MBConv block is 4–6× wider than its input and output
// (at 224×224, block 2a's is 4.8 MB per image). Written by the expansion and read back by
// the depthwise convolution, it streams through memory twice, and the depthwise pass is
// memory-bound. Here the expansion writes a ring of rows that stays in L2, the depthwise
// convolution turns them into a band of rows in L1, and the projection (with the residual
// add) writes the block's output: the only tensor that leaves the cache.
#include "MienCKernels.h"
#include "dispatch.h"
#include "vector16.h"
#include "window.h"

#include <stddef.h>

// Channels [c, channels) of one output pixel of the depthwise convolution, over the taps
// [ky0, ky1) × [kx0, kx1) of its window, which starts at input column `ix0`.
static inline __attribute__((always_inline)) void
depthwise_pixel(const float *const *rows, int ky0, int ky1, int kx0, int kx1, int kw, int ix0, int c,
                int channels, const float *restrict w, const float *restrict bias, float lower, float upper,
                float *restrict o) {
    const v16 lo = splat16(lower), hi = splat16(upper);
    // Four independent accumulators while there are 64 channels left.
    for (; c + 64 <= channels; c += 64) {
        v16 acc[4];
        for (int v = 0; v < 4; v++) acc[v] = load16(bias + c + 16 * v);
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) {
                const float *xp = rows[ky] + (ptrdiff_t)(ix0 + kx) * channels + c;
                const float *wp = w + (ptrdiff_t)(ky * kw + kx) * channels + c;
                for (int v = 0; v < 4; v++) acc[v] += load16(xp + 16 * v) * load16(wp + 16 * v);
            }
        for (int v = 0; v < 4; v++) *(v16 *)(o + c + 16 * v) = clamp16(acc[v], lo, hi);
    }
    for (; c + 16 <= channels; c += 16) {
        v16 acc = load16(bias + c);
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++)
                acc += load16(rows[ky] + (ptrdiff_t)(ix0 + kx) * channels + c)
                     * load16(w + (ptrdiff_t)(ky * kw + kx) * channels + c);
        *(v16 *)(o + c) = clamp16(acc, lo, hi);
    }
    for (; c < channels; c++) {
        float acc = bias[c];
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++)
                acc += rows[ky][(ptrdiff_t)(ix0 + kx) * channels + c] * w[(ptrdiff_t)(ky * kw + kx) * channels + c];
        o[c] = clamp1(acc, lower, upper);
    }
}

// Channels [0, 16·blocks) of `count` output pixels whose K×K windows (K constant: 3, 5)
// lie inside the image, the first starting at input column `ix0`. Channel block by channel
// block, so that the block's K·K weights stay in registers across the pixels and each
// multiply-add loads only its input.
static inline __attribute__((always_inline)) void
depthwise_interior(const float *const *rows, const int K, int ix0, int count, int sw, int channels, int blocks,
                   const float *restrict w, const float *restrict bias, float lower, float upper,
                   float *restrict out) {
    const v16 lo = splat16(lower), hi = splat16(upper);
    for (int block = 0; block < blocks; block++) {
        const int c = 16 * block;
        v16 wk[25];
        for (int t = 0; t < K * K; t++) wk[t] = load16(w + (ptrdiff_t)t * channels + c);
        const v16 b = load16(bias + c);
        for (int i = 0; i < count; i++) {
            const ptrdiff_t at = (ptrdiff_t)(ix0 + i * sw) * channels + c;
            v16 acc = b;
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++)
                    acc += load16(rows[ky] + at + (ptrdiff_t)kx * channels) * wk[ky * K + kx];
            *(v16 *)(out + (ptrdiff_t)i * channels + c) = clamp16(acc, lo, hi);
        }
    }
}

// One output row of the depthwise convolution from the `kernel_height` input rows of its
// window (`rows[ky]` is NULL where the window leaves the image), with bias and clamp.
static inline __attribute__((always_inline)) void
depthwise_row_body(const float *const *rows, const mien_mbconv *b, const float *restrict w,
                   const float *restrict bias, float *restrict out) {
    const int channels = b->expanded, kh = b->kernel_height, kw = b->kernel_width, sw = b->stride_width;
    const float lower = b->depthwise_lower, upper = b->depthwise_upper;
    // The rows inside the image are consecutive: [ky0, ky1).
    int ky0 = 0, ky1 = kh;
    while (ky0 < ky1 && !rows[ky0]) ky0++;
    while (ky1 > ky0 && !rows[ky1 - 1]) ky1--;
    // Output columns [first, end) whose windows lie inside the image's columns.
    int first = (b->pad_left + sw - 1) / sw, end = (b->width - kw + b->pad_left) / sw + 1;
    if (end > b->output_width) end = b->output_width;
    const int fast = ky0 == 0 && ky1 == kh && kh == kw && (kw == 3 || kw == 5) && first < end;
    if (!fast) first = end = b->output_width;
    const int blocks = channels / 16;
    if (fast) {
        const int ix0 = first * sw - b->pad_left;
        float *o = out + (ptrdiff_t)first * channels;
        if (kw == 3) depthwise_interior(rows, 3, ix0, end - first, sw, channels, blocks, w, bias, lower, upper, o);
        else depthwise_interior(rows, 5, ix0, end - first, sw, channels, blocks, w, bias, lower, upper, o);
    }
    for (int ox = 0; ox < b->output_width; ox++) {
        const int ix0 = ox * sw - b->pad_left;
        const int interior = ox >= first && ox < end;
        int kx0, kx1;
        taps_inside(ix0, kw, 1, b->width, &kx0, &kx1);
        // Interior pixels have their channels past the last full block left.
        depthwise_pixel(rows, ky0, ky1, kx0, kx1, kw, ix0, interior ? 16 * blocks : 0, channels, w, bias,
                        lower, upper, out + (ptrdiff_t)ox * channels);
    }
}

#define DEPTHWISE_ROW_PARAMS \
    (const float *const *rows, const mien_mbconv *b, const float *w, const float *bias, float *out)
#define DEPTHWISE_ROW_ARGS (rows, b, w, bias, out)
static void depthwise_row_portable DEPTHWISE_ROW_PARAMS { depthwise_row_body DEPTHWISE_ROW_ARGS; }
#if defined(__x86_64__)
MIEN_TARGET_AVX2 static void depthwise_row_avx2 DEPTHWISE_ROW_PARAMS { depthwise_row_body DEPTHWISE_ROW_ARGS; }
MIEN_TARGET_AVX512 static void depthwise_row_avx512 DEPTHWISE_ROW_PARAMS { depthwise_row_body DEPTHWISE_ROW_ARGS; }
#endif
MIEN_DISPATCHED3(depthwise_row, DEPTHWISE_ROW_PARAMS, DEPTHWISE_ROW_ARGS)

int mien_mbconv_band_rows(const mien_mbconv *b) {
    // About 64 pixels per band: each projection weight loaded from L2 serves that many rows.
    int band = (64 + b->output_width - 1) / (b->output_width > 0 ? b->output_width : 1);
    if (band > b->output_height) band = b->output_height;
    return band < 1 ? 1 : band;
}

// Input rows the ring holds: every row the depthwise window of one band reads.
static int ring_rows(const mien_mbconv *b) {
    // At most the image's rows (then none is ever overwritten), whatever the stride: a
    // hostile stride must not size the ring.
    const long rows = (long)(mien_mbconv_band_rows(b) - 1) * b->stride_height + b->kernel_height;
    return rows < b->height ? (int)rows : (b->height > 0 ? b->height : 1);
}

long mien_mbconv_scratch_size(const mien_mbconv *b) {
    const long ring = b->expand ? (long)ring_rows(b) * b->width * b->expanded : 0;
    return ring + (long)mien_mbconv_band_rows(b) * b->output_width * b->expanded;
}

void mien_mbconv_rows(const mien_mbconv *b, const float *x, float *y, int first_row, int last_row,
                      float *scratch) {
    const int band = mien_mbconv_band_rows(b), ringCount = ring_rows(b);
    const ptrdiff_t inRow = (ptrdiff_t)b->width * b->in_channels;
    const ptrdiff_t ringRow = (ptrdiff_t)b->width * b->expanded;
    float *ring = scratch;
    float *bandRows = scratch + (b->expand ? (ptrdiff_t)ringCount * ringRow : 0);
    const float *rows[64];
    int computed = -1;   // input rows below this one are in the ring
    for (int oy0 = first_row; oy0 < last_row; oy0 += band) {
        const int oy1 = oy0 + band < last_row ? oy0 + band : last_row;
        int lo = oy0 * b->stride_height - b->pad_top;
        int hi = (oy1 - 1) * b->stride_height - b->pad_top + b->kernel_height;
        if (lo < 0) lo = 0;
        if (hi > b->height) hi = b->height;
        if (b->expand) {
            // Expand the rows not yet in the ring, in runs of consecutive slots.
            int r = lo > computed ? lo : computed;
            while (r < hi) {
                const int slot = r % ringCount;
                const int count = hi - r < ringCount - slot ? hi - r : ringCount - slot;
                mien_gemm_packed(x + (ptrdiff_t)r * inRow, b->in_channels, count * b->width, b->in_channels,
                                 b->expand, b->expanded, b->expand_lower, b->expand_upper, 0, 0,
                                 ring + (ptrdiff_t)slot * ringRow, b->expanded);
                r += count;
            }
            if (hi > computed) computed = hi;
        }
        for (int oy = oy0; oy < oy1; oy++) {
            const int iy0 = oy * b->stride_height - b->pad_top;
            for (int ky = 0; ky < b->kernel_height; ky++) {
                const int iy = iy0 + ky;
                rows[ky] = iy < 0 || iy >= b->height ? 0
                         : b->expand ? ring + (ptrdiff_t)(iy % ringCount) * ringRow
                                     : x + (ptrdiff_t)iy * inRow;
            }
            depthwise_row_dispatch(rows, b, b->depthwise, b->depthwise_bias,
                                   bandRows + (ptrdiff_t)(oy - oy0) * b->output_width * b->expanded);
        }
        const ptrdiff_t outRow = (ptrdiff_t)b->output_width * b->out_channels;
        mien_gemm_packed(bandRows, b->expanded, (oy1 - oy0) * b->output_width, b->expanded, b->project,
                         b->out_channels, b->project_lower, b->project_upper,
                         b->residual ? x + (ptrdiff_t)oy0 * inRow : 0, b->out_channels,
                         y + (ptrdiff_t)oy0 * outRow, b->out_channels);
    }
}

long mien_mbconv_images_scratch_size(const mien_mbconv *b, int images) {
    const long filtered = (long)images * b->output_height * b->output_width * b->expanded;
    return (b->expand ? (long)images * b->height * b->width * b->expanded : 0) + filtered;
}

void mien_mbconv_images(const mien_mbconv *b, const float *x, float *y, int images, float *scratch) {
    const ptrdiff_t inImage = (ptrdiff_t)b->height * b->width;
    const ptrdiff_t outImage = (ptrdiff_t)b->output_height * b->output_width;
    float *expanded = scratch;
    float *filtered = scratch + (b->expand ? images * inImage * b->expanded : 0);
    if (b->expand)
        mien_gemm_packed(x, b->in_channels, (int)(images * inImage), b->in_channels, b->expand, b->expanded,
                         b->expand_lower, b->expand_upper, 0, 0, expanded, b->expanded);
    const float *source = b->expand ? expanded : x;   // `expanded` channels either way
    const float *rows[64];
    for (int image = 0; image < images; image++) {
        const float *first = source + image * inImage * b->expanded;
        for (int oy = 0; oy < b->output_height; oy++) {
            const int iy0 = oy * b->stride_height - b->pad_top;
            for (int ky = 0; ky < b->kernel_height; ky++) {
                const int iy = iy0 + ky;
                rows[ky] = iy < 0 || iy >= b->height ? 0 : first + (ptrdiff_t)iy * b->width * b->expanded;
            }
            depthwise_row_dispatch(rows, b, b->depthwise, b->depthwise_bias,
                                   filtered + ((ptrdiff_t)image * outImage + (ptrdiff_t)oy * b->output_width) * b->expanded);
        }
    }
    mien_gemm_packed(filtered, b->expanded, (int)(images * outImage), b->expanded, b->project, b->out_channels,
                     b->project_lower, b->project_upper, b->residual ? x : 0, b->out_channels, y, b->out_channels);
}
