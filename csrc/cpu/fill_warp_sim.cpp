// The CUDA kernel's algorithm for contiguous runs (cuda/warp_fill.h), run on the host lane by lane:
// the phases of each warp tile in turn for all 32 lanes, as the GPU runs them between its warp
// barriers. Registered as the CPU capability "cuda_warp_sim" for tests: every test that compares
// the CPU kernels checks the GPU's tiling, queueing and stores too, on machines without a GPU.
#include <vector>

#include "cpu/contiguous_fill.h"
#include "cuda/warp_fill.h"

namespace deepinit {
namespace cpu {
namespace {

template <OutDtype D, class Transform>
void fill_run(const Transform& transform, core::PhiloxKey key, void* out, int64_t n, uint64_t g0) {
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
  for (int64_t tile = 0; tile < Fill::tiles(run); ++tile) {
    const bool is_interior = interior.begin <= tile && tile < interior.end;
    int total = 0;
    for (int lane = 0; lane < warp_fill::kWarp; ++lane) {
      base[lane] = total;
      total += Fill::generate(run, tile, lane, lanes[lane]);
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

}  // namespace

void fill_contiguous_warp_sim(const FillJob& job, void* out, uint64_t g0, const Runs& runs) {
  visit_job(job, [&](const auto& transform, auto tag) {
    warp_fill::with_fixed_form(transform, [&](const auto& fixed) {
      for (int64_t r = 0; r < runs.count; ++r) {
        fill_run<decltype(tag)::value>(fixed, core::PhiloxKey{job.key0, job.key1},
                                       static_cast<unsigned char*>(out) + r * runs.out_stride, runs.length,
                                       g0 + static_cast<uint64_t>(r) * runs.g_stride);
      }
    });
  });
}

}  // namespace cpu
}  // namespace deepinit
