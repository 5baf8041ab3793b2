// Baseline CPU kernel: one element at a time, straight from the stream contract. It runs on
// any CPU, and it is the reference that the SIMD kernels are tested against.
#include "cpu/contiguous_fill.h"

namespace deepinit {
namespace cpu {
namespace {

template <class Transform, OutDtype D>
void fill_range(const Transform& transform, DtypeTag<D>, core::PhiloxKey key, void* out, int64_t n, uint64_t g0) {
  using Traits = DtypeTraits<D>;
  using Compute = typename Traits::Compute;
  auto* dst = static_cast<typename Traits::Storage*>(out);
  uint32_t words[4];
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t g = g0 + static_cast<uint64_t>(i);
    if (i == 0 || g % Traits::kElementsPerCounter == 0) {
      core::philox_words(key, core::counter_of<Compute>(g), words);
    }
    dst[i] = Traits::store(transform(core::uniform_from_words<Compute>(words, g)));
  }
}

}  // namespace

void fill_contiguous_scalar(const FillJob& job, void* out, uint64_t g0, const Runs& runs) {
  visit_job(job, [&](const auto& transform, auto tag) {
    for (int64_t r = 0; r < runs.count; ++r) {
      fill_range(transform, tag, core::PhiloxKey{job.key0, job.key1}, static_cast<unsigned char*>(out) + r * runs.out_stride,
                 runs.length, g0 + static_cast<uint64_t>(r) * runs.g_stride);
    }
  });
}

}  // namespace cpu
}  // namespace deepinit
