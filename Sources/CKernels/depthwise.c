#include "CKernels.h"
#include "dispatch.h"

#include <stddef.h>

// Eight floats; unaligned, since rows start at any channel offset. Under the AVX2 target
// each operation is one instruction (and `acc += a * b` one FMA); under the baseline it
// is two SSE instructions.
typedef float v8 __attribute__((vector_size(32), aligned(4)));

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
        for (int v = 0; v < (VECTORS); v++) {                                                 \
            v8 r = __builtin_elementwise_min(__builtin_elementwise_max(acc[v], lo), hi);      \
            *(v8 *)(out + c + 8 * v) = r;                                                     \
        }                                                                                     \
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
            int ky0 = 0, ky1 = g->kernel_height;
            while (ky0 < ky1 && iy0 + ky0 * g->dilation_height < 0) ky0++;
            while (ky1 > ky0 && iy0 + (ky1 - 1) * g->dilation_height >= g->height) ky1--;
            float *outRow = y + ((ptrdiff_t)n * g->output_height + oy) * g->output_width * channels;
            for (int ox = 0; ox < g->output_width; ox++) {
                const int ix0 = ox * g->stride_width - g->pad_left;
                int kx0 = 0, kx1 = g->kernel_width;
                while (kx0 < kx1 && ix0 + kx0 * g->dilation_width < 0) kx0++;
                while (kx1 > kx0 && ix0 + (kx1 - 1) * g->dilation_width >= g->width) kx1--;
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
                    out[c] = acc < lower ? lower : (acc > upper ? upper : acc);
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
