// The CUDA fill of rows (rows picked by id, windows, strided views) as the work of one lane:
// a group of 2^group_shift lanes takes a row, lane l its counters l, l + group, ...,
// kRowLaneCounters of them per step, so that a row's id and offsets are found once for several
// counters. Torch-free and host+device, like warp_fill.h: the host runs the aligned rows' lanes
// one by one (tests/cpp/warp_sim_tests.cpp) against the scalar kernel.
#pragma once

#include <cstdint>

#include "core/transforms.h"
#include "cuda/global_store.h"
#include "job.h"

namespace deepinit {
namespace row_fill {

// Counters per lane and step: a uniform element costs a few instructions, so its lanes take more
// counters to spread a row's own cost (its id, its offsets) over more elements.
template <class Transform>
constexpr int kRowLaneCounters = 2;
template <class T>
constexpr int kRowLaneCounters<core::UniformTransform<T>> = 8;

// A counter's elements in their storage type: one store at an address aligned to its size.
template <class Storage, int N>
struct alignas(N * sizeof(Storage)) RowPack {
  Storage v[N];
};

template <OutDtype D>
using PackOf = RowPack<typename DtypeTraits<D>::Storage, DtypeTraits<D>::kElementsPerCounter>;

// Counter number `counter`'s elements, transformed and converted to the storage type.
template <OutDtype D, class Transform>
DEEPINIT_HD PackOf<D> row_pack(uint64_t counter, const core::PhiloxRoundKeys<uint32_t>& keys, const Transform& transform) {
  using Traits = DtypeTraits<D>;
  using Compute = typename Traits::Compute;
  counter &= core::kCounterMask<Compute>;
  uint32_t words[4] = {static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u};
  core::philox4x32_10(words, keys);
  PackOf<D> pack;
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
  for (int k = 0; k < Traits::kElementsPerCounter; ++k) {
    pack.v[k] = Traits::store(transform(core::bits_from_words<Compute>(words, static_cast<uint64_t>(k))));
  }
  return pack;
}

// Lanes to a row of `counters` counters: enough for kRowLaneCounters counters each, up to a
// warp, as a shift.
template <class Transform>
int group_shift_for(int64_t counters) {
  const int64_t lanes = (counters + kRowLaneCounters<Transform> - 1) / kRowLaneCounters<Transform>;
  int shift = 0;
  while (shift < 5 && (int64_t{1} << shift) < lanes) {
    ++shift;
  }
  return shift;
}

// Rows that start on a counter at an address aligned to a pack and hold `counters` whole counters
// (a table's rows of a multiple of 4 elements, 2 for float64, and column windows of them that
// start on a counter): every counter is one store, and the lane's loop has no bounds checks, for
// a lane whose counters run out within a step repeats its own last one (the same values to the
// same place; no other lane writes there).
template <OutDtype D, class Transform>
struct AlignedRows {
  static constexpr int kPerCounter = DtypeTraits<D>::kElementsPerCounter;
  static constexpr int kCountersPerLane = kRowLaneCounters<Transform>;
  using Storage = typename DtypeTraits<D>::Storage;

  int64_t counters;  // per row
  int group_shift;

  // Whether `lane` of a group has counters, and its last one.
  DEEPINIT_HD bool has_counters(int64_t lane) const { return lane < counters; }
  DEEPINIT_HD int64_t last_counter(int64_t lane) const {
    return lane + (((counters - 1 - lane) >> group_shift) << group_shift);
  }

  // Lane `lane`'s share of a row: row_out is where the row's first element goes, first_counter
  // its first counter; last = last_counter(lane).
  DEEPINIT_HD void fill_row(Storage* row_out, uint64_t first_counter, int64_t lane, int64_t last,
                            const core::PhiloxRoundKeys<uint32_t>& keys, const Transform& transform) const {
    const int64_t group = int64_t{1} << group_shift;
    for (int64_t c = lane; c < counters; c += group * kCountersPerLane) {
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
      for (int j = 0; j < kCountersPerLane; ++j) {
        const int64_t cj = c + j * group < last ? c + j * group : last;
        store_global(row_out + cj * kPerCounter, row_pack<D>(first_counter + static_cast<uint64_t>(cj), keys, transform));
      }
    }
  }
};

}  // namespace row_fill
}  // namespace deepinit
