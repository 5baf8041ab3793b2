// The CPU kernels' inner interface: fill out[0, n) with stream elements g0, g0 + 1, ... (mod
// 2^64) of one job. Each instruction set implements it in its own translation unit over the
// same core, and fill_cpu.cpp picks one at run time; all give the same bits.
#pragma once

#include <cstdint>

#include "fill_job.h"

namespace deepinit {
namespace cpu {

using ContiguousFillFn = void (*)(const FillJob& job, void* out, int64_t n, uint64_t g0);

void fill_contiguous_scalar(const FillJob& job, void* out, int64_t n, uint64_t g0);
#if defined(__x86_64__) || defined(_M_X64)
void fill_contiguous_avx2(const FillJob& job, void* out, int64_t n, uint64_t g0);
void fill_contiguous_avx2_evex(const FillJob& job, void* out, int64_t n, uint64_t g0);
#endif

}  // namespace cpu
}  // namespace deepinit
