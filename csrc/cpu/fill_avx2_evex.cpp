// The same AVX2 kernels encoded with AVX-512VL ("avx512vl"): 32 vector registers instead of 16,
// which spares the long polynomial chains their spills (about 10% faster on Zen 4).
#define DEEPINIT_SIMD_TARGET "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq"
#define DEEPINIT_CORE_ABI avx512vl
#define DEEPINIT_SIMD_ENTRY fill_contiguous_avx2_evex
#include "cpu/fill_avx2_kernels.h"
