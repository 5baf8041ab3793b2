// Baseline CPU kernel: one element at a time, straight from the stream contract. It runs on
// any CPU, and it is the reference that the SIMD kernels are tested against.
#include "cpu/kernel_table.h"

namespace deepinit {
namespace cpu {
namespace {

template <OutDtype D, class Transform>
void fill_range(const Transform& transform, core::PhiloxKey key, void* out, int64_t n, uint64_t g0) {
  using Traits = DtypeTraits<D>;
  using Compute = typename Traits::Compute;
  auto* dst = static_cast<typename Traits::Storage*>(out);
  uint32_t words[4];
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t g = g0 + static_cast<uint64_t>(i);
    if (i == 0 || g % Traits::kElementsPerCounter == 0) {
      core::philox_words(key, core::counter_of<Compute>(g), words);
    }
    dst[i] = Traits::store(transform(core::bits_from_words<Compute>(words, g)));
  }
}

struct ScalarKernels {
  template <OutDtype D, template <class> class Params>
  static void fill(const FillJob<D, Params>& job, void* out, uint64_t g0, const Runs& runs) {
    const auto transform = core::transform_of(job.params);
    for (int64_t r = 0; r < runs.count; ++r) {
      fill_range<D>(transform, job.key, static_cast<unsigned char*>(out) + r * runs.out_stride, runs.length,
                    runs.start(g0, r));
    }
  }
};

}  // namespace

const KernelTable& scalar_kernels() {
  static const KernelTable table = KernelTable::of<ScalarKernels>();
  return table;
}

}  // namespace cpu
}  // namespace deepinit
