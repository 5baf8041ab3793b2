// The CUDA kernels' algorithms run on the host lane by lane, against the scalar kernel's bits, so
// that the GPU's tiling, queueing and stores are checked on machines without a GPU:
// - contiguous runs (csrc/cuda/warp_fill.h): the phases of each warp tile in turn for all 32
//   lanes, as the GPU runs them between its warp barriers; every law, dtype and truncated-normal
//   form, over runs of many lengths, stream offsets (a carry into the counters' high word, the
//   wrap at 2^64) and alignments of the output;
// - aligned rows (csrc/cuda/row_fill.h): rows picked by id, each filled by every lane of its
//   group, over row lengths, group sizes, ids and offsets; the gaps between the rows untouched;
// - shifted rows (row_fill.h): rows of any length at any place in their counters and in memory,
//   a warp's groups in step as the GPU runs them (the longest row of the warp sets the steps),
//   values passed to the next lane as the warp shuffle does; the gaps untouched.
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

// Rows i of `length` elements at out + i * memory_stride, stream positions g0 + ids[i] * id_stride
// on, as fill_shifted_rows_kernel runs them: warps of 32 lanes in groups of 2^group_shift, a row a
// group, every lane of the warp in each slot. Returns false if a row's packs are not aligned to
// their size in memory (the GPU's vector stores need it).
template <OutDtype D, class Transform>
bool simulate_shifted_rows(const Transform& transform, const core::PhiloxRoundKeys<uint32_t>& keys,
                           typename DtypeTraits<D>::Storage* out, const std::vector<uint64_t>& ids,
                           int64_t memory_stride, uint64_t id_stride, int length, int group_shift, uint64_t g0) {
  using Rows = row_fill::ShiftedRows<D, Transform>;
  using Pack = typename Rows::Pack;
  constexpr int kWarp = warp_fill::kWarp;
  const int width = 1 << group_shift;
  const int64_t count = static_cast<int64_t>(ids.size());
  const int64_t rows_per_warp = kWarp >> group_shift;
  bool aligned = true;
  for (int64_t warp_first = 0; warp_first < count; warp_first += rows_per_warp) {
    typename Rows::Row rows[kWarp] = {};  // by lane: its group's row
    int packs = 0;
    for (int t = 0; t < kWarp; ++t) {
      const int64_t i = warp_first + (t >> group_shift);
      if (i < count) {
        rows[t] = Rows::row(out + i * memory_stride, g0 + ids[i] * id_stride, length);
        aligned = aligned && reinterpret_cast<uintptr_t>(rows[t].packs_at) % sizeof(Pack) == 0;
      }
      packs = rows[t].packs > packs ? rows[t].packs : packs;
    }
    Pack carry[kWarp] = {};
    for (int s0 = 0; s0 < packs; s0 += Rows::kCountersPerLane << group_shift) {
      const int slots = (packs - s0 + width - 1) >> group_shift;
      for (int j = 0; j < Rows::kCountersPerLane && j < slots; ++j) {
        Pack own[kWarp];
        for (int t = 0; t < kWarp; ++t) {
          own[t] = Rows::counter_values(rows[t], s0 + (j << group_shift) + (t & (width - 1)), keys, transform);
        }
        for (int t = 0; t < kWarp; ++t) {
          const int lane = t & (width - 1);
          const Pack before = own[(t & ~(width - 1)) + ((lane + width - 1) & (width - 1))];  // the shuffle
          const Pack previous = lane == 0 ? carry[t] : before;
          carry[t] = before;
          Rows::store(rows[t], s0 + (j << group_shift) + lane, previous, own[t]);
        }
      }
    }
  }
  return aligned;
}

// Returns the number of configurations that differ from the scalar kernel.
int check_shifted_rows(int& runs) {
  const int lengths[] = {1, 2, 3, 4, 5, 7, 8, 9, 17, 31, 64, 65, 130, 257};
  const int64_t gaps[] = {0, 1, 3, 5};                         // memory_stride = length + gap
  const uint64_t offsets[] = {0, 1, 3, 6, ~uint64_t{0} - 9};  // g0: any place in a counter, and the wrap
  const std::vector<uint64_t> ids = {0, 7, 3, 3, 1000003, uint64_t{1} << 40, 12, 5, 6, 1, 2, 9};
  int failures = 0;
  testing::for_each_test_job([&](const auto& job, const char* label) {
    constexpr OutDtype D = std::decay_t<decltype(job)>::kDtype;
    using Storage = typename DtypeTraits<D>::Storage;
    constexpr int per_pack = DtypeTraits<D>::kElementsPerCounter;
    const auto reference = testing::kernel_for(cpu::scalar_kernels(), job);
    const core::PhiloxRoundKeys<uint32_t> keys(job.key);
    for (const int length : lengths) {
      for (const int64_t gap : gaps) {
        const int64_t memory_stride = length + gap;
        // Rows at every place in a pack's memory, and ids a whole row apart or a counter's part more.
        for (int place = 0; place < per_pack; ++place) {
          for (const uint64_t id_stride : {static_cast<uint64_t>(length), static_cast<uint64_t>(length) + 1}) {
            for (const uint64_t g0 : offsets) {
              for (int group_shift = 0; group_shift <= 5; group_shift += 1 + (length > 64)) {
                const size_t size = ids.size() * memory_stride + 16;
                std::vector<Storage> expected(size), simulated(size);
                std::memset(expected.data(), 0x5a, size * sizeof(Storage));
                std::memset(simulated.data(), 0x5a, size * sizeof(Storage));
                // `place` elements past an address aligned to 16 bytes
                const size_t skip = (16 - reinterpret_cast<uintptr_t>(expected.data()) % 16) % 16 / sizeof(Storage);
                const size_t skip_simulated =
                    (16 - reinterpret_cast<uintptr_t>(simulated.data()) % 16) % 16 / sizeof(Storage);
                for (size_t i = 0; i < ids.size(); ++i) {
                  reference(job, expected.data() + skip + place + i * memory_stride, g0 + ids[i] * id_stride,
                            cpu::Runs{1, length, 0, 0});
                }
                bool aligned = false;
                warp_fill::with_fixed_form(core::transform_of(job.params), [&](const auto& fixed) {
                  aligned = simulate_shifted_rows<D>(fixed, keys, simulated.data() + skip_simulated + place, ids,
                                                     memory_stride, id_stride, length, group_shift, g0);
                });
                ++runs;
                if (!aligned || std::memcmp(expected.data() + skip, simulated.data() + skip_simulated,
                                            (ids.size() * memory_stride + per_pack) * sizeof(Storage)) != 0) {
                  if (++failures <= 20) {
                    std::printf("FAIL: shifted rows, %s, %s, length %d, gap %lld, place %d, id stride %llu, "
                                "offset %llu, group 2^%d\n",
                                label, testing::dtype_label(D), length, static_cast<long long>(gap), place,
                                static_cast<unsigned long long>(id_stride), static_cast<unsigned long long>(g0),
                                group_shift);
                  }
                }
              }
            }
          }
        }
      }
    }
  });
  return failures;
}

// The width of shifted rows' groups: narrow for many short rows, wide for few long ones, and at
// least 64 bytes a row and slot. Returns the number of choices that differ.
int check_shifted_row_groups() {
  using Float = row_fill::ShiftedRows<OutDtype::kFloat32, core::UniformTransform<float>>;
  using Half = row_fill::ShiftedRows<OutDtype::kBFloat16, core::UniformTransform<float>>;
  const int64_t lanes = 132 * 2048;  // an H100's or H200's 132 SMs, 2048 lanes each
  struct Case {
    int chosen, expected;
    const char* what;
  };
  const Case cases[] = {
      {Float::group_shift_for(8'000'000, 64, lanes), 2, "8M float32 rows of 64 (18 packs at most): 4 lanes"},
      {Float::group_shift_for(8'000'000, 120, lanes), 5, "8M float32 rows of 120 (32 packs at most): 32 lanes"},
      {Float::group_shift_for(100, 100'000, lanes), 5, "100 float32 rows of 100000: 32 lanes"},
      {Float::group_shift_for(20'000, 64, lanes), 5, "20000 float32 rows of 64: too few rows to fill the GPU 4 lanes a row"},
      {Half::group_shift_for(8'000'000, 64, lanes), 3, "8M bfloat16 rows of 64: 8 lanes (64 bytes)"},
  };
  int failures = 0;
  for (const Case& c : cases) {
    if (c.chosen != c.expected) {
      std::printf("FAIL: shifted rows' groups, %s: 2^%d lanes, expected 2^%d\n", c.what, c.chosen, c.expected);
      ++failures;
    }
  }
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
  int shifted_runs = 0;
  const int shifted_failures = check_shifted_rows(shifted_runs);
  std::printf("shifted rows: %d of %d configurations differ from the scalar kernel\n", shifted_failures,
              shifted_runs);
  const int group_failures = check_shifted_row_groups();
  return failures || row_failures || shifted_failures || group_failures ? 1 : 0;
}
