// The same AVX2 kernels encoded with AVX-512VL ("avx512vl"): 32 vector registers instead of 16,
// which spares the long polynomial chains their spills. Philox runs on 512-bit registers
// (DEEPINIT_ZMM), two per step so that their multiply chains overlap: uniform_ about
// 1.45x and normal_ 1.2x faster than with 8-lane Philox on Zen 5. The direct (unstaged)
// transforms take 8 registers at a time: the tail quantile's long log, square root and division
// chains then overlap enough that float64 tails run 1.1x faster on Zen 5 (the staged path keeps
// groups of 4, which measured best there).
#define DEEPINIT_SIMD_TARGET "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq"
#define DEEPINIT_CORE_ABI avx512vl
#define DEEPINIT_ZMM
#define DEEPINIT_AVX2_PHILOX_SETS 4
#define DEEPINIT_AVX2_DIRECT_GROUP 8
// GCC 12 flags its own _mm512_undefined_* as uninitialized wherever 512-bit shifts, multiplies
// and extracts are inlined (GCC bug 105593): warnings about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define DEEPINIT_SIMD_ENTRY avx512vl_kernels
#include "cpu/avx2/kernels.h"
