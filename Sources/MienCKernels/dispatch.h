// Compiles one kernel body twice, for baseline x86-64 and for AVX2+FMA, and picks one at
// run time from the CPU's flags. Elsewhere (arm64, ...) the single build is used.
#ifndef MIEN_DISPATCH_H
#define MIEN_DISPATCH_H

int mien_kernels_use_avx2(void);

#if defined(__x86_64__)
#define MIEN_DISPATCHED(NAME, PARAMS, ARGS)                                                   \
    static void NAME##_portable PARAMS { NAME##_body ARGS; }                                 \
    __attribute__((target("avx2,fma"))) static void NAME##_avx2 PARAMS { NAME##_body ARGS; } \
    static void NAME##_dispatch PARAMS {                                                      \
        if (mien_kernels_use_avx2()) NAME##_avx2 ARGS;                                        \
        else NAME##_portable ARGS;                                                            \
    }
#else
#define MIEN_DISPATCHED(NAME, PARAMS, ARGS) \
    static void NAME##_dispatch PARAMS { NAME##_body ARGS; }
#endif

#endif
