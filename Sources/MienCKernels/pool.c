// Max and average pooling over NHWC windows.
//
// Why C: Swift's generic loop kept `max` as a compare and branch per channel and did not
// vectorize the short channel runs (10–64 channels in MTCNN's networks), where pooling was
// 6% of a detection. Here each window cell is one vector compare-and-select (or add) per
// 16 channels. The order of operations is the Swift kernel's, which matched Keras bit for
// bit: cells in raster order, sums divided at the end.
#include "MienCKernels.h"
#include "dispatch.h"

static inline __attribute__((always_inline)) void
pool_body(const float *restrict x, float *restrict y, const mien_window *g, int average) {
    const int c = g->channels;
    for (int n = 0; n < g->batch; n++) {
        for (int oy = 0; oy < g->output_height; oy++) {
            const int top = oy * g->stride_height - g->pad_top;
            const int y0 = top > 0 ? top : 0;
            const int y1 = top + g->kernel_height < g->height ? top + g->kernel_height : g->height;
            for (int ox = 0; ox < g->output_width; ox++) {
                const int left = ox * g->stride_width - g->pad_left;
                const int x0 = left > 0 ? left : 0;
                const int x1 = left + g->kernel_width < g->width ? left + g->kernel_width : g->width;
                float *restrict out = y + (((long)n * g->output_height + oy) * g->output_width + ox) * c;
                // TensorFlow's `same` padding is smaller than the window: every window holds
                // a real cell.
                for (int ch = 0; ch < c; ch++) out[ch] = average ? 0.0f : -__builtin_inff();
                for (int iy = y0; iy < y1; iy++) {
                    for (int ix = x0; ix < x1; ix++) {
                        const float *restrict in = x + (((long)n * g->height + iy) * g->width + ix) * c;
                        if (average) {
                            for (int ch = 0; ch < c; ch++) out[ch] += in[ch];
                        } else {
                            // Swift's max(out, in): `in >= out ? in : out` (a NaN in `in` is
                            // passed over, one already in `out` stays).
                            for (int ch = 0; ch < c; ch++) out[ch] = in[ch] >= out[ch] ? in[ch] : out[ch];
                        }
                    }
                }
                if (average) {
                    const float count = (float)((y1 - y0) * (x1 - x0));
                    for (int ch = 0; ch < c; ch++) out[ch] /= count;
                }
            }
        }
    }
}

#define POOL_PARAMS (const float *x, float *y, const mien_window *g, int average)
#define POOL_ARGS (x, y, g, average)
// Two constant-folded copies, so that neither has the other's branch in its channel loop.
#define POOL_SPLIT if (average) pool_body(x, y, g, 1); else pool_body(x, y, g, 0);
static void pool_portable POOL_PARAMS { POOL_SPLIT }
#if defined(__x86_64__)
MIEN_TARGET_AVX2 static void pool_avx2 POOL_PARAMS { POOL_SPLIT }
MIEN_TARGET_AVX512 static void pool_avx512 POOL_PARAMS { POOL_SPLIT }
#endif
MIEN_DISPATCHED3(pool, POOL_PARAMS, POOL_ARGS)

void mien_pool2d(const float *x, float *y, const mien_window *window, int average) {
    if (window->batch <= 0 || window->output_height <= 0 || window->output_width <= 0 || window->channels <= 0) return;
    pool_dispatch(x, y, window, average ? 1 : 0);
}
