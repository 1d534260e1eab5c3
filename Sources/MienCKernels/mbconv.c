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

// One output row of the depthwise convolution from the `kernel_height` input rows of its
// window (`rows[ky]` is NULL where the window leaves the image), with bias and clamp.
static inline __attribute__((always_inline)) void
depthwise_row_body(const float *const *rows, const mien_mbconv *b, const float *restrict w,
                   const float *restrict bias, float *restrict out) {
    const int channels = b->expanded, kw = b->kernel_width;
    const v16 lo = splat16(b->depthwise_lower), hi = splat16(b->depthwise_upper);
    for (int ox = 0; ox < b->output_width; ox++) {
        const int ix0 = ox * b->stride_width - b->pad_left;
        int kx0, kx1;
        taps_inside(ix0, kw, 1, b->width, &kx0, &kx1);
        float *o = out + (ptrdiff_t)ox * channels;
        int c = 0;
        // Four independent accumulators per pixel while there are 64 channels left.
        for (; c + 64 <= channels; c += 64) {
            v16 acc[4];
            for (int v = 0; v < 4; v++) acc[v] = load16(bias + c + 16 * v);
            for (int ky = 0; ky < b->kernel_height; ky++) {
                if (!rows[ky]) continue;
                for (int kx = kx0; kx < kx1; kx++) {
                    const float *xp = rows[ky] + (ptrdiff_t)(ix0 + kx) * channels + c;
                    const float *wp = w + (ptrdiff_t)(ky * kw + kx) * channels + c;
                    for (int v = 0; v < 4; v++) acc[v] += load16(xp + 16 * v) * load16(wp + 16 * v);
                }
            }
            for (int v = 0; v < 4; v++) *(v16 *)(o + c + 16 * v) = clamp16(acc[v], lo, hi);
        }
        for (; c + 16 <= channels; c += 16) {
            v16 acc = load16(bias + c);
            for (int ky = 0; ky < b->kernel_height; ky++) {
                if (!rows[ky]) continue;
                for (int kx = kx0; kx < kx1; kx++)
                    acc += load16(rows[ky] + (ptrdiff_t)(ix0 + kx) * channels + c)
                         * load16(w + (ptrdiff_t)(ky * kw + kx) * channels + c);
            }
            *(v16 *)(o + c) = clamp16(acc, lo, hi);
        }
        for (; c < channels; c++) {
            float acc = bias[c];
            for (int ky = 0; ky < b->kernel_height; ky++) {
                if (!rows[ky]) continue;
                for (int kx = kx0; kx < kx1; kx++)
                    acc += rows[ky][(ptrdiff_t)(ix0 + kx) * channels + c] * w[(ptrdiff_t)(ky * kw + kx) * channels + c];
            }
            o[c] = clamp1(acc, b->depthwise_lower, b->depthwise_upper);
        }
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
    return (mien_mbconv_band_rows(b) - 1) * b->stride_height + b->kernel_height;
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
