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

// P output pixels (P constant, at most 8) of one 16-channel block, over K×K windows with
// stride S (K, S constant). Window column j of the first window reads, in row ky,
// `rows[ky] + at + j·channels`. Unless `checked` is 0 (every row and column inside the
// image), only the columns j in [jlo, jhi) and the rows that are not NULL are read: the
// others are zeros, so they are skipped, by branches that go the same way for every channel
// block. `w`: the block's weights, tap t at `w + t·channels`.
// Why this shape: independent accumulators hide the FMA latency (one window alone is a
// chain of K·K dependent multiply-adds), and the P windows of a row overlap, so each input
// vector is loaded once and serves every window that covers it.
static inline __attribute__((always_inline)) void
depthwise_pixels(const float *const *rows, const int K, const int S, const int P, const int checked, ptrdiff_t at,
                 int jlo, int jhi, const float *restrict w, int channels, const float *restrict bias, float lower,
                 float upper, float *restrict out) {
    // Below 4 pixels, even and odd rows of the window add into separate accumulators.
    const int sets = P < 4 ? 2 : 1;
    v16 acc[2][8];
#pragma unroll
    for (int p = 0; p < P; p++) {
        acc[0][p] = load16(bias);
        acc[1][p] = splat16(0.0f);
    }
#pragma unroll
    for (int ky = 0; ky < K; ky++) {
        if (checked && !rows[ky]) continue;
        v16 wr[5];
#pragma unroll
        for (int kx = 0; kx < K; kx++) wr[kx] = load16(w + (ptrdiff_t)(ky * K + kx) * channels);
#pragma unroll
        for (int j = 0; j < (P - 1) * S + K; j++) {
            if (checked && (j < jlo || j >= jhi)) continue;
            const v16 x = load16(rows[ky] + (at + (ptrdiff_t)j * channels));
#pragma unroll
            for (int p = 0; p < P; p++)
                if (j - p * S >= 0 && j - p * S < K) acc[ky % sets][p] += x * wr[j - p * S];
        }
    }
    const v16 lo = splat16(lower), hi = splat16(upper);
#pragma unroll
    for (int p = 0; p < P; p++) {
        const v16 sum = sets == 2 ? acc[0][p] + acc[1][p] : acc[0][p];
        *(v16 *)(out + (ptrdiff_t)p * channels) = clamp16(sum, lo, hi);
    }
}

// One output row's P pixels from column `ox`, channel blocks [c0, c1).
#define DEPTHWISE_GROUP(P)                                                                                \
    do {                                                                                                  \
        const int jlo = b->pad_left - ox * S, jhi = b->width + b->pad_left - ox * S;                      \
        const ptrdiff_t at = (ptrdiff_t)(ox * S - b->pad_left) * channels;                                \
        float *o = out + (ptrdiff_t)ox * channels;                                                        \
        if (allRows && jlo <= 0 && jhi >= ((P) - 1) * S + K)                                              \
            for (int c = c0; c < c1; c += 16)                                                             \
                depthwise_pixels(rows, K, S, P, 0, at + c, jlo, jhi, w + c, channels, bias + c, lower,    \
                                 upper, o + c);                                                           \
        else                                                                                              \
            for (int c = c0; c < c1; c += 16)                                                             \
                depthwise_pixels(rows, K, S, P, 1, at + c, jlo, jhi, w + c, channels, bias + c, lower,    \
                                 upper, o + c);                                                           \
        ox += P;                                                                                          \
    } while (0)

// Channels [0, 16·blocks) of a whole output row for K×K windows and stride S (K, S
// constant: 3 or 5, 1 or 2); `rows[ky]` is NULL where the window leaves the image. Groups of
// 8, 4, 2, 1 pixels; chunks of 4 channel blocks, so that the chunk's part of the K input
// rows stays in L1 across the row.
static inline __attribute__((always_inline)) void
depthwise_row_fast(const float *const *rows, const mien_mbconv *b, const int K, const int S, int blocks,
                   const float *restrict w, const float *restrict bias, float *restrict out) {
    const int channels = b->expanded, ow = b->output_width;
    const float lower = b->depthwise_lower, upper = b->depthwise_upper;
    int allRows = 1;
    for (int ky = 0; ky < K; ky++) allRows &= rows[ky] != 0;
    for (int c0 = 0; c0 < 16 * blocks; c0 += 64) {
        const int c1 = c0 + 64 < 16 * blocks ? c0 + 64 : 16 * blocks;
        int ox = 0;
        while (ox + 8 <= ow) DEPTHWISE_GROUP(8);
        if (ox + 4 <= ow) DEPTHWISE_GROUP(4);
        if (ox + 2 <= ow) DEPTHWISE_GROUP(2);
        if (ox < ow) DEPTHWISE_GROUP(1);
    }
}

// One output row of the depthwise convolution from the `kernel_height` input rows of its
// window (`rows[ky]` is NULL where the window leaves the image), with bias and clamp.
static inline __attribute__((always_inline)) void
depthwise_row_body(const float *const *rows, const mien_mbconv *b, const float *restrict w,
                   const float *restrict bias, float *restrict out) {
    const int channels = b->expanded, kh = b->kernel_height, kw = b->kernel_width, sw = b->stride_width;
    const int ow = b->output_width;
    const int fast = kh == kw && (kw == 3 || kw == 5) && (sw == 1 || sw == 2);
    const int blocks = channels / 16;
    if (fast) {
        if (kw == 3 && sw == 1) depthwise_row_fast(rows, b, 3, 1, blocks, w, bias, out);
        else if (kw == 3) depthwise_row_fast(rows, b, 3, 2, blocks, w, bias, out);
        else if (sw == 1) depthwise_row_fast(rows, b, 5, 1, blocks, w, bias, out);
        else depthwise_row_fast(rows, b, 5, 2, blocks, w, bias, out);
        if (16 * blocks == channels) return;
    }
    // The rows inside the image are consecutive: [ky0, ky1).
    int ky0 = 0, ky1 = kh;
    while (ky0 < ky1 && !rows[ky0]) ky0++;
    while (ky1 > ky0 && !rows[ky1 - 1]) ky1--;
    for (int ox = 0; ox < ow; ox++) {
        const int ix0 = ox * sw - b->pad_left;
        int kx0, kx1;
        taps_inside(ix0, kw, 1, b->width, &kx0, &kx1);
        // After the fast path, only the channels past its last full block are left.
        depthwise_pixel(rows, ky0, ky1, kx0, kx1, kw, ix0, fast ? 16 * blocks : 0, channels, w, bias,
                        b->depthwise_lower, b->depthwise_upper, out + (ptrdiff_t)ox * channels);
    }
}

#define DEPTHWISE_ROW_PARAMS \
    (const float *const *rows, const mien_mbconv *b, const float *w, const float *bias, float *out)
#define DEPTHWISE_ROW_ARGS (rows, b, w, bias, out)
MIEN_DISPATCHED3_BODY(depthwise_row, DEPTHWISE_ROW_PARAMS, DEPTHWISE_ROW_ARGS)

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
