// Fill jobs for the C++ tests of the kernels: every output dtype, every law, and the truncated
// normal in each of its forms (central, one tail, far tail, log space, narrow), each handed to
// fn(job, label) as its own type.
#pragma once

#include <limits>

#include "cpu/kernel_table.h"

namespace deepinit {
namespace testing {

template <class Fn>
void for_each_test_job(Fn&& fn) {
  const double inf = std::numeric_limits<double>::infinity();
  struct Interval {
    const char* label;
    double mean, std, a, b;
  };
  const Interval intervals[] = {
      {"trunc_normal [-2, 2]", 0.0, 1.0, -2.0, 2.0},     {"trunc_normal std 0.02", 0.0, 0.02, -2.0, 2.0},
      {"trunc_normal [5, 6]", 0.0, 1.0, 5.0, 6.0},       {"trunc_normal [20, inf]", 0.0, 1.0, 20.0, inf},
      {"trunc_normal [-30, -29]", 0.0, 1.0, -30.0, -29.0}, {"trunc_normal [1, 1.001]", 0.0, 1.0, 1.0, 1.001},
      {"trunc_normal [0, 1e-7]", 0.0, 1.0, 0.0, 1e-7},
  };
  const core::PhiloxKey key{0x12345678u, 0x9abcdef0u};
  for_each_dtype([&](auto tag) {
    constexpr OutDtype D = decltype(tag)::value;
    using T = ComputeOf<D>;
    fn(FillJob<D, core::UniformParams>{key, {T(-1), T(2)}}, "uniform");
    fn(FillJob<D, core::NormalParams>{key, {T(0.25), T(1.5)}}, "normal");
    for (const Interval& i : intervals) {
      fn(FillJob<D, core::TruncatedNormalPlan>{key, core::plan_truncated_normal<T>(i.mean, i.std, i.a, i.b, i.a, i.b)},
         i.label);
    }
  });
}

template <OutDtype D, template <class> class Params>
cpu::RunsFn<D, Params> kernel_for(const cpu::KernelTable& table, const FillJob<D, Params>&) {
  return table.template get<D, Params>();
}

inline const char* dtype_label(OutDtype d) {
  switch (d) {
    case OutDtype::kFloat32: return "float32";
    case OutDtype::kFloat64: return "float64";
    case OutDtype::kFloat16: return "float16";
    case OutDtype::kBFloat16: return "bfloat16";
  }
  return "?";
}

}  // namespace testing
}  // namespace deepinit
