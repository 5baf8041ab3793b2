// The AVX2 + FMA + F16C capability ("avx2").
#define DEEPINIT_SIMD_TARGET "avx2,fma,f16c"
#define DEEPINIT_CORE_ABI avx2
#define DEEPINIT_SIMD_ENTRY avx2_kernels
#include "cpu/avx2/kernels.h"
