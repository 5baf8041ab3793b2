// The CUDA fill of a contiguous run of the stream, as the work of one warp on one tile of Philox
// counters. Torch-free and host+device: the GPU runs the phases below in its lanes, and the
// host runs the same phases lane by lane (tests/cpp/warp_sim_tests.cpp), so the tests check
// this algorithm against the other kernels on any machine.
//
// A tile is kCountersPerTile consecutive counters; lane l takes kGroups groups of kGroup adjacent
// counters (group j*32 + l), whose elements make one 16-byte store when the run is aligned. So
// the warp's stores of one group index are 512 consecutive bytes, and no index needs a division.
//
// The float quantile fills (stream contract v2) leave the central piece of Phi^-1 for 0.124% of
// their elements: a lane calls the tail code out of line for those, and a warp runs it for an
// element slot in about 4% of slots. Float64 quantile fills (contract v1, 15% of elements in the
// tails) compute the central piece in every lane and queue the tail elements in shared memory;
// the warp's lanes then solve the queue together, 32 at a time:
//   generate -> (enqueue -> solve -> dequeue: kCompact) -> store
// Every element's value is the same function of its bits as on the other backends, so which
// lane computes it changes no bit.
#pragma once

#include <cstdint>

#include "core/transforms.h"
#include "cuda/global_store.h"
#include "job.h"

namespace deepinit {
namespace warp_fill {

constexpr int kWarp = 32;

// Which transforms queue their tails: the float64 ones whose values are mostly Phi^-1's central
// piece (core::runs_staged), known from the type once a truncated normal is fixed to its form.
template <class Transform>
constexpr bool kQueuesTails = false;
template <>
constexpr bool kQueuesTails<core::NormalTransform<double>> = true;
template <>
constexpr bool kQueuesTails<core::TruncatedNormalOfForm<double, core::TruncatedNormalForm::kLinear>> = true;

// Counters per lane and tile: a uniform element costs a few instructions, so its lanes take more
// counters to spread the loop's own cost over more elements.
template <class Transform>
constexpr int kCountersPerLaneOf = 2;
template <class T>
constexpr int kCountersPerLaneOf<core::UniformTransform<T>> = 8;

// Calls fn(transform) with a truncated normal fixed to its plan's form (the same values, one
// form's code in the kernel) and any other transform as it is. A truncated normal of form kWhole
// is the normal itself, and shares the normal's kernels.
template <class Transform, class Fn>
void with_fixed_form(const Transform& transform, Fn&& fn) {
  fn(transform);
}
template <class T, class Fn>
void with_fixed_form(const core::TruncatedNormalTransform<T>& transform, Fn&& fn) {
  using Form = core::TruncatedNormalForm;
  switch (transform.form()) {
    case Form::kLinear:
      return fn(core::TruncatedNormalOfForm<T, Form::kLinear>{transform});
    case Form::kLinearTail:
      return fn(core::TruncatedNormalOfForm<T, Form::kLinearTail>{transform});
    case Form::kNarrow:
      return fn(core::TruncatedNormalOfForm<T, Form::kNarrow>{transform});
    case Form::kLog:
      return fn(core::TruncatedNormalOfForm<T, Form::kLog>{transform});
    case Form::kWhole:
      return fn(core::NormalTransform<T>{{transform.plan.mean, transform.plan.signed_std}});
  }
}

// A run: n elements at out, element i at stream position g0 + i, g0 = base_counter * P + lead.
template <class Storage, class Transform>
struct Run {
  Storage* out;
  int64_t n;
  uint64_t base_counter;  // counter of the first element (before the mask that wraps it)
  int lead;               // position of the first element in its counter
  bool aligned;           // out - lead is 16-byte aligned: whole groups are one vector store
  core::PhiloxKey key;
  Transform transform;
};

template <OutDtype D, class Transform>
struct WarpFill {
  static constexpr bool kCompact = kQueuesTails<Transform>;
  using Traits = DtypeTraits<D>;
  using Compute = typename Traits::Compute;
  using Storage = typename Traits::Storage;
  using RunT = Run<Storage, Transform>;
  static constexpr int kPerCounter = Traits::kElementsPerCounter;
  static constexpr int kGroup = 16 / (kPerCounter * static_cast<int>(sizeof(Storage)));
  static constexpr int kCountersPerLane = kCountersPerLaneOf<Transform>;
  static constexpr int kGroups = kCountersPerLane / kGroup;
  static constexpr int kElementsPerLane = kCountersPerLane * kPerCounter;
  static constexpr int64_t kCountersPerTile = int64_t{kWarp} * kCountersPerLane;
  static constexpr int kQueueCapacity = kWarp * kElementsPerLane;
  static_assert(kGroup * kPerCounter * sizeof(Storage) == 16 && kGroups * kGroup == kCountersPerLane);

  // A lane's elements between the phases: values (with kCompact: a central element's
  // Phi^-1(1/2 + q), or a tail element's p until the queue returns its Phi^-1), and which
  // elements are tails and which lie in the lower half.
  struct Lane {
    Compute v[kElementsPerLane];
    uint32_t tail;
    uint32_t lower;
  };

  struct alignas(16) Pack {
    Storage v[kGroup * kPerCounter];
  };

  DEEPINIT_HD static int64_t tiles(const RunT& run) {
    const int64_t counters = (run.lead + run.n + kPerCounter - 1) / kPerCounter;
    return (counters + kCountersPerTile - 1) / kCountersPerTile;
  }

  // Counter of the run (from 0) of counter v of group j of `lane` in `tile`.
  DEEPINIT_HD static int64_t counter_in_run(int64_t tile, int lane, int j, int v) {
    return tile * kCountersPerTile + (int64_t{j} * kWarp + lane) * kGroup + v;
  }

  // Philox (round keys made once per thread), the bits and the transform (or its central piece);
  // returns the tails queued.
  DEEPINIT_HD static int generate(const RunT& run, const core::PhiloxRoundKeys<uint32_t>& keys, int64_t tile, int lane,
                                  Lane& s) {
    s.tail = 0;
    s.lower = 0;
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
    for (int c = 0; c < kCountersPerLane; ++c) {
      const uint64_t counter = (run.base_counter + static_cast<uint64_t>(counter_in_run(tile, lane, c / kGroup, c % kGroup))) &
                               core::kCounterMask<Compute>;
      uint32_t words[4];
      core::philox4x32_10_shared_high(static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), keys, words);
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
      for (int k = 0; k < kPerCounter; ++k) {
        const int slot = c * kPerCounter + k;
        const auto bits = core::bits_from_words<Compute>(words, static_cast<uint64_t>(k));
        if constexpr (kCompact) {
          const core::QuantileStage<Compute> stage = run.transform.begin(bits);
          const bool central = core::normal_quantile_is_central_f64(stage.q);
          s.v[slot] = central ? core::normal_quantile_central_f64(stage.q) : stage.p;
          s.tail |= central ? 0u : 1u << slot;
          s.lower |= stage.flip > Compute(0) ? 1u << slot : 0u;
        } else {
          s.v[slot] = run.transform(bits);
        }
      }
    }
    return kCompact ? popcount(s.tail) : 0;
  }

  // The lane's tails, at queue[base], queue[base + 1], ... (a pointer on the host; on the GPU, an
  // accessor of the warp's shared memory, so that no generic address is converted per access).
  template <class Queue>
  DEEPINIT_HD static void enqueue(const Lane& s, const Queue& queue, int base) {
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
    for (int slot = 0; slot < kElementsPerLane; ++slot) {
      if (s.tail >> slot & 1u) {
        queue[base++] = s.v[slot];
      }
    }
  }

  // Entries lane, lane + 32, ... of the warp's queue of `total` tails: p becomes Phi^-1(p). The
  // first tail piece (98.6% of a normal's tails) has its coefficients as constants; the lanes in
  // other pieces call the general code, which a warp then runs for those lanes only.
  template <class Queue>
  DEEPINIT_HD static void solve(const Queue& queue, int total, int lane) {
#if defined(__CUDA_ARCH__)
#pragma unroll 1
#endif
    for (int e = lane; e < total; e += kWarp) {
      const Compute r = core::sqrt_rn(-core::log_lane(queue[e]));
      queue[e] = core::normal_quantile_tail_piece_f64(r) == Compute(1) ? core::normal_quantile_tail_f64_piece(r, 1)
                                                                       : tail_of_any_piece(r);
    }
  }

  template <class Queue>
  DEEPINIT_HD static void dequeue(Lane& s, const Queue& queue, int base) {
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
    for (int slot = 0; slot < kElementsPerLane; ++slot) {
      if (s.tail >> slot & 1u) {
        s.v[slot] = queue[base++];
      }
    }
  }

  // The interior tiles [begin, end): every element of the tile lies in the run and the run is
  // aligned, so every group is one 16-byte store (store_interior). All tiles but the run's first
  // and last are interior, unless the run is unaligned; the others go through store_edge.
  struct TileRange {
    int64_t begin;
    int64_t end;
  };
  DEEPINIT_HD static TileRange interior_tiles(const RunT& run) {
    constexpr int64_t per_tile = kCountersPerTile * kPerCounter;
    const int64_t begin = run.lead == 0 ? 0 : 1;
    const int64_t end = (run.n + run.lead) / per_tile;
    return run.aligned && end > begin ? TileRange{begin, end} : TileRange{0, 0};
  }

  // Tile k of those that are not interior.
  DEEPINIT_HD static int64_t edge_tile(const TileRange& interior, int64_t k) {
    return k < interior.begin ? k : interior.end + (k - interior.begin);
  }

  DEEPINIT_HD static void store_interior(const RunT& run, int64_t tile, int lane, const Lane& s) {
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
    for (int j = 0; j < kGroups; ++j) {
      const Pack pack = packed(run, s, j);
      store_global(run.out + (counter_in_run(tile, lane, j, 0) * kPerCounter - run.lead), pack);
    }
  }

  // The other tiles, element by element.
  DEEPINIT_HD static void store_edge(const RunT& run, int64_t tile, int lane, const Lane& s) {
    for (int j = 0; j < kGroups; ++j) {
      const Pack pack = packed(run, s, j);
      const int64_t first = counter_in_run(tile, lane, j, 0) * kPerCounter - run.lead;
      for (int e = 0; e < kGroup * kPerCounter; ++e) {
        if (first + e >= 0 && first + e < run.n) {
          run.out[first + e] = pack.v[e];
        }
      }
    }
  }

 private:
  // normal_quantile_tail, out of the loop on the GPU: 1.4% of a float64 normal's tails need it.
  DEEPINIT_HD_COLD static Compute tail_of_any_piece(Compute r) { return core::normal_quantile_tail(r); }

  // Group j's values as stored: finished (kCompact) and converted to the storage type.
  DEEPINIT_HD static Pack packed(const RunT& run, const Lane& s, int j) {
    Pack pack;
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#endif
    for (int e = 0; e < kGroup * kPerCounter; ++e) {
      const int slot = j * kGroup * kPerCounter + e;
      Compute x = s.v[slot];
      if constexpr (kCompact) {
        x = run.transform.finish(s.lower >> slot & 1u ? Compute(1) : Compute(-1), x);
      }
      pack.v[e] = Traits::store(x);
    }
    return pack;
  }

  DEEPINIT_HD static int popcount(uint32_t bits) {
#if defined(__CUDA_ARCH__)
    return __popc(bits);
#else
    return __builtin_popcount(bits);
#endif
  }
};

}  // namespace warp_fill
}  // namespace deepinit
