// Times Mien's C kernels alone, to compare two versions of a kernel (build this file against
// each version's Sources/MienCKernels and run the binaries in turn: this machine's speed
// moves by ±40%, so take the best of several alternating runs).
//
//   clang -O2 -I Sources/MienCKernels/include -o /tmp/bench_kernels tools/bench_kernels.c \
//       Sources/MienCKernels/*.c -lm
//   /tmp/bench_kernels gemm M K N            # the packed 1×1 product, ReLU6
//   /tmp/bench_kernels block H C E O K S X   # one inverted-residual block on an H×H×C image:
//                                            # expand to E (X=1: no expansion), K×K depthwise,
//                                            # stride S, project to O; e.g. 112 16 96 24 3 2 0
//   /tmp/bench_kernels stem B                # EfficientNet-Lite0's stem, batch B (224 → 112)
//
// Each prints the best time of ~1 s of repetitions and the GFLOP/s (2 per multiply-add), and
// checks the result against plain loops (max |error|). MIEN_LEVEL=0/1/2 limits the build
// (portable, AVX2+FMA, AVX-512).
#include "MienCKernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *random_floats(long count) {
    float *p = malloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
    for (long i = 0; i < count; i++) p[i] = (rand() % 2001 - 1000) / 2000.0f;
    return p;
}

static float relu6(double v) { return v < 0 ? 0 : v > 6 ? 6 : (float)v; }

// Calls `run(context)` repeatedly for about a second; returns the best time in seconds.
static double best_time(void (*run)(void *), void *context) {
    double best = 1e9, start = now();
    while (now() - start < 1.0) {
        double t = now();
        run(context);
        t = now() - t;
        if (t < best) best = t;
    }
    return best;
}

typedef struct { const float *a, *packed; float *y; int m, k, n; } gemm_case;
static void run_gemm(void *p) {
    gemm_case *c = p;
    mien_gemm_packed(c->a, c->k, c->m, c->k, c->packed, c->n, 0, 6, 0, 0, c->y, c->n);
}

typedef struct { mien_mbconv block; const float *x; float *y, *scratch; } block_case;
static void run_block(void *p) {
    block_case *c = p;
    mien_mbconv_rows(&c->block, c->x, c->y, 0, c->block.output_height, c->scratch);
}

typedef struct { const float *x, *w, *b; float *y; mien_window g; } stem_case;
static void run_stem(void *p) {
    stem_case *c = p;
    mien_conv2d_direct(c->x, c->w, c->b, c->y, &c->g, 32, 0, 6);
}

static int gemm(int m, int k, int n) {
    float *a = random_floats((long)m * k), *w = random_floats((long)k * n), *bias = random_floats(n);
    float *packed = malloc(sizeof(float) * mien_packed_weights_size(k, n)), *y = malloc(sizeof(float) * m * n);
    mien_pack_weights(w, bias, k, n, packed);
    gemm_case c = {a, packed, y, m, k, n};
    double t = best_time(run_gemm, &c), worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = bias[j];
            for (int l = 0; l < k; l++) s += (double)a[(long)i * k + l] * w[(long)l * n + j];
            worst = fmax(worst, fabs(relu6(s) - y[(long)i * n + j]));
        }
    printf("gemm %d×%d → %d, level %d: %.3f ms, %.1f GFLOP/s, max error %.2g\n", m, k, n, mien_kernels_level(),
           t * 1e3, 2.0 * m * k * n / t / 1e9, worst);
    return 0;
}

static int block(int h, int c, int e, int o, int k, int s, int noExpand) {
    if (noExpand) e = c;
    const int pad = s == 1 ? k / 2 : 0, oh = s == 1 ? h : (h - k) / s + 1;
    float *x = random_floats((long)h * h * c), *we = random_floats((long)c * e), *be = random_floats(e);
    float *wd = random_floats((long)k * k * e), *bd = random_floats(e), *wp = random_floats((long)e * o);
    float *bp = random_floats(o);
    float *pe = malloc(sizeof(float) * mien_packed_weights_size(c, e));
    float *pp = malloc(sizeof(float) * mien_packed_weights_size(e, o));
    mien_pack_weights(we, be, c, e, pe);
    mien_pack_weights(wp, bp, e, o, pp);
    block_case bc = {{h, h, c, e, o, k, k, s, s, pad, pad, oh, oh, noExpand ? 0 : pe, 0, 6, wd, bd, 0, 6, pp,
                      -INFINITY, INFINITY, s == 1 && c == o}, x, malloc(sizeof(float) * oh * oh * o), 0};
    bc.scratch = malloc(sizeof(float) * mien_mbconv_scratch_size(&bc.block));
    double t = best_time(run_block, &bc);
    // Plain loops in float64: expand, depthwise, project (+ the input).
    double *ex = malloc(sizeof(double) * h * h * e), *dw = malloc(sizeof(double) * oh * oh * e), worst = 0;
    for (long p = 0; p < (long)h * h; p++)
        for (int j = 0; j < e; j++) {
            double v = x[p * c + j % c];
            if (!noExpand) {
                v = be[j];
                for (int l = 0; l < c; l++) v += (double)x[p * c + l] * we[(long)l * e + j];
                v = relu6(v);
            }
            ex[p * e + j] = v;
        }
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < oh; ox++)
            for (int j = 0; j < e; j++) {
                double v = bd[j];
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                        if (iy >= 0 && iy < h && ix >= 0 && ix < h) v += ex[((long)iy * h + ix) * e + j] * wd[(ky * k + kx) * e + j];
                    }
                dw[((long)oy * oh + ox) * e + j] = relu6(v);
            }
    for (long p = 0; p < (long)oh * oh; p++)
        for (int j = 0; j < o; j++) {
            double v = bp[j] + (bc.block.residual ? x[p * c + j] : 0);
            for (int l = 0; l < e; l++) v += dw[p * e + l] * wp[(long)l * o + j];
            worst = fmax(worst, fabs(v - bc.y[p * o + j]));
        }
    double flops = 2.0 * ((noExpand ? 0 : (double)h * h * c * e) + (double)oh * oh * e * (k * k + o));
    printf("block %d×%d×%d → %d → %d (%d×%d, stride %d), level %d: %.3f ms, %.1f GFLOP/s, max error %.2g\n", h, h, c,
           e, o, k, k, s, mien_kernels_level(), t * 1e3, flops / t / 1e9, worst);
    return 0;
}

static int stem(int batch) {
    stem_case sc = {random_floats((long)batch * 224 * 224 * 3), random_floats(27 * 32), random_floats(32),
                    malloc(sizeof(float) * batch * 112 * 112 * 32),
                    {batch, 224, 224, 3, 3, 3, 2, 2, 1, 1, 0, 0, 112, 112}};
    double t = best_time(run_stem, &sc), worst = 0;
    for (long n = 0; n < batch; n++)
        for (int oy = 0; oy < 112; oy++)
            for (int ox = 0; ox < 112; ox++)
                for (int f = 0; f < 32; f++) {
                    double v = sc.b[f];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy * 2 + ky, ix = ox * 2 + kx;
                            if (iy >= 224 || ix >= 224) continue;
                            for (int ch = 0; ch < 3; ch++)
                                v += (double)sc.x[((n * 224 + iy) * 224 + ix) * 3 + ch] * sc.w[((ky * 3 + kx) * 3 + ch) * 32 + f];
                        }
                    worst = fmax(worst, fabs(relu6(v) - sc.y[((n * 112 + oy) * 112 + ox) * 32 + f]));
                }
    printf("stem batch %d, level %d: %.3f ms, %.1f GFLOP/s, max error %.2g\n", batch, mien_kernels_level(), t * 1e3,
           batch * 112.0 * 112 * 32 * 27 * 2 / t / 1e9, worst);
    return 0;
}

int main(int argc, char **argv) {
    if (getenv("MIEN_LEVEL")) mien_kernels_limit_level(atoi(getenv("MIEN_LEVEL")));
    srand(1);
    if (argc == 5 && !strcmp(argv[1], "gemm")) return gemm(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (argc == 9 && !strcmp(argv[1], "block"))
        return block(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), atoi(argv[8]));
    if (argc == 3 && !strcmp(argv[1], "stem")) return stem(atoi(argv[2]));
    fprintf(stderr, "usage: bench_kernels gemm M K N | block H C E O K S NOEXPAND | stem BATCH\n");
    return 2;
}
