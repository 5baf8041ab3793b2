// Fill jobs for the C++ tests of the kernels: every output dtype, every law of the catalog
// (core::Laws) with its test cases, each handed to fn(job, label) as its own type.
#pragma once

#include <limits>

#include "cpu/kernel_table.h"

namespace deepinit {
namespace testing {

// The parameters each law of core::Laws is tested with, for compute type T: every law needs its
// cases here (a law without them does not compile), and every kernel test runs them all.
template <template <class> class Params>
struct TestCases;

template <>
struct TestCases<core::UniformParams> {
  template <class T, class Fn>
  static void each(Fn&& fn) {
    fn(core::UniformParams<T>{T(-1), T(2)}, "uniform");
  }
};

template <>
struct TestCases<core::NormalParams> {
  template <class T, class Fn>
  static void each(Fn&& fn) {
    fn(core::NormalParams<T>{T(0.25), T(1.5)}, "normal");
  }
};

// The truncated normal in each of its forms: central, one tail, far tail, log space, narrow.
template <>
struct TestCases<core::TruncatedNormalPlan> {
  template <class T, class Fn>
  static void each(Fn&& fn) {
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
    for (const Interval& i : intervals) {
      fn(core::plan_truncated_normal<T>(i.mean, i.std, i.a, i.b, i.a, i.b), i.label);
    }
  }
};

template <OutDtype D, template <class> class Params, class Fn>
void for_each_case(LawTag<Params>, const core::PhiloxKey& key, Fn& fn) {
  TestCases<Params>::template each<ComputeOf<D>>(
      [&](const Params<ComputeOf<D>>& params, const char* label) { fn(FillJob<D, Params>{key, params}, label); });
}

// Every (dtype, law, test case) as a job, handed to fn(job, label), each job of its own type.
template <class Fn>
void for_each_test_job(Fn&& fn) {
  const core::PhiloxKey key{0x12345678u, 0x9abcdef0u};
  for_each_dtype([&](auto tag) {
    for_each_law([&](auto law) { for_each_case<decltype(tag)::value>(law, key, fn); });
  });
}

template <OutDtype D, template <class> class Params>
cpu::RunsFn<D, Params> kernel_for(const cpu::KernelTable& table, const FillJob<D, Params>&) {
  return table.template get<D, Params>();
}

inline const char* dtype_label(OutDtype d) {
  return with_dtype(d, [](auto tag) { return DtypeTraits<decltype(tag)::value>::kName; });
}

}  // namespace testing
}  // namespace deepinit
