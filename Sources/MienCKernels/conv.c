#include "MienCKernels.h"
#include "dispatch.h"
#include "vector16.h"
#include "window.h"

#include <stddef.h>

// `VECTORS` blocks of 8 filters of one output pixel: every tap's channels are broadcast
// against a row of the HWIO kernel.
#define CONV_BLOCK(VECTORS)                                                                   \
    for (; f + 8 * (VECTORS) <= filters; f += 8 * (VECTORS)) {                               \
        v8 acc[VECTORS];                                                                      \
        for (int v = 0; v < (VECTORS); v++)                                                   \
            acc[v] = bias ? *(const v8 *)(bias + f + 8 * v) : (v8){0};                       \
        for (int ky = ky0; ky < ky1; ky++) {                                                  \
            const float *xr = image + (ptrdiff_t)(iy0 + ky * g->dilation_height) * row;      \
            for (int kx = kx0; kx < kx1; kx++) {                                              \
                const float *xp = xr + (ptrdiff_t)(ix0 + kx * g->dilation_width) * channels; \
                const float *wp = kernel + ((ptrdiff_t)(ky * g->kernel_width + kx) * channels) * filters + f; \
                for (int c = 0; c < channels; c++) {                                          \
                    const v8 a = (v8){0} + xp[c];                                             \
                    for (int v = 0; v < (VECTORS); v++)                                       \
                        acc[v] += a * *(const v8 *)(wp + (ptrdiff_t)c * filters + 8 * v);     \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (int v = 0; v < (VECTORS); v++)                                                   \
            *(v8 *)(out + f + 8 * v) = clamp8(acc[v], lo, hi);                                \
    }

// Two horizontally adjacent output pixels whose windows lie wholly inside the image
// columns, 32 filters: eight independent accumulators, each weight load used twice.
static inline __attribute__((always_inline)) void
conv2d_pair32(const float *restrict x0, const float *restrict x1, const float *restrict w, const float *restrict bias,
              float *restrict out0, float *restrict out1, int ky0, int ky1, int kernel_width, int channels,
              int filters, ptrdiff_t row, ptrdiff_t tapStep, float lower, float upper) {
    const v8 lo = (v8){0} + lower, hi = (v8){0} + upper;
    v8 a0[4], a1[4];
    for (int v = 0; v < 4; v++) a0[v] = a1[v] = bias ? *(const v8 *)(bias + 8 * v) : (v8){0};
    for (int ky = ky0; ky < ky1; ky++) {
        const float *p0 = x0 + ky * row, *p1 = x1 + ky * row;
        const float *wk = w + (ptrdiff_t)ky * kernel_width * channels * filters;
        for (int kx = 0; kx < kernel_width; kx++) {
            for (int c = 0; c < channels; c++) {
                const v8 b0 = (v8){0} + p0[kx * tapStep + c], b1 = (v8){0} + p1[kx * tapStep + c];
                const float *wp = wk + ((ptrdiff_t)kx * channels + c) * filters;
                for (int v = 0; v < 4; v++) {
                    const v8 wv = *(const v8 *)(wp + 8 * v);
                    a0[v] += b0 * wv;
                    a1[v] += b1 * wv;
                }
            }
        }
    }
    for (int v = 0; v < 4; v++) {
        *(v8 *)(out0 + 8 * v) = clamp8(a0[v], lo, hi);
        *(v8 *)(out1 + 8 * v) = clamp8(a1[v], lo, hi);
    }
}

// Four output pixels of one row whose windows lie wholly inside the image columns, 16
// filters (MTCNN's P-Net, and its 10 padded to 16): eight accumulators, each weight load
// used four times.
static inline __attribute__((always_inline)) void
conv2d_quad16(const float *restrict x0, ptrdiff_t pixelStep, const float *restrict w, const float *restrict bias,
              float *restrict out, int ky0, int ky1, int kernel_width, int channels, ptrdiff_t row,
              ptrdiff_t tapStep, float lower, float upper) {
    const v8 lo = (v8){0} + lower, hi = (v8){0} + upper;
    v8 a[4][2];
    for (int p = 0; p < 4; p++)
        for (int v = 0; v < 2; v++) a[p][v] = bias ? *(const v8 *)(bias + 8 * v) : (v8){0};
    for (int ky = ky0; ky < ky1; ky++) {
        const float *pr = x0 + ky * row;
        const float *wk = w + (ptrdiff_t)ky * kernel_width * channels * 16;
        for (int kx = 0; kx < kernel_width; kx++)
            for (int c = 0; c < channels; c++) {
                const float *wp = wk + ((ptrdiff_t)kx * channels + c) * 16;
                const v8 w0 = *(const v8 *)wp, w1 = *(const v8 *)(wp + 8);
                for (int p = 0; p < 4; p++) {
                    const v8 b = (v8){0} + pr[p * pixelStep + kx * tapStep + c];
                    a[p][0] += b * w0;
                    a[p][1] += b * w1;
                }
            }
    }
    for (int p = 0; p < 4; p++)
        for (int v = 0; v < 2; v++) *(v8 *)(out + 16 * p + 8 * v) = clamp8(a[p][v], lo, hi);
}

static inline __attribute__((always_inline)) void
conv2d_direct_body(const float *restrict x, const float *restrict kernel, const float *restrict bias,
                   float *restrict y, const mien_window *g, int filters, float lower, float upper) {
    const int channels = g->channels;
    const ptrdiff_t row = (ptrdiff_t)g->width * channels;
    const v8 lo = (v8){0} + lower, hi = (v8){0} + upper;
    for (int n = 0; n < g->batch; n++) {
        const float *image = x + (ptrdiff_t)n * g->height * row;
        for (int oy = 0; oy < g->output_height; oy++) {
            int ky0, ky1;
            const int iy0 = window_rows(g, oy, &ky0, &ky1);
            float *outRow = y + ((ptrdiff_t)n * g->output_height + oy) * g->output_width * filters;
            for (int ox = 0; ox < g->output_width; ox++) {
                const int ix0 = ox * g->stride_width - g->pad_left;
                const int ix1 = ix0 + g->stride_width;
                if (filters == 32 && ox + 1 < g->output_width && ix0 >= 0
                    && ix1 + (g->kernel_width - 1) * g->dilation_width < g->width) {
                    // The common stem (32 filters) on interior pixels, two at a time.
                    const float *x0 = image + (ptrdiff_t)iy0 * row + (ptrdiff_t)ix0 * channels;
                    conv2d_pair32(x0, x0 + (ptrdiff_t)g->stride_width * channels, kernel, bias,
                                  outRow + (ptrdiff_t)ox * filters, outRow + (ptrdiff_t)(ox + 1) * filters,
                                  ky0, ky1, g->kernel_width, channels, filters, row * g->dilation_height,
                                  (ptrdiff_t)g->dilation_width * channels, lower, upper);
                    ox++;
                    continue;
                }
                if (filters == 16 && ox + 3 < g->output_width && ix0 >= 0
                    && ix0 + 3 * g->stride_width + (g->kernel_width - 1) * g->dilation_width < g->width) {
                    conv2d_quad16(image + (ptrdiff_t)iy0 * row + (ptrdiff_t)ix0 * channels,
                                  (ptrdiff_t)g->stride_width * channels, kernel, bias, outRow + (ptrdiff_t)ox * 16,
                                  ky0, ky1, g->kernel_width, channels, row * g->dilation_height,
                                  (ptrdiff_t)g->dilation_width * channels, lower, upper);
                    ox += 3;
                    continue;
                }
                int kx0, kx1;
                taps_inside(ix0, g->kernel_width, g->dilation_width, g->width, &kx0, &kx1);
                float *out = outRow + (ptrdiff_t)ox * filters;
                int f = 0;
                CONV_BLOCK(4)
                CONV_BLOCK(1)
                for (; f < filters; f++) {
                    float acc = bias ? bias[f] : 0;
                    for (int ky = ky0; ky < ky1; ky++)
                        for (int kx = kx0; kx < kx1; kx++) {
                            const float *xp = image + (ptrdiff_t)(iy0 + ky * g->dilation_height) * row
                                            + (ptrdiff_t)(ix0 + kx * g->dilation_width) * channels;
                            const float *wp = kernel + ((ptrdiff_t)(ky * g->kernel_width + kx) * channels) * filters + f;
                            for (int c = 0; c < channels; c++) acc += xp[c] * wp[(ptrdiff_t)c * filters];
                        }
                    out[f] = clamp1(acc, lower, upper);
                }
            }
        }
    }
}

#define CONV2D_DIRECT_PARAMS                                                                        \
    (const float *x, const float *kernel, const float *bias, float *y, const mien_window *window, \
     int filters, float lower, float upper)
#define CONV2D_DIRECT_ARGS (x, kernel, bias, y, window, filters, lower, upper)
static void conv2d_direct_portable CONV2D_DIRECT_PARAMS { conv2d_direct_body CONV2D_DIRECT_ARGS; }

#if defined(__x86_64__)
MIEN_TARGET_AVX2 static void conv2d_direct_avx2 CONV2D_DIRECT_PARAMS { conv2d_direct_body CONV2D_DIRECT_ARGS; }

// AVX-512, 32 filters (the stem): `P` adjacent output pixels of one row at once, two v16
// of filters each, so that each weight vector is loaded once per tap and channel for P
// pixels (2 loads, P broadcasts, 2·P FMAs) instead of once per pixel, with 2·P independent
// accumulators to hide the FMA latency. Taps [ky0, ky1) × [kx0, kx1) of the windows
// starting at image[origin + p·pixelStep]. `K` (kernel width) and `C` (channels) are
// constants in the 3×3 RGB specialization, so that a kernel row's taps unroll.
static inline __attribute__((always_inline)) void
conv32_pixels(const int P, const int K, const int C, const float *restrict image, ptrdiff_t origin,
              ptrdiff_t pixelStep, ptrdiff_t tapStep, ptrdiff_t rowStep, int ky0, int ky1, int kx0, int kx1,
              const float *restrict w, const float *restrict bias, float *restrict out, float lower, float upper) {
    v16 acc[8][2]; // P ≤ 8; a fixed size, since acc[P] would be a variable-length array
    for (int p = 0; p < P; p++)
        for (int v = 0; v < 2; v++) acc[p][v] = bias ? load16(bias + 16 * v) : splat16(0.0f);
    for (int ky = ky0; ky < ky1; ky++)
        for (int kx = kx0; kx < kx1; kx++)
            for (int c = 0; c < C; c++) {
                const float *wp = w + ((ptrdiff_t)(ky * K + kx) * C + c) * 32;
                const v16 w0 = load16(wp), w1 = load16(wp + 16);
                // One offset, not a chain of pointer steps that may leave the image (padding).
                const float *xp = image + (origin + ky * rowStep + kx * tapStep + c);
                for (int p = 0; p < P; p++) {
                    const v16 b = splat16(xp[p * pixelStep]);
                    acc[p][0] += b * w0;
                    acc[p][1] += b * w1;
                }
            }
    const v16 lo = splat16(lower), hi = splat16(upper);
    for (int p = 0; p < P; p++)
        for (int v = 0; v < 2; v++) *(v16 *)(out + 32 * p + 16 * v) = clamp16(acc[p][v], lo, hi);
}

static inline __attribute__((always_inline)) void
conv2d_direct32(const int K, const int C, const float *restrict x, const float *restrict kernel,
                const float *restrict bias, float *restrict y, const mien_window *g, float lower, float upper) {
    const ptrdiff_t row = (ptrdiff_t)g->width * C;
    const ptrdiff_t pixelStep = (ptrdiff_t)g->stride_width * C, tapStep = (ptrdiff_t)g->dilation_width * C;
    const ptrdiff_t rowStep = row * g->dilation_height;
    const int ow = g->output_width;
    // Output columns [first, end) have their whole window inside the image's columns.
    int first = 0, end = ow;
    while (first < ow && first * g->stride_width - g->pad_left < 0) first++;
    while (end > first && (end - 1) * g->stride_width - g->pad_left + (K - 1) * g->dilation_width >= g->width) end--;
    for (int n = 0; n < g->batch; n++) {
        const float *image = x + (ptrdiff_t)n * g->height * row;
        for (int oy = 0; oy < g->output_height; oy++) {
            int ky0, ky1;
            const int iy0 = window_rows(g, oy, &ky0, &ky1);
            float *outRow = y + ((ptrdiff_t)n * g->output_height + oy) * ow * 32;
#define PIXELS(P, OX, KX0, KX1)                                                                                   \
    conv32_pixels(P, K, C, image, (ptrdiff_t)iy0 * row + (ptrdiff_t)((OX) * g->stride_width - g->pad_left) * C, \
                  pixelStep, tapStep, rowStep, ky0, ky1, KX0, KX1, kernel, bias, outRow + (ptrdiff_t)(OX) * 32,  \
                  lower, upper)
            for (int ox = 0; ox < ow; ox++) {
                if (ox == first) {
                    // Interior pixels: eight at a time (16 accumulators), then 4, then the last 1–3.
                    for (; ox + 8 <= end; ox += 8) PIXELS(8, ox, 0, K);
                    if (ox + 4 <= end) { PIXELS(4, ox, 0, K); ox += 4; }
                    switch (end - ox) {
                    case 3: PIXELS(3, ox, 0, K); break;
                    case 2: PIXELS(2, ox, 0, K); break;
                    case 1: PIXELS(1, ox, 0, K); break;
                    }
                    ox = end;
                    if (ox >= ow) break;
                }
                int kx0, kx1;
                taps_inside(ox * g->stride_width - g->pad_left, K, g->dilation_width, g->width, &kx0, &kx1);
                PIXELS(1, ox, kx0, kx1);
            }
#undef PIXELS
        }
    }
}

MIEN_TARGET_AVX512 static void conv2d_direct_avx512 CONV2D_DIRECT_PARAMS {
    if (filters != 32) conv2d_direct_body CONV2D_DIRECT_ARGS;
    else if (window->kernel_width == 3 && window->channels == 3)
        conv2d_direct32(3, 3, x, kernel, bias, y, window, lower, upper);
    else
        conv2d_direct32(window->kernel_width, window->channels, x, kernel, bias, y, window, lower, upper);
}
#endif
MIEN_DISPATCHED3(conv2d_direct, CONV2D_DIRECT_PARAMS, CONV2D_DIRECT_ARGS)

void mien_conv2d_direct(const float *x, const float *kernel, const float *bias, float *y,
                        const mien_window *window, int filters, float lower, float upper) {
    conv2d_direct_dispatch(x, kernel, bias, y, window, filters, lower, upper);
}
