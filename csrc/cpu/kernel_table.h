// The CPU kernels' inner interface: fill runs of consecutive stream elements of one job. Each
// instruction set implements it in its own translation unit over the same core and exports its
// kernels as one table, a kernel for every (dtype, law); fill_cpu.cpp picks a table at run
// time. All give the same bits. Torch-free.
#pragma once

#include <cstdint>

#include "job.h"

namespace deepinit {
namespace cpu {

// `count` runs of `length` elements: run r starts at out + r * out_stride bytes and holds stream
// elements start(g0, r), start(g0, r) + 1, ... (mod 2^64), where run r starts at g0 + r * g_stride,
// or, given `starts` (rows picked by id), at starts[r]. A single run is a plain contiguous fill;
// several are the rows of a window, of a strided view or of a list of ids, done in one call.
struct Runs {
  int64_t count;
  int64_t length;
  int64_t out_stride;  // bytes
  uint64_t g_stride;
  const uint64_t* starts = nullptr;

  uint64_t start(uint64_t g0, int64_t r) const {
    return starts != nullptr ? starts[r] : g0 + static_cast<uint64_t>(r) * g_stride;
  }
};

template <OutDtype D, template <class> class Params>
using RunsFn = void (*)(const FillJob<D, Params>& job, void* out, uint64_t g0, const Runs& runs);

namespace detail {
template <template <class> class A, template <class> class B>
constexpr bool kSameLaw = std::is_same_v<A<float>, B<float>>;

template <template <class> class P, template <class> class... Laws>
constexpr int law_index(core::LawList<Laws...>) {
  int index = 0;
  int found = -1;
  ((found = found < 0 && kSameLaw<P, Laws> ? index : found, ++index), ...);
  return found;
}
template <template <class> class... Laws>
constexpr int law_count(core::LawList<Laws...>) {
  return sizeof...(Laws);
}
}  // namespace detail

// One instruction set's kernels: KernelTable::of<Kernels>() holds Kernels::fill<D, Params> for
// every output dtype and law of core::Laws; get<D, Params>() gives it back.
class KernelTable {
 public:
  template <class Kernels>
  static KernelTable of() {
    KernelTable table{};
    for_each_dtype([&](auto dtype) {
      for_each_law([&](auto law) { table.put<Kernels, decltype(dtype)::value>(law); });
    });
    return table;
  }

  template <OutDtype D, template <class> class Params>
  RunsFn<D, Params> get() const {
    constexpr int law = index<Params>();
    return reinterpret_cast<RunsFn<D, Params>>(entries_[static_cast<int>(D)][law]);
  }

 private:
  static constexpr int kDtypes = 4;
  static constexpr int kLaws = detail::law_count(core::Laws{});
  using Erased = void (*)();

  template <template <class> class Params>
  static constexpr int index() {
    constexpr int i = detail::law_index<Params>(core::Laws{});
    static_assert(i >= 0, "not a law of core::Laws");
    return i;
  }

  template <class Kernels, OutDtype D, template <class> class Params>
  void put(LawTag<Params>) {
    constexpr int law = index<Params>();
    entries_[static_cast<int>(D)][law] = reinterpret_cast<Erased>(&Kernels::template fill<D, Params>);
  }

  Erased entries_[kDtypes][kLaws];
};

const KernelTable& scalar_kernels();  // fill_scalar.cpp: one element at a time, any CPU
#if defined(__x86_64__) || defined(_M_X64)
const KernelTable& avx2_kernels();      // fill_avx2.cpp
const KernelTable& avx512vl_kernels();  // fill_avx2_evex.cpp
#endif

}  // namespace cpu
}  // namespace deepinit
