// What the window kernels (depthwise.c, conv.c) share: the vector type, the clamp of the
// epilogue, and which taps of a window fall inside the image.
#ifndef MIEN_WINDOW_H
#define MIEN_WINDOW_H

// Eight floats; unaligned, since rows start at any channel offset. Under the AVX2 target
// each operation is one instruction (and `acc += a * b` one FMA); under the baseline it
// is two SSE instructions.
typedef float v8 __attribute__((vector_size(32), aligned(4)));

// A macro, not a function: a function taking v8 by value changes the ABI with AVX (-Wpsabi).
#define clamp8(x, lower, upper) __builtin_elementwise_min(__builtin_elementwise_max((x), (lower)), (upper))

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

#endif
