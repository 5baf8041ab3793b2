// A fill job: which fill, into which dtype, from which Philox key, with the core transform that
// makes its values. Backends receive jobs; the job holds only plain data (the transform as
// bytes), so it can cross from code compiled for one instruction set to code compiled for
// another (the CPU's AVX2 unit) without linking any type or inline function of one into the other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/half_precision.h"
#include "core/stream.h"
#include "core/transforms.h"

namespace deepinit {

enum class FillKind : int { kUniform, kNormal, kTruncatedNormal };
enum class OutDtype : int { kFloat32, kFloat64, kFloat16, kBFloat16 };

constexpr std::size_t kTransformBytes = sizeof(core::TruncatedNormalTransform<double>);

struct FillJob {
  FillKind kind;
  OutDtype dtype;
  uint32_t key0, key1;  // the Philox key (a core::PhiloxKey)
  // A core::{Uniform,Normal,TruncatedNormal}Transform<T>, T = double for kFloat64 else float.
  alignas(8) unsigned char transform[kTransformBytes];
};

template <class Transform>
void store_transform(FillJob& job, const Transform& transform) {
  static_assert(sizeof(Transform) <= kTransformBytes, "transform does not fit the job");
  std::memcpy(job.transform, &transform, sizeof(Transform));
}

template <class Transform>
Transform load_transform(const FillJob& job) {
  Transform transform;
  std::memcpy(&transform, job.transform, sizeof(Transform));
  return transform;
}

template <OutDtype D>
using DtypeTag = std::integral_constant<OutDtype, D>;

// What every backend knows of an output dtype: the type its values are computed in (the stream
// contract's), the type stored (16-bit floats as their bits), the elements one Philox counter
// gives, and the conversion on store (round to nearest even).
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

// Calls fn(transform, DtypeTag<dtype>{}) with the job's transform as this unit's own type.
template <class Fn>
void visit_job(const FillJob& job, Fn&& fn) {
  const auto with_transform = [&](auto tag) {
    using T = typename DtypeTraits<decltype(tag)::value>::Compute;
    switch (job.kind) {
      case FillKind::kUniform:
        return fn(load_transform<core::UniformTransform<T>>(job), tag);
      case FillKind::kNormal:
        return fn(load_transform<core::NormalTransform<T>>(job), tag);
      case FillKind::kTruncatedNormal:
        return fn(load_transform<core::TruncatedNormalTransform<T>>(job), tag);
    }
  };
  switch (job.dtype) {
    case OutDtype::kFloat32:
      return with_transform(DtypeTag<OutDtype::kFloat32>{});
    case OutDtype::kFloat64:
      return with_transform(DtypeTag<OutDtype::kFloat64>{});
    case OutDtype::kFloat16:
      return with_transform(DtypeTag<OutDtype::kFloat16>{});
    case OutDtype::kBFloat16:
      return with_transform(DtypeTag<OutDtype::kBFloat16>{});
  }
}

}  // namespace deepinit
