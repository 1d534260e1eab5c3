#include "MienCKernels.h"
#include "dispatch.h"

// The instruction set the kernels run: -1 not yet decided; 0 portable, 1 AVX2+FMA,
// 2 AVX-512. `cap` is the highest a caller allows (tests force the lower builds).
// Relaxed atomics: every thread computes the same answer.
static int level = -1;
static int cap = MIEN_LEVEL_AVX512;

static int cpu_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return MIEN_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return MIEN_LEVEL_AVX2;
#endif
    return MIEN_LEVEL_PORTABLE;
}

int mien_kernels_level(void) {
    int answer = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (answer < 0) {
        answer = cpu_level();
        int most = __atomic_load_n(&cap, __ATOMIC_RELAXED);
        if (answer > most) answer = most;
        __atomic_store_n(&level, answer, __ATOMIC_RELAXED);
    }
    return answer;
}

int mien_kernels_use_avx2(void) { return mien_kernels_level() >= MIEN_LEVEL_AVX2; }

void mien_kernels_limit_level(int most) {
    __atomic_store_n(&cap, most < 0 ? MIEN_LEVEL_AVX512 : most, __ATOMIC_RELAXED);
    __atomic_store_n(&level, -1, __ATOMIC_RELAXED);
}

void mien_kernels_use_portable(int portable) {
    mien_kernels_limit_level(portable ? MIEN_LEVEL_PORTABLE : -1);
}
