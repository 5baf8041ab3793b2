// The fills of the AVX2 kernels, one per shape of work: a contiguous run, and three kinds of
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

// Whether every row of `runs` is whole 8-counter sets that start on a counter.
template <OutDtype D>
bool rows_are_aligned(uint64_t g0, const Runs& runs) {
  constexpr int per_counter = DtypeTraits<D>::kElementsPerCounter;
  if (runs.length % kRowQuantum<D> != 0) {
    return false;
  }
  if (runs.starts == nullptr) {
    return g0 % per_counter == 0 && runs.g_stride % per_counter == 0;
  }
  return std::all_of(runs.starts, runs.starts + runs.count, [](uint64_t g) { return g % per_counter == 0; });
}

// Rows whose elements come in whole registers (rows_are_aligned): each register of Philox lanes
// takes 8 consecutive counters of one row, and transformed registers go straight to their row:
// no copies at all.
template <class Transform, OutDtype D>
void fill_aligned_rows(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out,
                       uint64_t g0, const Runs& runs) {
  using Compute = typename DtypeTraits<D>::Compute;
  constexpr int per_counter = DtypeTraits<D>::kElementsPerCounter;
  const RowCounters<D> plan{key, core::counter_of<Compute>(g0), runs.g_stride / per_counter,
                            runs.length / kRowQuantum<D>, runs.starts};
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
    // The segments' cache lines are asked for a few at each step of the transform: asked for all
    // at once they wait on memory (1.1x slower); not asked for, the copies do (1.2x).
    const int steps = (block.size + kStepCounters - 1) / kStepCounters;
    const auto counters = block.plan(key);
    transform_elements(transform, tag, n, 0, [&](int64_t step, __m256i* bits) {
      for (int k = static_cast<int>(step) * n_segments / steps; k < (step + 1) * n_segments / steps; ++k) {
        prefetch_lines(segments[k].dst, segments[k].length * static_cast<int64_t>(bytes));
      }
      counters(step, bits);
    }, RunSink{staged_out, n});
    for (int k = 0; k < n_segments; ++k) {
      copy_small(segments[k].dst, staged_out + segments[k].at * bytes, segments[k].length * bytes);
    }
  }
}

// Rows shorter than this go through fill_aligned_rows, fill_narrow_rows or fill_short_runs.
constexpr int64_t kShortRun = 512;

// Elements of a row that fill_narrow_rows takes at most: the elements of 4 counters. Wider rows
// measured faster through fill_short_runs (1.1x to 1.2x at 20 float32 elements and up), narrower
// ones up to 1.7x slower there.
template <OutDtype D>
constexpr int64_t kNarrowRow = 4 * DtypeTraits<D>::kElementsPerCounter;

// The counters a narrow row touches at most: those of kNarrowRow elements that start anywhere
// within the first.
constexpr int kNarrowSpan = 5;

// The layout of fill_narrow_rows's blocks: the rows go in the Philox lanes, a register of lanes
// taking counter m of kRows rows (a group), so its words are whole columns of those rows. Column
// c of group g starts at element (g width + c) kRows; for float64 the first half of a column
// holds rows 0, 1, 4, 5 (+ 8), the second 2, 3, 6, 7 (+ 8).
template <OutDtype D>
struct NarrowRowsBlock {
  using Compute = typename DtypeTraits<D>::Compute;
  static constexpr bool kF64 = std::is_same_v<Compute, double>;
  static constexpr int kRows = kLanes;
  static constexpr int kPerCounter = DtypeTraits<D>::kElementsPerCounter;
  static constexpr int kStepElements = kPerCounter * kStepCounters;  // of a transform step
  static constexpr int kCapacity = 2 * kBlockCounters;                // counters a block aims at
  static constexpr int kCounters = std::max(kCapacity, kRows * kNarrowSpan);
  static constexpr int kElements = kCounters * kPerCounter;

  int lead;   // of the rows' first element in its counter
  int width;  // elements of a row
  int span;   // counters of a row

  // Philox on `sets` registers of lanes into bits[], keeping the words of columns [0, width).
  // The words of a row's first counter that lie before it are skipped; those of its last
  // counter past it land on the next group's columns (or the padding), overwritten later.
  template <class Counters>
  void philox_columns(const Counters& counters, int sets, uint32_t* bits) const {
    int g = 0, m = 0;  // of the next register of lanes
    for (int s0 = 0; s0 < sets; s0 += kLaneRegisters) {
      PhiloxLanes w[4];
      counters.philox(s0 / kLaneRegisters, w);
      for (int q = 0; q < kLaneRegisters && s0 + q < sets; ++q) {
        uint32_t* dst = bits + (g * width + kPerCounter * m - lead) * kRows * (kF64 ? 2 : 1);
        if constexpr (kF64) {
          // Element 2m + h is words (2h + 1, 2h) as (high, low).
          for (int h = 0; h < 2; ++h) {
            if (m > 0 || h >= lead) {
              store_lanes(dst + 2 * kRows * h, interleave_low(w[2 * h].v[q], w[2 * h + 1].v[q]));
              store_lanes(dst + 2 * kRows * h + kRows, interleave_high(w[2 * h].v[q], w[2 * h + 1].v[q]));
            }
          }
        } else {
          for (int k = 0; k < 4; ++k) {
            if (m > 0 || k >= lead) store_lanes(dst + kRows * k, w[k].v[q]);
          }
        }
        if (++m == span) {
          m = 0;
          ++g;
        }
      }
    }
  }

  // The transform on the first n elements of bits[], as one run on whole steps into columns[]:
  // the padding's words are zeros, and its results are never read.
  template <class Transform>
  static void transform_columns(const Transform& transform, int n, uint32_t* bits, Compute* columns) {
    constexpr OutDtype kColumnDtype = kF64 ? OutDtype::kFloat64 : OutDtype::kFloat32;
    const int n_steps = (n + kStepElements - 1) / kStepElements * kStepElements;
    std::memset(bits + n * sizeof(Compute) / 4, 0, (n_steps - n) * sizeof(Compute));
    transform_elements(transform, DtypeTag<kColumnDtype>{}, n_steps, 0, [&](int64_t step, __m256i* b) {
      const auto* src = reinterpret_cast<const __m256i*>(bits) + step * 4 * kPhiloxSets;
      for (int k = 0; k < 4 * kPhiloxSets; ++k) b[k] = _mm256_load_si256(src + k);
    }, RunSink{reinterpret_cast<unsigned char*>(columns), n_steps});
  }

  // Columns into `rows` rows at out, `stride` bytes apart, 8 rows by 8 columns (float64: 4) at a
  // time; a width that is not a multiple of that ends with a block that overlaps the one before
  // and stores the same values again.
  void transpose_into_rows(DtypeTag<D> tag, const Compute* columns, int rows, unsigned char* out,
                           int64_t stride) const {
    constexpr int block = kF64 ? 4 : 8;  // columns per transpose
    using Registers = std::conditional_t<kF64, F64v<8>, F32v<8>>;
    for (int row = 0; row < rows; row += 8) {
      const int g = row / kRows;
      const int h = (row % kRows) / 8;
      for (int c0 = 0; c0 < width; c0 += block) {
        const int c = width >= block ? std::min(c0, width - block) : 0;
        const Compute* src = columns + (g * width + c) * kRows + (kF64 ? 4 : 8) * h;
        Registers x;
        for (int i = 0; i < 8; ++i) {
          std::memcpy(&x.v[i], src + (kF64 ? (i / 2) * kRows + (i % 2) * kRows / 2 : i * kRows), 32);
        }
        store_column_block(tag, x, std::min(8, rows - row), out + row * stride + c * static_cast<int64_t>(DtypeTraits<D>::kBytes),
                           stride, std::min(width, block));
      }
    }
  }
};

// Rows of at most kNarrowRow elements that all start at the same place within a counter (the
// rows of a narrow column window, or of a strided view): a block of rows goes through L1 in
// column order (NarrowRowsBlock), with no per-row work: Philox, the transform as one run, then
// 8 x 8 transposes straight into the rows.
template <class Transform, OutDtype D>
void fill_narrow_rows(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out,
                      uint64_t g0, const Runs& runs) {
  using Block = NarrowRowsBlock<D>;
  using Compute = typename Block::Compute;
  constexpr int per_counter = Block::kPerCounter;
  const int lead = static_cast<int>(g0 % per_counter);
  const int width = static_cast<int>(runs.length);
  const Block layout{lead, width, (lead + width + per_counter - 1) / per_counter};
  const uint64_t row_counters = runs.g_stride / per_counter;
  const int rows_per_block = std::max(1, Block::kCapacity / (Block::kRows * layout.span)) * Block::kRows;
  const int64_t row_bytes = width * static_cast<int64_t>(DtypeTraits<D>::kBytes);

  CounterBlock<D, Block::kCounters + kStepCounters> block;
  block.set_lane_stride(row_counters);
  // + one step: the transform reads and writes whole steps.
  alignas(64) uint32_t bits[4 * (Block::kCounters + kStepCounters)];
  alignas(64) Compute columns[Block::kElements + Block::kStepElements];
  for (int64_t row0 = 0; row0 < runs.count; row0 += rows_per_block) {
    const int rows = static_cast<int>(std::min<int64_t>(rows_per_block, runs.count - row0));
    const int groups = (rows + Block::kRows - 1) / Block::kRows;
    unsigned char* block_out = out + row0 * runs.out_stride;
    // The rows' cache lines are asked for at once: spread over the transform's steps as in
    // fill_short_runs, they arrive too late (1.1x slower).
    if (runs.out_stride <= row_bytes + 64) {  // rows (nearly) adjacent: one range
      prefetch_lines(block_out, (rows - 1) * runs.out_stride + row_bytes);
    } else {
      for (int row = 0; row < rows; ++row) prefetch_lines(block_out + row * runs.out_stride, row_bytes);
    }
    // Lane j of group g takes row g kRows + j: counters first + (g kRows + j) row_counters + m.
    const uint64_t first = core::counter_of<Compute>(g0) + static_cast<uint64_t>(row0) * row_counters;
    block.reset(first);
    for (int g = 0; g < groups; ++g) {
      block.append_lane_columns(first + static_cast<uint64_t>(g * Block::kRows) * row_counters, layout.span);
    }
    block.pad_to_step();
    layout.philox_columns(block.plan(key), groups * layout.span, bits);
    Block::transform_columns(transform, groups * width * Block::kRows, bits, columns);
    layout.transpose_into_rows(tag, columns, rows, block_out, runs.out_stride);
  }
}

// Every run of `runs`, each the way its shape is done fastest.
template <class Transform, OutDtype D>
void fill_runs(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out, uint64_t g0,
               const Runs& runs) {
  constexpr int per_counter = DtypeTraits<D>::kElementsPerCounter;
  if (runs.count > 1 && runs.length < kShortRun) {
    // Regular rows: each starts at the same place within its counter.
    const bool regular = runs.starts == nullptr && runs.g_stride % per_counter == 0;
    if (rows_are_aligned<D>(g0, runs)) {
      fill_aligned_rows(transform, tag, key, out, g0, runs);
    } else if (regular && runs.length <= kNarrowRow<D>) {
      fill_narrow_rows(transform, tag, key, out, g0, runs);
    } else {
      fill_short_runs(transform, tag, key, out, g0, runs);
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
