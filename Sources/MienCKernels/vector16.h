// Sixteen floats, the unit of the packed kernels: one AVX-512 register, two AVX2 ones, four
// SSE ones, depending on the target each function is compiled for.
#ifndef MIEN_VECTOR16_H
#define MIEN_VECTOR16_H

#include <string.h>

typedef float v16 __attribute__((vector_size(64), aligned(4)));

// `x` in every lane. Adding to -0, the additive identity, compiles to one broadcast; adding
// to +0 would first compute 0 + x in case x is -0.
#define splat16(x) ((v16){-0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, \
                          -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f} + (x))
#define load16(p) (*(const v16 *)(p))
typedef int i16 __attribute__((vector_size(64), aligned(4)));
typedef float v8h __attribute__((vector_size(32), aligned(4)));

// `x` clamped to [lower, upper], NaN staying NaN (as Keras's ReLU6 keeps it). Written as
// compare-and-select so that it compiles to one max and one min instruction each;
// __builtin_elementwise_max/min add a NaN fix-up per call.
#define select16(mask, a, b) ((v16)((((i16)(a)) & (mask)) | (((i16)(b)) & ~(mask))))
#define clamp16(x, lower, upper) clamp16_hi(select16((x) < (lower), (lower), (x)), (upper))
#define clamp16_hi(y, upper) select16((y) > (upper), (upper), (y))

// `v` = the `count` floats at `p` (all 16 when count ≥ 16), zeros after them: a tail read
// never passes the end of a row.
#define load16_tail(v, p, count)                                                   \
    do {                                                                           \
        const int n_ = (count);                                                    \
        if (n_ >= 16) {                                                            \
            (v) = load16(p);                                                       \
        } else {                                                                   \
            float t_[16] = {0};                                                    \
            if (n_ > 0) memcpy(t_, (p), sizeof(float) * (size_t)n_);               \
            memcpy(&(v), t_, sizeof t_);                                           \
        }                                                                          \
    } while (0)

// Stores the first `count` (at most 16) values of `v` at `y`, each plus `residual[i]` when
// `residual` is not NULL. A macro: functions taking v16 by value change ABI per target.
#define store16_tail(y, v, count, residual)                                        \
    do {                                                                           \
        const float *res_ = (residual);                                            \
        float *y_ = (y);                                                           \
        const int count_ = (count);                                                \
        if (count_ >= 16) {                                                        \
            *(v16 *)y_ = res_ ? (v) + load16(res_) : (v);                          \
        } else {                                                                   \
            /* A half-vector store first: 24- and 40-channel outputs end in 8. */  \
            float t_[16];                                                          \
            memcpy(t_, &(v), sizeof t_);                                           \
            int i_ = 0;                                                            \
            if (count_ >= 8) {                                                     \
                v8h h_;                                                            \
                memcpy(&h_, t_, sizeof h_);                                        \
                if (res_) {                                                        \
                    v8h r_;                                                        \
                    memcpy(&r_, res_, sizeof r_);                                  \
                    h_ += r_;                                                      \
                }                                                                  \
                memcpy(y_, &h_, sizeof h_);                                        \
                i_ = 8;                                                            \
            }                                                                      \
            for (; i_ < count_; i_++) y_[i_] = t_[i_] + (res_ ? res_[i_] : 0.0f);  \
        }                                                                          \
    } while (0)

#endif
