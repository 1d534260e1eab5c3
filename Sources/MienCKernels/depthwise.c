#include "MienCKernels.h"
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
            int ky0, ky1;
            const int iy0 = window_rows(g, oy, &ky0, &ky1);
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

// The backward pass of the depthwise convolution (multiplier 1) over images
// [first, last): adds dL/dx into `dx` and dL/dkernel into `dkernel` (either may be NULL)
// from the pre-activation gradient `dz`. Threads give disjoint image ranges and their own
// `dkernel`; channels are contiguous, so both inner loops vectorize.
static inline __attribute__((always_inline)) void
depthwise_backward_body(const float *restrict x, const float *restrict kernel, const float *restrict dz,
                        float *restrict dx, float *restrict dkernel, const mien_window *g, int first, int last) {
    const int channels = g->channels;
    const ptrdiff_t row = (ptrdiff_t)g->width * channels;
    for (int n = first; n < last; n++) {
        const ptrdiff_t image = (ptrdiff_t)n * g->height * row;
        for (int oy = 0; oy < g->output_height; oy++) {
            int ky0, ky1;
            const int iy0 = window_rows(g, oy, &ky0, &ky1);
            for (int ox = 0; ox < g->output_width; ox++) {
                const int ix0 = ox * g->stride_width - g->pad_left;
                int kx0, kx1;
                taps_inside(ix0, g->kernel_width, g->dilation_width, g->width, &kx0, &kx1);
                const float *d = dz + (((ptrdiff_t)n * g->output_height + oy) * g->output_width + ox) * channels;
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        const ptrdiff_t xs = image + (ptrdiff_t)(iy0 + ky * g->dilation_height) * row
                                           + (ptrdiff_t)(ix0 + kx * g->dilation_width) * channels;
                        const ptrdiff_t ws = ((ptrdiff_t)ky * g->kernel_width + kx) * channels;
                        if (dx) {
                            float *restrict xo = dx + xs;
                            const float *restrict wp = kernel + ws;
                            for (int c = 0; c < channels; c++) xo[c] += d[c] * wp[c];
                        }
                        if (dkernel) {
                            float *restrict wo = dkernel + ws;
                            const float *restrict xp = x + xs;
                            for (int c = 0; c < channels; c++) wo[c] += d[c] * xp[c];
                        }
                    }
                }
            }
        }
    }
}

MIEN_DISPATCHED(depthwise_backward,
                (const float *x, const float *kernel, const float *dz, float *dx, float *dkernel,
                 const mien_window *window, int first, int last),
                (x, kernel, dz, dx, dkernel, window, first, last))

void mien_depthwise_conv2d_backward(const float *x, const float *kernel, const float *dz, float *dx,
                                    float *dkernel, const mien_window *window, int first, int last) {
    depthwise_backward_dispatch(x, kernel, dz, dx, dkernel, window, first, last);
}
