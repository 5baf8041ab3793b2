// The CPU kernels' inner interface: fill runs of consecutive stream elements of one job. Each
// instruction set implements it in its own translation unit over the same core, and
// fill_cpu.cpp picks one at run time; all give the same bits.
#pragma once

#include <cstdint>

#include "fill_job.h"

namespace deepinit {
namespace cpu {

// `count` runs of `length` elements: run r starts at out + r * out_stride bytes and holds stream
// elements g0 + r * g_stride, g0 + r * g_stride + 1, ... (mod 2^64). A single run is a plain
// contiguous fill; several are the rows of a window or of a strided view, done in one call.
struct Runs {
  int64_t count;
  int64_t length;
  int64_t out_stride;  // bytes
  uint64_t g_stride;
};

using ContiguousFillFn = void (*)(const FillJob& job, void* out, uint64_t g0, const Runs& runs);

void fill_contiguous_scalar(const FillJob& job, void* out, uint64_t g0, const Runs& runs);
// The CUDA kernel's algorithm run on the host (fill_warp_sim.cpp): a test vehicle, not a CPU kernel.
void fill_contiguous_warp_sim(const FillJob& job, void* out, uint64_t g0, const Runs& runs);
#if defined(__x86_64__) || defined(_M_X64)
void fill_contiguous_avx2(const FillJob& job, void* out, uint64_t g0, const Runs& runs);
void fill_contiguous_avx2_evex(const FillJob& job, void* out, uint64_t g0, const Runs& runs);
#endif

}  // namespace cpu
}  // namespace deepinit
