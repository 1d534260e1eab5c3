// The matrix product of 1×1 convolutions and of the fused MBConv block: activations times
// weights packed once at load, with bias, clamp and residual add applied in registers.
//
// Why not sgemm: OpenBLAS packs both operands again on every call and runs the thin
// K = 16…40 products of a mobile network's early layers poorly; and a separate pass for the
// bias, the activation and the residual Add reads and writes the whole tensor again. Here
// the weights are packed once (panels of 16 columns) and the rows of A are read in place,
// one broadcast per row and k. The tile shapes follow the register count: 8×32 with
// AVX-512 (16 of its 32 registers accumulate), 6×16 with AVX2 (12 of 16), 3×16 for the
// portable SSE build.
#include "MienCKernels.h"
#include "dispatch.h"
#include "vector16.h"

#include <math.h>
#include <string.h>

// Products with k > 192 run over parts of k of at most 128, so that a group's weights for
// one part (128 · 32 floats, 16 KB) stay in L1 while every row tile uses them; the partial
// sums wait in `y`. With 49×1152 → 320 this took 0.41 → 0.36 ms; with k ≤ 192 the weights
// fit anyway and the extra passes over `y` cost more than they save (3136×144 → 40:
// 0.43 → 0.56 ms).
enum { KC_SPLIT = 192, KC = 128 };
// And over blocks of rows whose k columns fit in half of L2 (512 KB), so that each block is
// read from L2 for every panel group: one pass of the rows per group streamed the whole
// activation from memory 40 times for a 3136×320 → 1280 product.
#ifndef A_BLOCK_BYTES
#define A_BLOCK_BYTES (512 * 1024)
#endif

long mien_packed_weights_size(int k, int n) {
    const long panels = ((long)n + 15) / 16;
    return panels * 16 + panels * 16 * (long)k;
}

void mien_pack_weights(const float *w, const float *bias, int k, int n, float *packed) {
    const long panels = ((long)n + 15) / 16;
    for (long j = 0; j < panels * 16; j++) packed[j] = (bias && j < n) ? bias[j] : 0;
    float *p = packed + panels * 16;
    for (long panel = 0; panel < panels; panel++)
        for (long l = 0; l < k; l++)
            for (long c = 0; c < 16; c++) {
                const long column = panel * 16 + c;
                *p++ = column < n ? w[l * n + column] : 0;
            }
}

// Every tile has this signature, so the driver picks one per block of rows.
typedef void (*tile_fn)(const float *a, long lda, const float *bp, long panel, int k, const float *bias,
                        int rows, int cols, float lower, float upper, const float *residual, long ldr,
                        float *y, long ldy);

// One MR × (16·NP) tile of the product: rows `a` (`lda` floats apart) times NP weight panels
// from `bp` (`panel` floats apart), starting from the tile's 16·NP `bias` values, or, when
// `bias` is NULL, from what `y` holds (the sum over the earlier part of k). Rows past
// `rows` repeat the last row and columns past `cols` are computed, but neither is stored.
// The rows are read in place: packing them (as sgemm does) cost as much as the product for
// the one- and two-panel products of a mobile network's projections.
#define GEMM_TILE(NAME, MR, NP, TARGET)                                                 \
    TARGET static void NAME(const float *restrict a, long lda, const float *restrict bp, long panel, \
                            int k, const float *restrict bias, int rows, int cols, float lower,      \
                            float upper, const float *restrict residual, long ldr, float *restrict y, \
                            long ldy) {                                                          \
        v16 acc[MR][NP];                                                                        \
        const float *ar[MR];                                                                    \
        for (int r = 0; r < (MR); r++) ar[r] = a + (r < rows ? r : rows - 1) * lda;            \
        if (bias) {                                                                             \
            _Pragma("clang loop unroll(full)")                                                 \
            for (int p = 0; p < (NP); p++) {                                                    \
                const v16 b = load16(bias + 16 * p);                                            \
                _Pragma("clang loop unroll(full)")                                             \
                for (int r = 0; r < (MR); r++) acc[r][p] = b;                                   \
            }                                                                                   \
        } else {                                                                                \
            _Pragma("clang loop unroll(full)")                                                 \
            for (int r = 0; r < (MR); r++)                                                      \
                _Pragma("clang loop unroll(full)")                                             \
                for (int p = 0; p < (NP); p++)                                                  \
                    load16_tail(acc[r][p], y + (r < rows ? r : rows - 1) * ldy + 16 * p, cols - 16 * p); \
        }                                                                                       \
        _Pragma("clang loop unroll_count(4)")                                                  \
        for (int l = 0; l < k; l++) {                                                           \
            v16 b[NP];                                                                          \
            _Pragma("clang loop unroll(full)")                                                 \
            for (int p = 0; p < (NP); p++) b[p] = load16(bp + p * panel + (long)l * 16);       \
            _Pragma("clang loop unroll(full)")                                                 \
            for (int r = 0; r < (MR); r++) {                                                    \
                const v16 x = splat16(ar[r][l]);                                                \
                _Pragma("clang loop unroll(full)")                                             \
                for (int p = 0; p < (NP); p++) acc[r][p] += x * b[p];                           \
            }                                                                                   \
        }                                                                                       \
        const v16 lo = splat16(lower), hi = splat16(upper);                                    \
        /* Unrolled, so that every accumulator keeps a constant index and its register. A   \
           whole tile (all rows, all 16·NP columns) stores without a test per vector: with   \
           k = 16 the tests cost a fifth of the tile. */                                      \
        if (rows == (MR) && cols >= 16 * (NP)) {                                                \
            if (residual) {                                                                     \
                _Pragma("clang loop unroll(full)")                                             \
                for (int r = 0; r < (MR); r++)                                                  \
                    _Pragma("clang loop unroll(full)")                                         \
                    for (int p = 0; p < (NP); p++)                                              \
                        *(v16 *)(y + r * ldy + 16 * p) =                                        \
                            clamp16(acc[r][p], lo, hi) + load16(residual + r * ldr + 16 * p);   \
            } else {                                                                            \
                _Pragma("clang loop unroll(full)")                                             \
                for (int r = 0; r < (MR); r++)                                                  \
                    _Pragma("clang loop unroll(full)")                                         \
                    for (int p = 0; p < (NP); p++)                                              \
                        *(v16 *)(y + r * ldy + 16 * p) = clamp16(acc[r][p], lo, hi);            \
            }                                                                                   \
            return;                                                                             \
        }                                                                                       \
        _Pragma("clang loop unroll(full)")                                                     \
        for (int r = 0; r < (MR); r++) {                                                        \
            if (r >= rows) continue;                                                            \
            _Pragma("clang loop unroll(full)")                                                 \
            for (int p = 0; p < (NP); p++) {                                                    \
                const v16 v = clamp16(acc[r][p], lo, hi);                                       \
                store16_tail(y + r * ldy + 16 * p, v, cols - 16 * p,                           \
                             residual ? residual + r * ldr + 16 * p : 0);                      \
            }                                                                                   \
        }                                                                                       \
    }

// The product, block of rows by block of rows (see A_BLOCK_BYTES); within a block, a group
// of NP panels (then single panels) at a time, part of k by part of k, each over the
// block's rows MR at a time: the group's weights for the part stay in L1 while the rows
// pass. (Row tiles outer, panels inner re-read all the weights from L3 for every MR rows
// once they outgrow L2: 64×1152 → 192 ran at 74 GFLOP/s, 256 rows at 55.)
//
// Rows left over after the full MR-row tiles run in tiles of MR/2 rows, then one row at a
// time (`TILE_HALF…`, `TILE_ROW…`): a tile computes all its rows whatever it stores, so
// the 9 pixels of a 3×3 map in 8 + 1-row tiles cost as much as 16.
#define GEMM_DRIVER(NAME, MR, NP, TILE, TILE1, TILE_HALF, TILE_HALF1, TILE_ROW, TILE_ROW1, TARGET) \
    TARGET static void NAME(const float *a, long lda, int m, int k, const float *packed, int n,   \
                            float lower, float upper, const float *residual, long ldr, float *y,  \
                            long ldy) {                                                           \
        const int panels = (n + 15) / 16;                                                         \
        const float *bias = packed, *w = packed + (long)panels * 16;                              \
        const long panel = (long)k * 16;                                                          \
        const int parts = k > KC_SPLIT ? (k + KC - 1) / KC : 1, kc = (k + parts - 1) / parts;     \
        /* Blocks of rows whose k columns fit in A_BLOCK_BYTES (at least MR rows). */             \
        long mc = (A_BLOCK_BYTES / 4 / (k > 0 ? k : 1)) / (MR) * (MR);                            \
        if (mc < (MR)) mc = (MR);                                                                 \
        for (int i0 = 0; i0 < m; i0 += (int)mc) {                                                 \
            const int i1 = m - i0 < mc ? m : i0 + (int)mc;                                       \
            for (int j = 0; j < panels;)                                                          \
            /* One part even when k = 0: the bias, clamped, plus the residual. */                 \
            for (int l0 = 0, once = 1; once || l0 < k; once = 0, l0 += kc) {                     \
                const int group = j + (NP) <= panels ? (NP) : 1, kk = k - l0 < kc ? k - l0 : kc; \
                const int last = l0 + kk == k;                                                    \
                const float *wj = w + j * panel + (long)l0 * 16, *bj = l0 ? 0 : bias + 16 * j;    \
                const float lo = last ? lower : -INFINITY, hi = last ? upper : INFINITY;          \
                for (int i = i0; i < i1;) {                                                       \
                    const int left = i1 - i;                                                      \
                    const int rows = left >= (MR) ? (MR) : left >= (MR) / 2 ? (MR) / 2 : 1;     \
                    const float *ai = a + (long)i * lda + l0;                                     \
                    const float *res = residual && last ? residual + (long)i * ldr + 16 * j : 0;  \
                    const tile_fn tile = rows == (MR) ? (group == (NP) ? TILE : TILE1)              \
                                       : rows > 1 ? (group == (NP) ? TILE_HALF : TILE_HALF1)        \
                                       : (group == (NP) ? TILE_ROW : TILE_ROW1);                    \
                    tile(ai, lda, wj, panel, kk, bj, rows, n - 16 * j, lo, hi, res, ldr,            \
                         y + (long)i * ldy + 16 * j, ldy);                                          \
                    i += rows;                                                                    \
                }                                                                                 \
                if (last) j += group;                                                             \
            }                                                                                     \
        }                                                                                         \
    }

GEMM_TILE(gemm_tile_portable, 3, 1, )
GEMM_TILE(gemm_row_portable, 1, 1, )
GEMM_DRIVER(gemm_packed_portable, 3, 1, gemm_tile_portable, gemm_tile_portable, gemm_row_portable,
            gemm_row_portable, gemm_row_portable, gemm_row_portable, )
#if defined(__x86_64__)
GEMM_TILE(gemm_tile_avx2, 6, 1, MIEN_TARGET_AVX2)
GEMM_TILE(gemm_half_avx2, 3, 1, MIEN_TARGET_AVX2)
GEMM_TILE(gemm_row_avx2, 1, 1, MIEN_TARGET_AVX2)
GEMM_DRIVER(gemm_packed_avx2, 6, 1, gemm_tile_avx2, gemm_tile_avx2, gemm_half_avx2, gemm_half_avx2,
            gemm_row_avx2, gemm_row_avx2, MIEN_TARGET_AVX2)
GEMM_TILE(gemm_tile_avx512, 8, 2, MIEN_TARGET_AVX512)
GEMM_TILE(gemm_tile1_avx512, 8, 1, MIEN_TARGET_AVX512)
GEMM_TILE(gemm_half_avx512, 4, 2, MIEN_TARGET_AVX512)
GEMM_TILE(gemm_half1_avx512, 4, 1, MIEN_TARGET_AVX512)
GEMM_TILE(gemm_row_avx512, 1, 2, MIEN_TARGET_AVX512)
GEMM_TILE(gemm_row1_avx512, 1, 1, MIEN_TARGET_AVX512)
GEMM_DRIVER(gemm_packed_avx512, 8, 2, gemm_tile_avx512, gemm_tile1_avx512, gemm_half_avx512, gemm_half1_avx512,
            gemm_row_avx512, gemm_row1_avx512, MIEN_TARGET_AVX512)
#endif

MIEN_DISPATCHED3(gemm_packed,
                 (const float *a, long lda, int m, int k, const float *packed, int n, float lower,
                  float upper, const float *residual, long ldr, float *y, long ldy),
                 (a, lda, m, k, packed, n, lower, upper, residual, ldr, y, ldy))

void mien_gemm_packed(const float *a, long lda, int m, int k, const float *packed, int n,
                      float lower, float upper, const float *residual, long ldr, float *y, long ldy) {
    if (m <= 0 || n <= 0) return;
    gemm_packed_dispatch(a, lda, m, k, packed, n, lower, upper, residual, ldr, y, ldy);
}
