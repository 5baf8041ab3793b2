// Counter plans: which counters each Philox step takes. A plan is called as
// plan(step, bits) and leaves the step's uniform bits in element order (philox_step.h), so that
// a transform pass (transform_pass.h) can run over any of them:
//   RunCounters    consecutive counters, made in registers (a contiguous run);
//   RowCounters    8 consecutive counters of one row per set (rows of whole registers);
//   CounterBlock   counters gathered in memory: runs of them (short rows) or one counter of
//                  each of kLanes rows per register (a column block), with a shared high word
//                  tracked as they are appended.
// Part of cpu/avx2/kernels.h, compiled once per x86 capability.
#pragma once

#include <cstring>

#include "cpu/avx2/philox_step.h"

namespace deepinit {
namespace cpu {
namespace {

// Consecutive counters from `first` on: step s takes first + s kStepCounters, ... (mod mask + 1).
template <OutDtype D>
struct RunCounters {
  using Compute = typename DtypeTraits<D>::Compute;
  const RoundKeys& keys;
  uint64_t first;

  inline __attribute__((always_inline)) void operator()(int64_t step, __m256i* bits) const {
    constexpr uint64_t mask = core::kCounterMask<Compute>;
    const uint64_t counter = (first + kStepCounters * static_cast<uint64_t>(step)) & mask;
    PhiloxLanes w[4];
    const bool shared_high = counter_lanes(counter, mask, w[0], w[1]);
    philox_step(keys, w[0], w[1], shared_high, static_cast<uint32_t>(counter >> 32), w);
    words_to_elements<Compute>(w, bits);
  }
};

// Rows whose elements come in whole registers (every row starts on a counter boundary and holds
// a whole number of 8-counter sets): each set takes 8 consecutive counters of one row, the rows
// starting at the counters of `starts` (stream positions) where given, else `row_counters` apart
// from `first`, `sets_per_row` sets to a row. Steps must come in order.
template <OutDtype D>
struct RowCounters {
  using Compute = typename DtypeTraits<D>::Compute;
  const RoundKeys& keys;
  uint64_t first;
  uint64_t row_counters;
  int64_t sets_per_row;
  const uint64_t* starts = nullptr;
  mutable int64_t row = 0, part = 0;  // of the next set

  uint64_t row_start(int64_t r) const {
    return starts != nullptr ? core::counter_of<Compute>(starts[r]) : first + static_cast<uint64_t>(r) * row_counters;
  }

  void operator()(int64_t, __m256i* bits) const {
    constexpr uint64_t mask = core::kCounterMask<Compute>;
    PhiloxLanes w[4];
    uint32_t high = 0;
    bool shared_high = true;  // every counter's high word is `high`
    for (int p = 0; p < kPhiloxSets; ++p) {
      const uint64_t counter = (row_start(row) + 8 * part) & mask;
      U32v<1> lo, hi;
      shared_high &= counter_lanes(counter, mask, lo, hi) && (p == 0 || static_cast<uint32_t>(counter >> 32) == high);
      high = static_cast<uint32_t>(counter >> 32);
      set_counter_set(w[0], p, lo.v[0]);
      set_counter_set(w[1], p, hi.v[0]);
      if (++part == sets_per_row) {
        part = 0;
        ++row;
      }
    }
    philox_step(keys, w[0], w[1], shared_high, high, w);
    words_to_elements<Compute>(w, bits);
  }
};

// Counters gathered in memory, at most Capacity, for steps of kStepCounters: their low words,
// and their high words once they differ (a carry into the high word, or the wrap at the mask;
// until then every high word is `high` and only the low words are written).
template <OutDtype D, int Capacity>
struct CounterBlock {
  using Compute = typename DtypeTraits<D>::Compute;
  static constexpr uint64_t kMask = core::kCounterMask<Compute>;
  static constexpr int kPadding = 16;  // appends write whole registers: up to 15 past the end

  alignas(64) uint32_t lo[Capacity + kPadding];
  alignas(64) uint32_t hi[Capacity + kPadding];
  int size = 0;
  uint32_t high = 0;
  bool shared_high = true;
  __m256i lane_offsets[kLanes / 8];  // of append_lanes: j * stride, low words

  // Empties the block; its counters will mostly have the high word of `counter`.
  void reset(uint64_t counter) {
    size = 0;
    high = static_cast<uint32_t>(counter >> 32);
    shared_high = (counter >> 32) <= (kMask >> 32);
  }

  // Appends counters counter, counter + 1, ..., `span` of them (mod kMask + 1).
  void append_run(uint64_t counter, int span) {
    const uint64_t last = counter + static_cast<uint64_t>(span - 1);
    if ((counter >> 32) == (last >> 32) && last <= kMask) {
      const uint32_t run_high = static_cast<uint32_t>(counter >> 32);
      if (run_high != high) unshare();
      __m256i low = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(counter))),
                                     _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      for (int c = 0; c < span; c += 8) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + size + c), low);
        low = _mm256_add_epi32(low, _mm256_set1_epi32(8));
      }
      if (!shared_high) fill_high(size, size + span, run_high);
    } else {
      unshare();
      for (int c = 0; c < span; ++c) set(size + c, counter + static_cast<uint64_t>(c));
    }
    size += span;
  }

  // Sets the distance, in counters, between the kLanes counters of append_lanes.
  void set_lane_stride(uint64_t stride) {
    lane_stride = stride;
    for (int h = 0; h < kLanes / 8; ++h) {
      lane_offsets[h] = _mm256_mullo_epi32(_mm256_setr_epi32(8 * h, 8 * h + 1, 8 * h + 2, 8 * h + 3, 8 * h + 4,
                                                             8 * h + 5, 8 * h + 6, 8 * h + 7),
                                           _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(stride))));
    }
  }

  // Appends one register of Philox lanes: counters counter + j stride for j < kLanes.
  void append_lanes(uint64_t counter) {
    const uint64_t last = counter + static_cast<uint64_t>(kLanes - 1) * lane_stride;
    if ((counter >> 32) == (last >> 32) && last <= kMask) {  // and so every counter between
      const uint32_t lanes_high = static_cast<uint32_t>(counter >> 32);
      if (lanes_high != high) unshare();
      const __m256i low = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(counter)));
      for (int h = 0; h < kLanes / 8; ++h) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + size + 8 * h), _mm256_add_epi32(low, lane_offsets[h]));
      }
      if (!shared_high) fill_high(size, size + kLanes, lanes_high);
    } else {
      unshare();
      for (int j = 0; j < kLanes; ++j) set(size + j, counter + static_cast<uint64_t>(j) * lane_stride);
    }
    size += kLanes;
  }

  // Appends `span` registers of Philox lanes: register m holds counter first + m + j stride in
  // lane j, the first `span` counters of kLanes rows.
  void append_lane_columns(uint64_t first, int span) {
    const uint64_t last = first + static_cast<uint64_t>(span - 1) + static_cast<uint64_t>(kLanes - 1) * lane_stride;
    if ((first >> 32) != (last >> 32) || last > kMask) {  // a carry or the wrap among them
      for (int m = 0; m < span; ++m) append_lanes(first + static_cast<uint64_t>(m));
      return;
    }
    const uint32_t lanes_high = static_cast<uint32_t>(first >> 32);
    if (lanes_high != high) unshare();
    __m256i low[kLanes / 8];
    for (int h = 0; h < kLanes / 8; ++h) {
      low[h] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(first))), lane_offsets[h]);
    }
    uint32_t* dst = lo + size;
    for (int m = 0; m < span; ++m) {
      for (int h = 0; h < kLanes / 8; ++h) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + m * kLanes + 8 * h), _mm256_add_epi32(low[h], _mm256_set1_epi32(m)));
      }
    }
    if (!shared_high) fill_high(size, size + span * kLanes, lanes_high);
    size += span * kLanes;
  }

  // Fills the last step: its lanes past `size` take counter 0, whose bits are never read.
  void pad_to_step() {
    for (int c = size; c % kStepCounters != 0; ++c) lo[c] = hi[c] = 0;
  }

  // The block as a counter plan for a transform pass, or for Philox alone (philox): a snapshot
  // of the block's state in values that no store can change, so the compiler keeps them in
  // registers.
  struct Plan {
    const RoundKeys& key;
    const uint32_t* lo;
    const uint32_t* hi;
    bool shared_high;
    uint32_t high;

    // Philox on the counters of step s (counters s kStepCounters, ...): words as philox_step's.
    inline __attribute__((always_inline)) void philox(int step, PhiloxLanes (&w)[4]) const {
      const PhiloxLanes low = load_counter_lanes(lo + step * kStepCounters);
      philox_step(key, low, shared_high ? low : load_counter_lanes(hi + step * kStepCounters), shared_high, high, w);
    }
    inline __attribute__((always_inline)) void operator()(int64_t step, __m256i* bits) const {
      PhiloxLanes w[4];
      philox(static_cast<int>(step), w);
      words_to_elements<Compute>(w, bits);
    }
  };
  Plan plan(const RoundKeys& key) const { return Plan{key, lo, hi, shared_high, high}; }

 private:
  uint64_t lane_stride = 0;

  void set(int at, uint64_t counter) {
    lo[at] = static_cast<uint32_t>(counter & kMask);
    hi[at] = static_cast<uint32_t>((counter & kMask) >> 32);
  }
  void fill_high(int begin, int end, uint32_t word) {
    const __m256i words = _mm256_set1_epi32(static_cast<int>(word));
    for (int c = begin; c < end; c += 8) _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + c), words);
  }
  // From now on the high words are written: those so far are all `high`.
  void unshare() {
    if (shared_high) {
      shared_high = false;
      fill_high(0, size, high);
    }
  }
};

}  // namespace
}  // namespace cpu
}  // namespace deepinit
