// A fill job: one law's parameters, planned for one output dtype, and the Philox key. Every
// backend's kernels receive jobs, typed by dtype and law from the op boundary on; the job is plain
// data, so it crosses from code compiled for one instruction set to code compiled for another
// (the CPU's AVX2 units) or to the GPU. Torch-free.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/half_precision.h"
#include "core/stream.h"
#include "core/transforms.h"

namespace deepinit {

enum class OutDtype : int { kFloat32, kFloat64, kFloat16, kBFloat16 };

template <OutDtype D>
using DtypeTag = std::integral_constant<OutDtype, D>;

// What every backend knows of an output dtype: the type its values are computed in (the stream
// contract's), the type stored (16-bit floats as their bits), the elements one Philox counter
// gives, and the conversion on store (core/half_precision.h).
template <OutDtype D>
struct DtypeTraits {
  using Compute = std::conditional_t<D == OutDtype::kFloat64, double, float>;
  using Storage = std::conditional_t<D == OutDtype::kFloat64, double,
                                     std::conditional_t<D == OutDtype::kFloat32, float, uint16_t>>;
  static constexpr int kElementsPerCounter = core::StreamLayout<Compute>::kElementsPerCounter;

  DEEPINIT_HD static Storage store(Compute x) {
    if constexpr (D == OutDtype::kFloat16) {
      return core::float_to_half_bits(x);
    } else if constexpr (D == OutDtype::kBFloat16) {
      return core::float_to_bfloat16_bits(x);
    } else {
      return x;
    }
  }
};

template <OutDtype D>
using ComputeOf = typename DtypeTraits<D>::Compute;

// Params: the law's parameters (one of core::Laws), planned for D.
template <OutDtype D, template <class> class Params>
struct FillJob {
  static constexpr OutDtype kDtype = D;
  core::PhiloxKey key;
  Params<ComputeOf<D>> params;
};

// A generator's (or a seed's) key and the first Philox counter of a fill: known on the host, or,
// while a CUDA graph is being captured, read on the device at each replay from where the
// generator keeps them (ATen's PhiloxCudaState: the seed, and an offset in 32-bit words, 4 per
// counter).
struct GeneratorReservation {
  uint64_t seed;
  uint64_t counter;
  const uint64_t* captured_seed;  // non-null while captured: then the seed and counter are read there
  const uint64_t* captured_words;
  uint64_t captured_extra_words;
};

// Where a fill's stream starts (csrc/stream_start.h decides it): `offset` elements after the first
// position of the reservation's counter lies the logical tensor's element 0.
struct StreamStart {
  GeneratorReservation source;
  uint64_t offset;

  template <class T>
  DEEPINIT_HD core::StreamOrigin origin() const {
    uint64_t seed = source.seed;
    uint64_t counter = source.counter;
    if (source.captured_seed != nullptr) {
      seed = *source.captured_seed;
      counter = (*source.captured_words + source.captured_extra_words) / 4;
    }
    return core::stream_origin<T>(seed, counter, offset);
  }
};

// Calls fn(DtypeTag<D>{}) for every output dtype D.
template <class Fn>
void for_each_dtype(Fn&& fn) {
  fn(DtypeTag<OutDtype::kFloat32>{});
  fn(DtypeTag<OutDtype::kFloat64>{});
  fn(DtypeTag<OutDtype::kFloat16>{});
  fn(DtypeTag<OutDtype::kBFloat16>{});
}

// fn(DtypeTag<dtype>{}): the one place where a dtype known at run time becomes a type.
template <class Fn>
decltype(auto) with_dtype(OutDtype dtype, Fn&& fn) {
  switch (dtype) {
    case OutDtype::kFloat64:
      return fn(DtypeTag<OutDtype::kFloat64>{});
    case OutDtype::kFloat16:
      return fn(DtypeTag<OutDtype::kFloat16>{});
    case OutDtype::kBFloat16:
      return fn(DtypeTag<OutDtype::kBFloat16>{});
    default:
      return fn(DtypeTag<OutDtype::kFloat32>{});
  }
}

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
