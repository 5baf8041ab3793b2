// The CUDA fill of rows (rows picked by id, windows, strided views) as the work of one lane:
// a group of 2^group_shift lanes takes a row, lane l its counters l, l + group, ...,
// kRowLaneCounters of them per step, so that a row's id and offsets are found once for several
// counters. Torch-free and host+device, like warp_fill.h: the host runs the aligned rows' lanes
// one by one (tests/cpp/warp_sim_tests.cpp) against the scalar kernel.
#pragma once

#include <algorithm>
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

// Rows of unit stride that start anywhere in a counter and at any address (a column window from
// column 5; rows by id of a table whose rows are not whole counters). The row goes to memory in
// packs aligned to their size: pack q holds the last `shift` elements of counter q - 1 and the
// first P - shift of counter q (P elements a counter), so the lane that makes counter q takes
// counter q - 1's values from the lane before it in its group (a warp shuffle on the GPU; the
// host runs a group's lanes side by side, tests/cpp/warp_sim_tests.cpp). Every counter is made
// once, every pack that lies in the row is one store, and the row's first and last packs, when it
// fills them in part, are stored element by element.
//
// Packs are numbered in the row from the one where its first counter starts (pack 0: when the row
// starts past it, its counter only feeds pack 1; otherwise the elements it takes from the counter
// before lie before the row) to `packs` - 1. A group of 2^group_shift lanes takes a row in steps of
// kCountersPerLane slots: slot j of the step from index s0 gives lane l pack s0 + j * group + l.
// The lane before lane 0 is the group's last lane, one slot earlier.
template <OutDtype D, class Transform>
struct ShiftedRows {
  static constexpr int kPerCounter = DtypeTraits<D>::kElementsPerCounter;
  static constexpr int kCountersPerLane = kRowLaneCounters<Transform>;
  using Storage = typename DtypeTraits<D>::Storage;
  using Pack = PackOf<D>;

  // A row, of fewer than 2^31 elements (its indices in 32 bits).
  struct Row {
    Storage* packs_at;       // where pack 0 starts, at an address aligned to a pack
    uint64_t first_counter;  // pack 0's counter; pack k takes counters first_counter + k - 1 and + k
    int first;               // packs [first, packs) hold elements of the row
    int packs;
    int full_begin;          // packs [full_begin, full_begin + full_count) lie in the row
    int full_count;
    int begin;               // the row: packs_at[begin, end)
    int end;
    int shift;               // elements of counter k - 1 in pack k
  };

  // Packs of a row of `length` elements, at most.
  static int64_t packs_at_most(int64_t length) { return (2 * kPerCounter - 3 + length) / kPerCounter + 1; }

  // Lanes a row, as a shift, for `rows` rows of `length` elements when the GPU runs `lanes` lanes
  // at once. A group takes ceil(packs / width) slots, its lanes idle in the slots past the row's
  // packs, so narrow groups waste least (rows of 17 packs: 32 lanes use 53% of their slots, 4
  // lanes 85%) while wide ones keep more lanes busy when rows are few: the width with the fewest
  // slots of the whole fill's time, rows * slots * width / min(rows * width, lanes), that stores at
  // least 64 bytes of a row together (a warp's store then touches 8 rows, not 32), and of equal
  // ones the widest.
  static int group_shift_for(int64_t rows, int64_t length, int64_t lanes) {
    const int64_t packs = packs_at_most(length);
    int best = 5;
    double best_time = 0;
    for (int shift = 5; shift >= 0 && (int64_t{sizeof(Pack)} << shift) >= 64; --shift) {
      const int64_t width = int64_t{1} << shift;
      const double busy = static_cast<double>(std::min(rows * width, lanes));
      const double time = static_cast<double>(rows) * static_cast<double>((packs + width - 1) / width * width) / busy;
      if (shift == 5 || time < best_time) {
        best = shift;
        best_time = time;
      }
    }
    return best;
  }

  // The row of `length` elements at row_start, whose first element is stream position `position`.
  DEEPINIT_HD static Row row(Storage* row_start, uint64_t position, int length) {
    constexpr unsigned P = kPerCounter;  // (unsigned: every quantity here is whole, and P a power of 2)
    const unsigned lead = static_cast<unsigned>(position % P);
    // The row's first counter has its first element at row_start - lead, `shift` elements past a
    // pack's start: that pack is pack 0.
    const unsigned shift = static_cast<unsigned>((reinterpret_cast<uintptr_t>(row_start) / sizeof(Storage) - lead) % P);
    Row r;
    r.begin = static_cast<int>(lead + shift);
    r.packs_at = row_start - r.begin;
    r.first_counter = core::counter_of<typename DtypeTraits<D>::Compute>(position);
    r.end = r.begin + length;
    r.first = static_cast<int>((lead + shift) / P);
    r.packs = static_cast<int>((static_cast<unsigned>(r.end) - 1) / P + 1);
    r.full_begin = static_cast<int>((static_cast<unsigned>(r.begin) + P - 1) / P);
    r.full_count = std::max(static_cast<int>(static_cast<unsigned>(r.end) / P) - r.full_begin, 0);
    r.shift = static_cast<int>(shift);
    return r;
  }

  // Counter k's values (that of pack k).
  DEEPINIT_HD static Pack counter_values(const Row& r, int k, const core::PhiloxRoundKeys<uint32_t>& keys,
                                         const Transform& transform) {
    return row_pack<D>(r.first_counter + static_cast<unsigned>(k), keys, transform);
  }

  // Pack k from counter k - 1's values (previous) and counter k's (own).
  DEEPINIT_HD static void store(const Row& r, int k, const Pack& previous, const Pack& own) {
    const Pack pack = merged(previous, own, r.shift);
    Storage* const at = r.packs_at + k * kPerCounter;
    if (static_cast<unsigned>(k - r.full_begin) < static_cast<unsigned>(r.full_count)) {
      store_global(at, pack);
    } else if (k >= r.first && k < r.packs) {
      store_part(at, pack, r.begin - k * kPerCounter, r.end - k * kPerCounter);
    }
  }

 private:
  // element i = own's i - shift, or previous's P - shift + i before it; shift is picked by
  // comparisons, so that no register is indexed at run time.
  DEEPINIT_HD static Pack merged(const Pack& previous, const Pack& own, int shift) {
    Pack pack;
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
    for (int i = 0; i < kPerCounter; ++i) {
      Storage v = own.v[i];
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
      for (int s = 1; s < kPerCounter; ++s) {
        v = shift == s ? (i >= s ? own.v[i - s] : previous.v[kPerCounter - s + i]) : v;
      }
      pack.v[i] = v;
    }
    return pack;
  }

  // The pack's elements [from, to) of its P (a row's first or last pack), out of the loop.
  DEEPINIT_HD_COLD static void store_part(Storage* at, const Pack pack, int from, int to) {
    for (int i = 0; i < kPerCounter; ++i) {
      if (i >= from && i < to) {
        at[i] = pack.v[i];
      }
    }
  }
};

}  // namespace row_fill
}  // namespace deepinit
