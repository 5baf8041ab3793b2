// The output dtypes and every fact about them, in one traits type that every layer reads: the
// type values are computed in (the stream contract's), the type stored (16-bit floats as their
// bits), how many elements a Philox counter gives, the conversion on store, and the rounding of
// a bound into the dtype. A dtype known at run time becomes a type once, in with_dtype, and
// nowhere else. Torch-free (the host's and the device's code alike); csrc/torch_dtypes.h maps
// torch's dtypes onto these.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "core/half_precision.h"
#include "core/stream.h"

namespace deepinit {

enum class OutDtype : int { kFloat32, kFloat64, kFloat16, kBFloat16 };

template <OutDtype D>
using DtypeTag = std::integral_constant<OutDtype, D>;

template <OutDtype D>
struct DtypeTraits {
  using Compute = std::conditional_t<D == OutDtype::kFloat64, double, float>;
  using Storage = std::conditional_t<D == OutDtype::kFloat64, double,
                                     std::conditional_t<D == OutDtype::kFloat32, float, uint16_t>>;
  static constexpr int kBytes = sizeof(Storage);
  static constexpr bool kHalf = sizeof(Storage) == 2;  // float16 or bfloat16: computed in float
  static constexpr int kShift = core::StreamLayout<Compute>::kShift;  // log2 of the elements per counter
  static constexpr int kElementsPerCounter = core::StreamLayout<Compute>::kElementsPerCounter;
  static constexpr const char* kName = D == OutDtype::kFloat32   ? "float32"
                                       : D == OutDtype::kFloat64 ? "float64"
                                       : D == OutDtype::kFloat16 ? "float16"
                                                                 : "bfloat16";

  DEEPINIT_HD static Storage store(Compute x) {
    if constexpr (D == OutDtype::kFloat16) {
      return core::float_to_half_bits(x);
    } else if constexpr (D == OutDtype::kBFloat16) {
      return core::float_to_bfloat16_bits(x);
    } else {
      return x;
    }
  }

  // The dtype's value nearest x on the inner side of a bound (up: the smallest >= x, else the
  // largest <= x); infinities stay.
  static double round_inward(double x, bool up) {
    if (std::isinf(x)) {
      return x;
    }
    if constexpr (D == OutDtype::kFloat64) {
      return x;
    } else if constexpr (D == OutDtype::kFloat32) {
      float f = static_cast<float>(x);
      if (up ? f < x : f > x) {
        f = std::nextafter(f, up ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity());
      }
      return f;
    } else if constexpr (D == OutDtype::kFloat16) {
      return round_to_16bit(x, up, core::float_to_half_bits, core::half_bits_to_float);
    } else {
      return round_to_16bit(x, up, core::float_to_bfloat16_bits, core::bfloat16_bits_to_float);
    }
  }

 private:
  // The 16-bit value nearest x on the inner side, from its bits (sign-magnitude order).
  template <class ToBits, class ToFloat>
  static double round_to_16bit(double x, bool up, ToBits to_bits, ToFloat to_float) {
    const auto step = [](uint16_t bits, bool toward_up) -> uint16_t {
      if ((bits & 0x7fff) == 0) {
        return toward_up ? 0x0001 : 0x8001;
      }
      return ((bits & 0x8000) != 0) != toward_up ? bits + 1 : bits - 1;
    };
    uint16_t h = to_bits(static_cast<float>(x));
    // The conversion went through float, so step until h is the first value on the right side.
    while (up ? static_cast<double>(to_float(h)) < x : static_cast<double>(to_float(h)) > x) {
      h = step(h, up);
    }
    for (uint16_t closer = step(h, !up); up ? static_cast<double>(to_float(closer)) >= x
                                            : static_cast<double>(to_float(closer)) <= x;
         closer = step(h, !up)) {
      h = closer;
    }
    return to_float(h);
  }
};

template <OutDtype D>
using ComputeOf = typename DtypeTraits<D>::Compute;

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
    case OutDtype::kFloat32:
      return fn(DtypeTag<OutDtype::kFloat32>{});
    case OutDtype::kFloat64:
      return fn(DtypeTag<OutDtype::kFloat64>{});
    case OutDtype::kFloat16:
      return fn(DtypeTag<OutDtype::kFloat16>{});
    case OutDtype::kBFloat16:
      return fn(DtypeTag<OutDtype::kBFloat16>{});
  }
  std::abort();  // not an OutDtype: no value of the enum reaches here
}

}  // namespace deepinit
