// The catalog of random laws: for each law of core::Laws, its op's name and parameters (the op
// schemas are made from these), and its plan: the checks of its arguments and their translation
// into the law's core parameters for one output dtype, on the host, before anything is written.
//
// A new law is its parameters and transform in core/transforms.h (and its place in core::Laws),
// an entry here, and a Python function: the op, its kernels on every backend and its fake
// follow from these.
#pragma once

#include <c10/util/Exception.h>

#include <cmath>
#include <limits>

#include "job.h"
#include "torch_dtypes.h"

namespace deepinit {

template <template <class> class Params>
struct Law;

namespace law_checks {

inline void finite(double value, const char* op, const char* name) {
  TORCH_CHECK(std::isfinite(value), "deepinit.", op, ": ", name, " must be finite, but got ", value);
}

}  // namespace law_checks

template <>
struct Law<core::UniformParams> {
  static constexpr const char* kName = "uniform_";
  static constexpr const char* kParameters = "float low=0., float high=1.";

  template <OutDtype D>
  static core::UniformParams<ComputeOf<D>> plan(double low, double high) {
    law_checks::finite(low, kName, "low");
    law_checks::finite(high, kName, "high");
    TORCH_CHECK(low <= high, "deepinit.uniform_: low must not exceed high, but got low=", low, " > high=", high);
    using T = ComputeOf<D>;
    const double span = high - low;
    if constexpr (D == OutDtype::kFloat64) {
      TORCH_CHECK(std::isfinite(span), "deepinit.uniform_: high - low overflows float64");
    } else {
      TORCH_CHECK(std::isfinite(static_cast<float>(span)), "deepinit.uniform_: high - low = ", span,
                  " overflows float32, in which ", dtype_name<D>(), " fills are computed");
    }
    return {static_cast<T>(low), static_cast<T>(span)};
  }
};

template <>
struct Law<core::NormalParams> {
  static constexpr const char* kName = "normal_";
  static constexpr const char* kParameters = "float mean=0., float std=1.";

  template <OutDtype D>
  static core::NormalParams<ComputeOf<D>> plan(double mean, double std) {
    law_checks::finite(mean, kName, "mean");
    law_checks::finite(std, kName, "std");
    TORCH_CHECK(std >= 0.0, "deepinit.normal_: std must be >= 0, but got std=", std);
    using T = ComputeOf<D>;
    return {static_cast<T>(mean), static_cast<T>(std)};
  }
};

template <>
struct Law<core::TruncatedNormalPlan> {
  static constexpr const char* kName = "trunc_normal_";
  static constexpr const char* kParameters = "float mean=0., float std=1., float a=-2., float b=2.";

  template <OutDtype D>
  static core::TruncatedNormalPlan<ComputeOf<D>> plan(double mean, double std, double a, double b) {
    // std > 0 first, so that a NaN std is the ValueError that torch's division by it would give.
    TORCH_CHECK_VALUE(std > 0.0, "deepinit.trunc_normal_: std must be positive, but got std=", std);
    law_checks::finite(mean, kName, "mean");
    law_checks::finite(std, kName, "std");
    TORCH_CHECK(!std::isnan(a) && !std::isnan(b), "deepinit.trunc_normal_: bounds a and b must not be NaN");
    TORCH_CHECK(a < b, "deepinit.trunc_normal_: a must be less than b, but got a=", a, ", b=", b);
    const double lo = DtypeTraits<D>::round_inward(a, /*up=*/true);
    const double hi = DtypeTraits<D>::round_inward(b, /*up=*/false);
    // A finite bound past the dtype's largest value leaves only an infinity, which is no value.
    const bool admits_a_value = lo <= hi && lo != std::numeric_limits<double>::infinity() &&
                                hi != -std::numeric_limits<double>::infinity();
    TORCH_CHECK(admits_a_value, "deepinit.trunc_normal_: no ", dtype_name<D>(), " value lies in [a, b] = [", a, ", ", b,
                "]");
    return core::plan_truncated_normal<ComputeOf<D>>(mean, std, a, b, lo, hi);
  }
};

}  // namespace deepinit
