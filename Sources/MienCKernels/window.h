// What the window kernels (depthwise.c, conv.c) share: the vector type, the clamp of the
// epilogue, and which taps and rows of a window fall inside the image.
#ifndef MIEN_WINDOW_H
#define MIEN_WINDOW_H

#include "MienCKernels.h"

// Eight floats; unaligned, since rows start at any channel offset. Under the AVX2 target
// each operation is one instruction (and `acc += a * b` one FMA); under the baseline it
// is two SSE instructions.
typedef float v8 __attribute__((vector_size(32), aligned(4)));

typedef int i8v __attribute__((vector_size(32), aligned(4)));

// `x` clamped to [lower, upper], NaN staying NaN as in Keras (and as clamp16 does): compare
// and select, one max and one min instruction. A macro, not a function: a function taking
// v8 by value changes the ABI with AVX (-Wpsabi).
#define select8(mask, a, b) ((v8)((((i8v)(a)) & (mask)) | (((i8v)(b)) & ~(mask))))
#define clamp8(x, lower, upper) clamp8_hi(select8((x) < (lower), (lower), (x)), (upper))
#define clamp8_hi(y, upper) select8((y) > (upper), (upper), (y))

static inline __attribute__((always_inline)) float clamp1(float x, float lower, float upper) {
    return x < lower ? lower : (x > upper ? upper : x);
}

// The taps [*first, *end) of a window starting at `origin` (negative in the padding) that
// read inside an axis of `size`: out-of-image taps read zero, so they are skipped.
static inline __attribute__((always_inline)) void
taps_inside(int origin, int kernel, int dilation, int size, int *first, int *end) {
    int a = 0, b = kernel;
    while (a < b && origin + a * dilation < 0) a++;
    while (b > a && origin + (b - 1) * dilation >= size) b--;
    *first = a;
    *end = b;
}

// The first input row of output row `oy`'s window (negative in the padding); the kernel rows
// that read inside the image in [*ky0, *ky1).
static inline __attribute__((always_inline)) int window_rows(const mien_window *g, int oy, int *ky0, int *ky1) {
    const int iy0 = oy * g->stride_height - g->pad_top;
    taps_inside(iy0, g->kernel_height, g->dilation_height, g->height, ky0, ky1);
    return iy0;
}

#endif
