// Activations with a parameter per channel, over NHWC rows of `channels` values.
//
// Why C: in Swift the PReLU select compiled to a branch, which mispredicts on half of the
// values (activations change sign at random): MTCNN's P-Net spent a fifth of its time there.
// Here the loop is a blend of two products the compiler vectorizes.
#include "MienCKernels.h"
#include "dispatch.h"

static inline __attribute__((always_inline)) void
prelu_body(const float *restrict x, float *restrict y, long rows, int channels, const float *restrict alpha) {
    for (long r = 0; r < rows; r++) {
        const float *restrict v = x + r * channels;
        float *restrict o = y + r * channels;
        for (int c = 0; c < channels; c++) {
            const float value = v[c];
            o[c] = value > 0 ? value : value * alpha[c];
        }
    }
}

#define PRELU_PARAMS (const float *x, float *y, long rows, int channels, const float *alpha)
#define PRELU_ARGS (x, y, rows, channels, alpha)
MIEN_DISPATCHED3_BODY(prelu, PRELU_PARAMS, PRELU_ARGS)

// Rows of a width that is not a multiple of 16 (MTCNN's 10 and 28 channels) end in a short
// tail that runs one value at a time: P-Net's first PReLU ran at 0.75 values per ns. So
// `period` rows at once, a width of whole vectors, with the slopes repeated to it.
enum { PRELU_MAX_SPAN = 1024 };

// Out of place: the input is the graph's value, which other layers may read, so an in-place
// pass first copied it (a memmove as long as the pass).
void mien_prelu_channels(const float *x, float *y, long rows, int channels, const float *alpha) {
    if (rows <= 0 || channels <= 0) return;
    int period = 1;
    while (((long)period * channels) % 16 && period < 16) period++;
    const long span = (long)period * channels;
    if (period > 1 && span <= PRELU_MAX_SPAN && rows >= period) {
        float tiled[PRELU_MAX_SPAN];
        for (long i = 0; i < span; i++) tiled[i] = alpha[i % channels];
        const long groups = rows / period;
        prelu_dispatch(x, y, groups, (int)span, tiled);
        x += groups * span;
        y += groups * span;
        rows -= groups * period;
    }
    if (rows > 0) prelu_dispatch(x, y, rows, channels, alpha);
}
