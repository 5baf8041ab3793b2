// The CUDA kernel's algorithm for contiguous runs (csrc/cuda/warp_fill.h), run on the host lane by
// lane: the phases of each warp tile in turn for all 32 lanes, as the GPU runs them between its
// warp barriers. Every law, dtype and truncated-normal form, over runs of many lengths, stream
// offsets (a carry into the counters' high word, the wrap at 2^64) and alignments of the output,
// must give the scalar kernel's bits: the GPU's tiling, queueing and stores are checked on
// machines without a GPU.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda/warp_fill.h"
#include "test_jobs.h"

using namespace deepinit;

namespace {

template <OutDtype D, class Transform>
void simulate_run(const Transform& transform, core::PhiloxKey key, void* out, int64_t n, uint64_t g0) {
  using Fill = warp_fill::WarpFill<D, Transform>;
  using Compute = typename Fill::Compute;
  const int lead = static_cast<int>(g0 % Fill::kPerCounter);
  const bool aligned = (reinterpret_cast<uintptr_t>(out) - lead * sizeof(typename Fill::Storage)) % 16 == 0;
  const typename Fill::RunT run{static_cast<typename Fill::Storage*>(out), n, core::counter_of<Compute>(g0), lead,
                                aligned, key, transform};
  std::vector<Compute> queue(Fill::kQueueCapacity);
  typename Fill::Lane lanes[warp_fill::kWarp];
  int base[warp_fill::kWarp];
  const typename Fill::TileRange interior = Fill::interior_tiles(run);
  const core::PhiloxRoundKeys<uint32_t> keys(key);
  for (int64_t tile = 0; tile < Fill::tiles(run); ++tile) {
    const bool is_interior = interior.begin <= tile && tile < interior.end;
    int total = 0;
    for (int lane = 0; lane < warp_fill::kWarp; ++lane) {
      base[lane] = total;
      total += Fill::generate(run, keys, tile, lane, lanes[lane]);
    }
    if constexpr (Fill::kCompact) {
      for (int lane = 0; lane < warp_fill::kWarp; ++lane) {
        Fill::enqueue(lanes[lane], queue.data(), base[lane]);
      }
      for (int lane = 0; lane < warp_fill::kWarp; ++lane) {
        Fill::solve(queue.data(), total, lane);
      }
      for (int lane = 0; lane < warp_fill::kWarp; ++lane) {
        Fill::dequeue(lanes[lane], queue.data(), base[lane]);
      }
    }
    for (int lane = 0; lane < warp_fill::kWarp; ++lane) {
      if (is_interior) {
        Fill::store_interior(run, tile, lane, lanes[lane]);
      } else {
        Fill::store_edge(run, tile, lane, lanes[lane]);
      }
    }
  }
}

// The run as the CUDA backend launches it: a truncated normal with its plan's form fixed.
template <OutDtype D, template <class> class Params>
void simulate(const FillJob<D, Params>& job, void* out, int64_t n, uint64_t g0) {
  warp_fill::with_fixed_form(core::transform_of(job.params),
                             [&](const auto& fixed) { simulate_run<D>(fixed, job.key, out, n, g0); });
}

}  // namespace

int main() {
  const int64_t lengths[] = {1, 2, 3, 5, 31, 33, 64, 255, 256, 257, 1000, 4099};
  const uint64_t offsets[] = {0, 1, 3, 5, (uint64_t{1} << 34) - 12, (uint64_t{1} << 33) - 6, ~uint64_t{0} - 6};
  int failures = 0;
  int runs = 0;
  testing::for_each_test_job([&](const auto& job, const char* label) {
    constexpr OutDtype D = std::decay_t<decltype(job)>::kDtype;
    using Storage = typename DtypeTraits<D>::Storage;
    const auto reference = testing::kernel_for(cpu::scalar_kernels(), job);
    for (const int64_t n : lengths) {
      for (const uint64_t g0 : offsets) {
        // The output at each 16-byte alignment the element size allows: aligned and unaligned tiles.
        for (int shift = 0; shift < 16 / static_cast<int>(sizeof(Storage)); shift += 1 + (sizeof(Storage) == 2)) {
          std::vector<Storage> expected(n + 8), simulated(n + 8);
          reference(job, expected.data() + shift, g0, cpu::Runs{1, n, 0, 0});
          simulate(job, simulated.data() + shift, n, g0);
          ++runs;
          if (std::memcmp(expected.data(), simulated.data(), expected.size() * sizeof(Storage)) != 0) {
            if (++failures <= 20) {
              std::printf("FAIL: %s, %s, n %lld, offset %llu, shift %d\n", label, testing::dtype_label(D),
                          static_cast<long long>(n), static_cast<unsigned long long>(g0), shift);
            }
          }
        }
      }
    }
  });
  std::printf("warp simulation: %d of %d runs differ from the scalar kernel\n", failures, runs);
  return failures ? 1 : 0;
}
