// The fills of the AVX2 kernels, one per shape of work: a contiguous run, and four kinds of
// rows shorter than kShortRun (the rows of a window or of a strided view). Each is a pipeline of
// the layers beside this file: a counter plan (counter_plans.h) -> one Philox step per plan step
// (philox_step.h) -> a transform pass (transform_pass.h) -> a sink (sinks.h); fill_runs picks
// one by the runs' shape.
// Part of cpu/avx2/kernels.h, compiled once per x86 capability.
#pragma once

#include <algorithm>
#include <cstring>

#include "cpu/avx2/counter_plans.h"
#include "cpu/avx2/sinks.h"
#include "cpu/avx2/transform_pass.h"
#include "cpu/kernel_table.h"

namespace deepinit {
namespace cpu {
namespace {

// One contiguous run: consecutive counters from g0's.
template <class Transform, OutDtype D>
void fill_run(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out, int64_t n,
              uint64_t g0) {
  using Compute = typename DtypeTraits<D>::Compute;
  // Start at the first element of g0's counter, `lead` elements before out[0].
  const int64_t lead = static_cast<int64_t>(g0 % DtypeTraits<D>::kElementsPerCounter);
  // A copy of the keys that nothing else can reach: without it GCC 12 compiles the run's loop
  // with 12% more instructions (uniform_, AVX2), reloading what the other fills' stores might
  // have changed.
  const RoundKeys keys = key;
  transform_elements(transform, tag, n, -lead, RunCounters<D>{keys, core::counter_of<Compute>(g0)}, RunSink{out, n});
}

// Elements of one 8-counter set: rows of a multiple of this, starting on a counter boundary, go
// through fill_aligned_rows.
template <OutDtype D>
constexpr int64_t kRowQuantum = 8 * DtypeTraits<D>::kElementsPerCounter;

// Rows whose elements come in whole registers: each register of Philox lanes takes 8
// consecutive counters of one row, and transformed registers go straight to their row: no
// copies at all.
template <class Transform, OutDtype D>
void fill_aligned_rows(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out,
                       uint64_t g0, const Runs& runs) {
  using Compute = typename DtypeTraits<D>::Compute;
  constexpr int per_counter = DtypeTraits<D>::kElementsPerCounter;
  const RowCounters<D> plan{key, core::counter_of<Compute>(g0), runs.g_stride / per_counter,
                            runs.length / kRowQuantum<D>};
  transform_elements(transform, tag, runs.count * runs.length, 0, plan,
                     RowSink<D>{out, runs.length, runs.out_stride, runs.count});
}

// Counters of a block of rows gathered in memory: kBlockSteps steps, or twice as many where
// whole rows leave less unused.
constexpr int kBlockCounters = kStepCounters * kBlockSteps;

// A block of fill_short_runs: row segments, and the counters they need in order.
struct ShortRunSegment {
  unsigned char* dst;  // where the segment's elements go
  int at;              // index in counter order of its first element
  int length;
};

// Many short runs that start anywhere in their counters (the rows of a narrow window, or rows
// picked by id): the counters they need are gathered, so that a short row costs no whole Philox
// step and no per-call setup. A block of rows then runs as one: Philox on the gathered counters and
// the transform, in counter order (the few elements of a row's first and last counters that lie
// outside it are transformed too: cheaper than moving the bits into output order first, even for
// normal_), then each row's elements are copied to their place.
template <class Transform, OutDtype D>
void fill_short_runs(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out,
                     uint64_t g0, const Runs& runs) {
  using Compute = typename DtypeTraits<D>::Compute;
  constexpr int per_counter = DtypeTraits<D>::kElementsPerCounter;
  constexpr int capacity = kBlockCounters;
  constexpr int max_elements = capacity * per_counter;
  constexpr std::size_t bytes = DtypeTraits<D>::kBytes;

  CounterBlock<D, capacity> block;
  ShortRunSegment segments[max_elements];
  alignas(32) unsigned char staged_out[max_elements * bytes];

  // The next element: `remaining` of the window's are left, its row starts at g_row and row_out.
  int64_t remaining = runs.count * runs.length;
  int64_t column = 0;
  int64_t row = 0;
  uint64_t g_row = runs.start(g0, 0);
  unsigned char* row_out = out;
  while (remaining > 0) {
    // Row segments until the counters fill the block; the segment that crosses its end is cut
    // there, its row going on in the next block.
    int n_segments = 0;
    block.reset(core::counter_of<Compute>(g_row + static_cast<uint64_t>(column)));
    while (remaining > 0 && block.size < capacity) {
      const uint64_t g = g_row + static_cast<uint64_t>(column);
      const int lead = static_cast<int>(g % per_counter);
      const int length = static_cast<int>(
          std::min<int64_t>(runs.length - column, static_cast<int64_t>(capacity - block.size) * per_counter - lead));
      unsigned char* dst = row_out + column * static_cast<int64_t>(bytes);
      segments[n_segments++] = {dst, block.size * per_counter + lead, length};
      block.append_run(core::counter_of<Compute>(g), (lead + length + per_counter - 1) / per_counter);
      prefetch_lines(dst, length * static_cast<int64_t>(bytes));
      remaining -= length;
      column += length;
      if (column == runs.length) {
        column = 0;
        row_out += runs.out_stride;
        if (++row < runs.count) {
          g_row = runs.start(g0, row);
        }
      }
    }
    block.pad_to_step();
    const int64_t n = static_cast<int64_t>(block.size) * per_counter;
    transform_elements(transform, tag, n, 0, block.plan(key), RunSink{staged_out, n});
    for (int k = 0; k < n_segments; ++k) {
      copy_small(segments[k].dst, staged_out + segments[k].at * bytes, segments[k].length * bytes);
    }
  }
}

// Rows shorter than this go through fill_aligned_rows, fill_column_rows, fill_regular_rows or
// fill_short_runs.
constexpr int64_t kShortRun = 512;

// Counters of a row that fill_column_rows takes at most (wider rows: fill_regular_rows).
constexpr int kColumnSpan = 64;

// Short rows that all start at the same place within a counter (the rows of a column window of
// a table whose width is a multiple of the counter's elements, the usual case), at most
// kColumnSpan counters of each. The rows go in the Philox lanes: a register of lanes takes
// counter m of kLanes rows (a group), so its words are whole columns of those rows, 4 for the
// float family and 2 for float64, with no per-row work. A block of groups goes through L1 in
// column order, kLanes rows to a column: Philox, keeping the window's columns; a staged
// transform as one run; then 8 x 8 transposes (running a direct transform first) into the rows.
template <class Transform, OutDtype D>
void fill_column_rows(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out,
                      uint64_t g0, const Runs& runs) {
  using Compute = typename DtypeTraits<D>::Compute;
  constexpr bool f64 = std::is_same_v<Compute, double>;
  constexpr OutDtype kStagedDtype = f64 ? OutDtype::kFloat64 : OutDtype::kFloat32;
  constexpr int per_counter = DtypeTraits<D>::kElementsPerCounter;
  constexpr int kRows = kLanes;  // rows of a group
  constexpr int step_elements = per_counter * kStepCounters;  // of a transform step
  constexpr int block_capacity = 2 * kBlockCounters;         // counters a block aims at
  constexpr int block_counters = std::max(block_capacity, kRows * kColumnSpan);
  constexpr int max_elements = block_counters * per_counter;
  constexpr std::size_t bytes = DtypeTraits<D>::kBytes;
  const int lead = static_cast<int>(g0 % per_counter);
  const int width = static_cast<int>(runs.length);
  const int span = (lead + width + per_counter - 1) / per_counter;
  const uint64_t row_counters = runs.g_stride / per_counter;
  const int groups_per_block = std::max(1, block_capacity / (kRows * span));
  const int64_t row_bytes = width * static_cast<int64_t>(bytes);
  const bool staged = core::runs_staged(transform);

  CounterBlock<D, block_counters + kStepCounters> block;
  block.set_lane_stride(row_counters);
  // Column c of group g starts at element (g width + c) kRows: of `bits` (its words, two per
  // float64) and of `columns` (the staged transform's results). For float64 the first half of a
  // column holds rows 0, 1, 4, 5 (+ 8), the second 2, 3, 6, 7 (+ 8). + one step: the staged
  // transform reads and writes whole steps.
  alignas(64) uint32_t bits[4 * (block_counters + kStepCounters)];
  alignas(64) Compute columns[kStageable<Transform> ? max_elements + step_elements : 1];
  alignas(64) unsigned char rows_buffer[max_elements * bytes];
  for (int64_t row0 = 0; row0 < runs.count; row0 += groups_per_block * kRows) {
    const int rows = static_cast<int>(std::min<int64_t>(groups_per_block * kRows, runs.count - row0));
    const int groups = (rows + kRows - 1) / kRows;
    const int sets = groups * span;  // registers of lanes
    // Lane j of group g takes row g kRows + j: counters first + (g kRows + j) row_counters + m.
    const uint64_t first = core::counter_of<Compute>(g0) + static_cast<uint64_t>(row0) * row_counters;
    block.reset(first);
    for (int g = 0; g < groups; ++g) {
      block.append_lane_columns(first + static_cast<uint64_t>(g * kRows) * row_counters, span);
    }
    block.pad_to_step();
    // Rows of up to a cache line take the transposed registers straight; longer rows are put
    // together in L1 and copied out in address order (stores of 32 bytes to 8 rows in turn
    // measured up to 1.2x slower than that when the rows come from memory, prefetched or not).
    // The rows' cache lines are asked for now, to arrive while Philox and the transform run,
    // except for a copy of up to 8 KiB into adjacent rows after a direct transform: the hardware
    // prefetchers keep up with that one (asking measured 1.1x slower), not with longer ones.
    const bool via_buffer = row_bytes > 64;
    if (!via_buffer || staged || runs.out_stride != row_bytes || rows * row_bytes > 8192) {
      if (runs.out_stride <= row_bytes + 64) {  // rows (nearly) adjacent: one range
        prefetch_lines(out + row0 * runs.out_stride, (rows - 1) * runs.out_stride + row_bytes);
      } else {
        for (int row = 0; row < rows; ++row) {
          prefetch_lines(out + (row0 + row) * runs.out_stride, row_bytes);
        }
      }
    }

    // Philox, keeping the words of columns [0, width). The words of a row's first counter that
    // lie before the window are skipped; those of its last counter past the window land on
    // columns of the next group (or the padding), which that group overwrites later.
    const auto counters = block.plan(key);
    int g = 0, m = 0;  // of the next register of lanes
    for (int s0 = 0; s0 < sets; s0 += kLaneRegisters) {
      PhiloxLanes w[4];
      counters.philox(s0 / kLaneRegisters, w);
      for (int q = 0; q < kLaneRegisters && s0 + q < sets; ++q) {
        uint32_t* dst = bits + (g * width + per_counter * m - lead) * kRows * (f64 ? 2 : 1);
        if constexpr (f64) {
          // Element 2m + h is words (2h + 1, 2h) as (high, low).
          for (int h = 0; h < 2; ++h) {
            if (m > 0 || h >= lead) {
              store_lanes(dst + 2 * kRows * h, interleave_low(w[2 * h].v[q], w[2 * h + 1].v[q]));
              store_lanes(dst + 2 * kRows * h + kRows, interleave_high(w[2 * h].v[q], w[2 * h + 1].v[q]));
            }
          }
        } else {
          for (int k = 0; k < 4; ++k) {
            if (m > 0 || k >= lead) {
              store_lanes(dst + kRows * k, w[k].v[q]);
            }
          }
        }
        if (++m == span) {
          m = 0;
          ++g;
        }
      }
    }

    // A staged transform runs on the block's columns as one run, on whole steps: the padding's
    // words are zeros or those of columns past the window, and its results are never read.
    if constexpr (kStageable<Transform>) {
      if (staged) {
        const int n = groups * width * kRows;
        const int n_steps = (n + step_elements - 1) / step_elements * step_elements;
        std::memset(bits + n * sizeof(Compute) / 4, 0, (n_steps - n) * sizeof(Compute));
        transform_elements(transform, DtypeTag<kStagedDtype>{}, n_steps, 0, [&](int64_t step, __m256i* b) {
          const auto* src = reinterpret_cast<const __m256i*>(bits) + step * 4 * kPhiloxSets;
          for (int k = 0; k < 4 * kPhiloxSets; ++k) b[k] = _mm256_load_si256(src + k);
        }, RunSink{reinterpret_cast<unsigned char*>(columns), n_steps});
      }
    }

    // Columns into rows, 8 rows by 8 columns (float64: 4) at a time; a width that is not a
    // multiple of that ends with a block that overlaps the one before and stores the same values
    // again. column_block(at) gives registers i of column element `at` + i kRows (two for
    // float64: its halves), transformed; transpose_columns stores the rows `stride` bytes apart
    // from dst.
    const auto transpose_columns = [&](const auto& column_block, unsigned char* dst, int64_t stride) {
      constexpr int block = f64 ? 4 : 8;  // columns per transpose
      for (int g = 0; g < groups; ++g) {
        for (int h = 0; h < kRows / 8; ++h) {
          const int block_rows = std::min(8, rows - g * kRows - 8 * h);
          if (block_rows <= 0) {
            break;
          }
          unsigned char* block_out = dst + (g * kRows + 8 * h) * stride;
          for (int c0 = 0; c0 < width; c0 += block) {
            const int c = width >= block ? std::min(c0, width - block) : 0;
            store_column_block(tag, column_block((g * width + c) * kRows + (f64 ? 4 : 8) * h), block_rows,
                               block_out + c * static_cast<int64_t>(bytes), stride, std::min(width, block));
          }
        }
      }
    };
    // Each combination in code of its own: stores to the local buffer then provably miss the
    // columns, and the compiler keeps the loop's values in registers (1.1x faster).
    const auto transpose_into_place = [&](const auto& column_block) {
      if (via_buffer) {
        transpose_columns(column_block, rows_buffer, row_bytes);
      } else {
        transpose_columns(column_block, out + row0 * runs.out_stride, runs.out_stride);
      }
    };
    using Registers = std::conditional_t<f64, F64v<8>, F32v<8>>;
    using Words = std::conditional_t<f64, U64v<8>, U32v<8>>;
    const auto load_block = [](const Compute* src, auto& x) {  // at the column layout's places
      for (int i = 0; i < 8; ++i) {
        const auto* at = src + (f64 ? (i / 2) * kRows + (i % 2) * kRows / 2 : i * kRows);
        std::memcpy(&x.v[i], at, 32);
      }
    };
    bool transformed = false;
    if constexpr (kStageable<Transform>) {
      if (staged) {
        transpose_into_place([&](int at) {
          Registers x;
          load_block(columns + at, x);
          return x;
        });
        transformed = true;
      }
    }
    if (!transformed) {
      transpose_into_place([&](int at) {
        Words b;
        load_block(reinterpret_cast<const Compute*>(bits) + at, b);
        return transform(b);
      });
    }
    if (via_buffer) {
      if (runs.out_stride == row_bytes) {
        copy_small(out + row0 * row_bytes, rows_buffer, rows * row_bytes);
      } else {
        for (int row = 0; row < rows; ++row) {
          copy_small(out + (row0 + row) * runs.out_stride, rows_buffer + row * row_bytes, row_bytes);
        }
      }
    }
  }
}

// Regular rows (see fill_column_rows) of more than kColumnSpan counters: each row takes the same
// `span` counters, a block takes as many whole rows as fit, and the per-row work is a register
// of counters and a copy. (Slices of fill_column_rows measured 1.2x slower for these widths;
// prefetching the rows, as fill_short_runs does, slower too: up to 150 lines at once per block.)
template <class Transform, OutDtype D>
void fill_regular_rows(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out,
                       uint64_t g0, const Runs& runs) {
  using Compute = typename DtypeTraits<D>::Compute;
  constexpr int per_counter = DtypeTraits<D>::kElementsPerCounter;
  constexpr int capacity = 2 * kBlockCounters;  // whole rows leave less unused
  constexpr std::size_t bytes = DtypeTraits<D>::kBytes;
  const int lead = static_cast<int>(g0 % per_counter);
  const int span = static_cast<int>((lead + runs.length + per_counter - 1) / per_counter);
  const uint64_t row_counters = runs.g_stride / per_counter;
  const int64_t rows_per_block = capacity / span;

  CounterBlock<D, capacity> block;
  alignas(32) unsigned char staged_out[capacity * per_counter * bytes];
  for (int64_t row0 = 0; row0 < runs.count; row0 += rows_per_block) {
    const int rows = static_cast<int>(std::min<int64_t>(rows_per_block, runs.count - row0));
    unsigned char* block_out = out + row0 * runs.out_stride;
    // Row r's counters are first + r row_counters + [0, span), modulo the mask.
    const uint64_t first = core::counter_of<Compute>(g0) + static_cast<uint64_t>(row0) * row_counters;
    block.reset(first);
    for (int r = 0; r < rows; ++r) block.append_run(first + static_cast<uint64_t>(r) * row_counters, span);
    block.pad_to_step();
    const int64_t n = static_cast<int64_t>(block.size) * per_counter;
    transform_elements(transform, tag, n, 0, block.plan(key), RunSink{staged_out, n});
    for (int r = 0; r < rows; ++r) {
      copy_small(block_out + r * runs.out_stride, staged_out + (r * span * per_counter + lead) * bytes,
                 runs.length * bytes);
    }
  }
}

// Every run of `runs`, each the way its shape is done fastest.
template <class Transform, OutDtype D>
void fill_runs(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out, uint64_t g0,
               const Runs& runs) {
  constexpr int per_counter = DtypeTraits<D>::kElementsPerCounter;
  if (runs.count > 1 && runs.length < kShortRun) {
    if (runs.starts != nullptr || runs.g_stride % per_counter != 0) {
      fill_short_runs(transform, tag, key, out, g0, runs);
    } else if (runs.length % kRowQuantum<D> == 0 && g0 % per_counter == 0) {
      fill_aligned_rows(transform, tag, key, out, g0, runs);
    } else if ((g0 % per_counter + runs.length + per_counter - 1) / per_counter <= kColumnSpan) {
      fill_column_rows(transform, tag, key, out, g0, runs);
    } else {
      fill_regular_rows(transform, tag, key, out, g0, runs);
    }
    return;
  }
  for (int64_t r = 0; r < runs.count; ++r) {
    fill_run(transform, tag, key, out + r * runs.out_stride, runs.length, runs.start(g0, r));
  }
}

}  // namespace
}  // namespace cpu
}  // namespace deepinit
