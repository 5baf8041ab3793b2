// The AVX2 kernels, compiled once per x86 capability by a unit that defines
// DEEPINIT_SIMD_TARGET (the instruction sets, as for __attribute__((target))), DEEPINIT_CORE_ABI
// and DEEPINIT_SIMD_ENTRY (the function that returns its kernel table): fill_avx2.cpp for AVX2, fill_avx2_evex.cpp
// for the same code with AVX-512VL encodings (32 registers). fill_cpu.cpp picks one at run time
// by what the CPU supports; all equal the scalar kernels bit for bit.
//
// The layers, each a header beside this one:
//   lanes.h           AVX2 registers as the core's lane types (8 float, 4 double lanes);
//   philox_step.h     one Philox step on 8 x kPhiloxSets counters, words into element order;
//   counter_plans.h   which counters each step takes: a run, rows, or a gathered block;
//   transform_pass.h  the core's transforms over a plan's steps, direct or staged;
//   sinks.h           where the transformed registers go: a run, rows, column blocks;
//   window_fills.h    the fills built from them, one per shape of work.
#if defined(__x86_64__) || defined(_M_X64)

// Standard headers first, so that only our own code below is compiled for AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

// Pragmas do not expand macros: build them with _Pragma.
#define DEEPINIT_PRAGMA(text) _Pragma(#text)
#define DEEPINIT_TARGET_PRAGMA(isa) DEEPINIT_PRAGMA(GCC target(isa))
#define DEEPINIT_CLANG_TARGET_PRAGMA(isa) \
  DEEPINIT_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#if defined(__clang__)
DEEPINIT_CLANG_TARGET_PRAGMA(DEEPINIT_SIMD_TARGET)
#elif defined(__GNUC__)
#pragma GCC push_options
DEEPINIT_TARGET_PRAGMA(DEEPINIT_SIMD_TARGET)
#endif

#include "cpu/avx2/window_fills.h"

namespace deepinit {
namespace cpu {

namespace {
struct SimdKernels {
  template <OutDtype D, template <class> class Params>
  static void fill(const FillJob<D, Params>& job, void* out, uint64_t g0, const Runs& runs) {
    const RoundKeys keys(job.key);
    fill_runs(core::transform_of(job.params), DtypeTag<D>{}, keys, static_cast<unsigned char*>(out), g0, runs);
  }
};
}  // namespace

const KernelTable& DEEPINIT_SIMD_ENTRY() {
  static const KernelTable table = KernelTable::of<SimdKernels>();
  return table;
}

}  // namespace cpu
}  // namespace deepinit

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif  // x86-64
