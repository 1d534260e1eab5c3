#include "MienCKernels.h"
#include "dispatch.h"

// -1: not yet decided. Relaxed atomics: every thread computes the same answer.
static int use_avx2 = -1;

int mien_kernels_use_avx2(void) {
    int answer = __atomic_load_n(&use_avx2, __ATOMIC_RELAXED);
    if (answer < 0) {
#if defined(__x86_64__)
        __builtin_cpu_init();
        answer = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        answer = 0;
#endif
        __atomic_store_n(&use_avx2, answer, __ATOMIC_RELAXED);
    }
    return answer;
}

void mien_kernels_use_portable(int portable) {
    __atomic_store_n(&use_avx2, portable ? 0 : -1, __ATOMIC_RELAXED);
}
