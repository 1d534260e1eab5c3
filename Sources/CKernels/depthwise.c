#include "CKernels.h"
#include "dispatch.h"
#include "window.h"

#include <stddef.h>

// Accumulates `VECTORS` blocks of 8 channels of one output pixel over the taps in
// [ky0, ky1) × [kx0, kx1). Several independent accumulators hide the FMA latency.
#define DEPTHWISE_BLOCK(VECTORS)                                                              \
    for (; c + 8 * (VECTORS) <= channels; c += 8 * (VECTORS)) {                             \
        v8 acc[VECTORS];                                                                      \
        for (int v = 0; v < (VECTORS); v++)                                                   \
            acc[v] = bias ? *(const v8 *)(bias + c + 8 * v) : (v8){0};                       \
        for (int ky = ky0; ky < ky1; ky++) {                                                  \
            const float *xr = image + (ptrdiff_t)(iy0 + ky * g->dilation_height) * row + c; \
            const float *wr = kernel + (ptrdiff_t)ky * g->kernel_width * channels + c;       \
            for (int kx = kx0; kx < kx1; kx++) {                                              \
                const float *xp = xr + (ptrdiff_t)(ix0 + kx * g->dilation_width) * channels; \
                const float *wp = wr + (ptrdiff_t)kx * channels;                              \
                for (int v = 0; v < (VECTORS); v++)                                           \
                    acc[v] += *(const v8 *)(xp + 8 * v) * *(const v8 *)(wp + 8 * v);          \
            }                                                                                 \
        }                                                                                     \
        for (int v = 0; v < (VECTORS); v++)                                                   \
            *(v8 *)(out + c + 8 * v) = clamp8(acc[v], lo, hi);                                \
    }

static inline __attribute__((always_inline)) void
depthwise_conv2d_body(const float *restrict x, const float *restrict kernel, const float *restrict bias,
                      float *restrict y, const mien_window *g, float lower, float upper) {
    const int channels = g->channels;
    const ptrdiff_t row = (ptrdiff_t)g->width * channels;
    const v8 lo = (v8){0} + lower, hi = (v8){0} + upper;
    for (int n = 0; n < g->batch; n++) {
        const float *image = x + (ptrdiff_t)n * g->height * row;
        for (int oy = 0; oy < g->output_height; oy++) {
            // The taps inside the image: out-of-image taps are zero and simply skipped.
            const int iy0 = oy * g->stride_height - g->pad_top;
            int ky0, ky1;
            taps_inside(iy0, g->kernel_height, g->dilation_height, g->height, &ky0, &ky1);
            float *outRow = y + ((ptrdiff_t)n * g->output_height + oy) * g->output_width * channels;
            for (int ox = 0; ox < g->output_width; ox++) {
                const int ix0 = ox * g->stride_width - g->pad_left;
                int kx0, kx1;
                taps_inside(ix0, g->kernel_width, g->dilation_width, g->width, &kx0, &kx1);
                float *out = outRow + (ptrdiff_t)ox * channels;
                int c = 0;
                DEPTHWISE_BLOCK(4)
                DEPTHWISE_BLOCK(1)
                for (; c < channels; c++) {
                    float acc = bias ? bias[c] : 0;
                    for (int ky = ky0; ky < ky1; ky++)
                        for (int kx = kx0; kx < kx1; kx++)
                            acc += image[(ptrdiff_t)(iy0 + ky * g->dilation_height) * row
                                         + (ptrdiff_t)(ix0 + kx * g->dilation_width) * channels + c]
                                 * kernel[((ptrdiff_t)ky * g->kernel_width + kx) * channels + c];
                    out[c] = clamp1(acc, lower, upper);
                }
            }
        }
    }
}

MIEN_DISPATCHED(depthwise_conv2d,
                (const float *x, const float *kernel, const float *bias, float *y,
                 const mien_window *window, float lower, float upper),
                (x, kernel, bias, y, window, lower, upper))

void mien_depthwise_conv2d(const float *x, const float *kernel, const float *bias, float *y,
                           const mien_window *window, float lower, float upper) {
    depthwise_conv2d_dispatch(x, kernel, bias, y, window, lower, upper);
}
