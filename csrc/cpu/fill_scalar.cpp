// Baseline CPU kernel: one element at a time, straight from the stream contract. It runs on
// any CPU, and it is the reference that the SIMD kernels are tested against.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "cpu/contiguous_fill.h"

namespace deepinit {
namespace cpu {
namespace {

template <OutDtype D>
struct ScalarOut;
template <>
struct ScalarOut<OutDtype::kFloat32> {
  using type = float;
};
template <>
struct ScalarOut<OutDtype::kFloat64> {
  using type = double;
};
template <>
struct ScalarOut<OutDtype::kFloat16> {
  using type = c10::Half;  // converts with round-to-nearest-even
};
template <>
struct ScalarOut<OutDtype::kBFloat16> {
  using type = c10::BFloat16;  // converts with round-to-nearest-even
};

template <class Transform, OutDtype D>
void fill_range(const Transform& transform, DtypeTag<D>, core::PhiloxKey key, void* out, int64_t n, uint64_t g0) {
  using Compute = std::conditional_t<D == OutDtype::kFloat64, double, float>;
  using Out = typename ScalarOut<D>::type;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  Out* dst = static_cast<Out*>(out);
  uint32_t words[4];
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t g = g0 + static_cast<uint64_t>(i);
    if (i == 0 || g % per_counter == 0) {
      core::philox_words(key, core::counter_of<Compute>(g), words);
    }
    dst[i] = static_cast<Out>(transform(core::uniform_from_words<Compute>(words, g)));
  }
}

}  // namespace

void fill_contiguous_scalar(const FillJob& job, void* out, int64_t n, uint64_t g0) {
  visit_job(job, [&](const auto& transform, auto tag) {
    fill_range(transform, tag, core::PhiloxKey{job.key0, job.key1}, out, n, g0);
  });
}

}  // namespace cpu
}  // namespace deepinit
