// Compiles one kernel body for baseline x86-64, AVX2+FMA and (with MIEN_DISPATCHED3)
// AVX-512, and picks one at run time from the CPU's flags. Elsewhere (arm64, ...) the
// single build is used.
#ifndef MIEN_DISPATCH_H
#define MIEN_DISPATCH_H

#include "MienCKernels.h"

#define MIEN_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define MIEN_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))

#if defined(__x86_64__)
#define MIEN_DISPATCHED(NAME, PARAMS, ARGS)                                   \
    static void NAME##_portable PARAMS { NAME##_body ARGS; }                 \
    MIEN_TARGET_AVX2 static void NAME##_avx2 PARAMS { NAME##_body ARGS; }    \
    static void NAME##_dispatch PARAMS {                                      \
        if (mien_kernels_use_avx2()) NAME##_avx2 ARGS;                        \
        else NAME##_portable ARGS;                                            \
    }
// Each build defines NAME##_portable, NAME##_avx2 and NAME##_avx512 itself (they differ in
// more than the target: tile sizes follow the register count).
#define MIEN_DISPATCHED3(NAME, PARAMS, ARGS)                                  \
    static void NAME##_dispatch PARAMS {                                      \
        switch (mien_kernels_level()) {                                       \
        case MIEN_LEVEL_AVX512: NAME##_avx512 ARGS; break;                   \
        case MIEN_LEVEL_AVX2: NAME##_avx2 ARGS; break;                       \
        default: NAME##_portable ARGS; break;                                 \
        }                                                                     \
    }
// One body compiled for all three targets, for kernels whose builds differ in nothing else.
#define MIEN_DISPATCHED3_BODY(NAME, PARAMS, ARGS)                             \
    static void NAME##_portable PARAMS { NAME##_body ARGS; }                 \
    MIEN_TARGET_AVX2 static void NAME##_avx2 PARAMS { NAME##_body ARGS; }    \
    MIEN_TARGET_AVX512 static void NAME##_avx512 PARAMS { NAME##_body ARGS; } \
    MIEN_DISPATCHED3(NAME, PARAMS, ARGS)
#else
#define MIEN_DISPATCHED(NAME, PARAMS, ARGS) \
    static void NAME##_dispatch PARAMS { NAME##_body ARGS; }
#define MIEN_DISPATCHED3(NAME, PARAMS, ARGS) \
    static void NAME##_dispatch PARAMS { NAME##_portable ARGS; }
#define MIEN_DISPATCHED3_BODY(NAME, PARAMS, ARGS)             \
    static void NAME##_portable PARAMS { NAME##_body ARGS; } \
    MIEN_DISPATCHED3(NAME, PARAMS, ARGS)
#endif

#endif
