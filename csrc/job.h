// A fill job: one law's parameters, planned for one output dtype, and the Philox key. Every
// backend's kernels receive jobs, typed by dtype and law from the op boundary on; the job is plain
// data, so it crosses from code compiled for one instruction set to code compiled for another
// (the CPU's AVX2 units) or to the GPU. Torch-free.
#pragma once

#include <cstdint>

#include "core/transforms.h"
#include "dtypes.h"

namespace deepinit {

// Params: the law's parameters (one of core::Laws), planned for D.
template <OutDtype D, template <class> class Params>
struct FillJob {
  static constexpr OutDtype kDtype = D;
  core::PhiloxKey key;
  Params<ComputeOf<D>> params;
};

// A law of core::Laws as a value.
template <template <class> class Params>
struct LawTag {};

// Calls fn(LawTag<P>{}) for every law P of core::Laws.
template <class Fn, template <class> class... Params>
void for_each_law_of(core::LawList<Params...>, Fn&& fn) {
  (fn(LawTag<Params>{}), ...);
}
template <class Fn>
void for_each_law(Fn&& fn) {
  for_each_law_of(core::Laws{}, fn);
}

}  // namespace deepinit
