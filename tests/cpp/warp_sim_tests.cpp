// The CUDA kernels' algorithms run on the host lane by lane, against the scalar kernel's bits, so
// that the GPU's tiling, queueing and stores are checked on machines without a GPU:
// - contiguous runs (csrc/cuda/warp_fill.h): the phases of each warp tile in turn for all 32
//   lanes, as the GPU runs them between its warp barriers; every law, dtype and truncated-normal
//   form, over runs of many lengths, stream offsets (a carry into the counters' high word, the
//   wrap at 2^64) and alignments of the output;
// - aligned rows (csrc/cuda/row_fill.h): rows picked by id, each filled by every lane of its
//   group, over row lengths, group sizes, ids and offsets; the gaps between the rows untouched.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cuda/row_fill.h"
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

// Rows ids[i] of a table of `counters` counters a row, from stream position g0 (a counter's first
// element), into out + i * memory_stride, by groups of 2^group_shift lanes.
template <OutDtype D, template <class> class Params>
void simulate_aligned_rows(const FillJob<D, Params>& job, typename DtypeTraits<D>::Storage* out,
                           const std::vector<uint64_t>& ids, int64_t memory_stride, int64_t counters, int group_shift,
                           uint64_t g0) {
  using Compute = ComputeOf<D>;
  const core::PhiloxRoundKeys<uint32_t> keys(job.key);
  warp_fill::with_fixed_form(core::transform_of(job.params), [&](const auto& fixed) {
    const row_fill::AlignedRows<D, std::decay_t<decltype(fixed)>> rows{counters, group_shift};
    for (size_t i = 0; i < ids.size(); ++i) {
      for (int64_t lane = 0; lane < (int64_t{1} << group_shift); ++lane) {
        if (rows.has_counters(lane)) {
          rows.fill_row(out + i * memory_stride, core::counter_of<Compute>(g0) + ids[i] * static_cast<uint64_t>(counters),
                        lane, rows.last_counter(lane), keys, fixed);
        }
      }
    }
  });
}

// Returns the number of configurations that differ from the scalar kernel.
int check_aligned_rows(int& runs) {
  const int64_t row_counters[] = {1, 2, 3, 5, 8, 16, 25, 32, 33, 64};
  const uint64_t offsets[] = {0, 4, (uint64_t{1} << 34) - 16, ~uint64_t{0} - 7};
  const std::vector<uint64_t> ids = {0, 7, 3, 3, 1000003, uint64_t{1} << 40, 12};
  int failures = 0;
  testing::for_each_test_job([&](const auto& job, const char* label) {
    constexpr OutDtype D = std::decay_t<decltype(job)>::kDtype;
    using Storage = typename DtypeTraits<D>::Storage;
    constexpr int64_t per_counter = DtypeTraits<D>::kElementsPerCounter;
    const auto reference = testing::kernel_for(cpu::scalar_kernels(), job);
    for (const int64_t counters : row_counters) {
      const int64_t length = counters * per_counter;
      const int64_t memory_stride = length + per_counter;  // a gap of one counter after each row
      for (const uint64_t offset : offsets) {
        const uint64_t g0 = offset - offset % per_counter;
        // The launch's group size, and every other one.
        for (int group_shift = 0; group_shift <= 5; ++group_shift) {
          std::vector<Storage> expected(ids.size() * memory_stride), simulated(ids.size() * memory_stride);
          for (size_t i = 0; i < ids.size(); ++i) {
            reference(job, expected.data() + i * memory_stride, g0 + ids[i] * static_cast<uint64_t>(length),
                      cpu::Runs{1, length, 0, 0});
          }
          simulate_aligned_rows(job, simulated.data(), ids, memory_stride, counters, group_shift, g0);
          ++runs;
          if (std::memcmp(expected.data(), simulated.data(), expected.size() * sizeof(Storage)) != 0) {
            if (++failures <= 20) {
              std::printf("FAIL: aligned rows, %s, %s, %lld counters a row, offset %llu, group 2^%d\n", label,
                          testing::dtype_label(D), static_cast<long long>(counters),
                          static_cast<unsigned long long>(g0), group_shift);
            }
          }
        }
      }
    }
  });
  return failures;
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
  int row_runs = 0;
  const int row_failures = check_aligned_rows(row_runs);
  std::printf("aligned rows: %d of %d configurations differ from the scalar kernel\n", row_failures, row_runs);
  return failures || row_failures ? 1 : 0;
}
