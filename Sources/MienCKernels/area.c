// The AREA resize's vertical pass (MTCNN's image pyramid, `Plane.areaResized`): rows of
// bytes, weighted, added into a row of floats.
//
// Why C: Swift's build targets baseline x86-64, so the loop ran 4 floats at a time with a
// separate multiply and add, 4.5% of a 640×480 frame's CPU time; the AVX2 build converts
// and accumulates 8 at a time with FMA.
#include "MienCKernels.h"
#include "dispatch.h"

static inline __attribute__((always_inline)) void
accumulate_bytes_body(float *restrict out, const unsigned char *restrict in, long count, float weight) {
    for (long j = 0; j < count; j++) out[j] += (float)in[j] * weight;
}

#define ACCUMULATE_PARAMS (float *out, const unsigned char *in, long count, float weight)
#define ACCUMULATE_ARGS (out, in, count, weight)
MIEN_DISPATCHED3_BODY(accumulate_bytes, ACCUMULATE_PARAMS, ACCUMULATE_ARGS)

void mien_accumulate_bytes(float *out, const unsigned char *in, long count, float weight) {
    if (count <= 0) return;
    accumulate_bytes_dispatch(out, in, count, weight);
}
