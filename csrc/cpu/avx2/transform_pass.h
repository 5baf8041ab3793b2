// Transform passes: the core's transforms over the uniform bits that a counter plan
// (counter_plans.h) gives step by step, the results handed to a sink (sinks.h) in element
// order. transform_direct runs each register group straight through; transform_staged splits
// quantile transforms into a central piece for every lane and a tail piece for the packed lanes
// that need it.
// Part of cpu/avx2/kernels.h, compiled once per x86 capability.
#pragma once

#include <algorithm>
#include <type_traits>

#include "core/transforms.h"
#include "cpu/avx2/philox_step.h"

namespace deepinit {
namespace cpu {
namespace {

#ifndef DEEPINIT_AVX2_GROUP
#define DEEPINIT_AVX2_GROUP 4
#endif
#ifndef DEEPINIT_AVX2_DIRECT_GROUP
#define DEEPINIT_AVX2_DIRECT_GROUP DEEPINIT_AVX2_GROUP
#endif
#ifndef DEEPINIT_AVX2_BLOCK_STEPS
#define DEEPINIT_AVX2_BLOCK_STEPS 8
#endif
// Transforms run on kGroup registers at a time (kDirectGroup in transform_direct): independent
// dependency chains that interleave. Groups of 4 measured best with 16 registers (AVX2); the
// avx512vl build takes direct groups of 8. A staged pass works on blocks of kBlockSteps steps.
constexpr int kGroup = DEEPINIT_AVX2_GROUP;
constexpr int kDirectGroup = DEEPINIT_AVX2_DIRECT_GROUP;
#if defined(DEEPINIT_ZMM)
#ifndef DEEPINIT_ZMM_DIRECT_GROUP
#define DEEPINIT_ZMM_DIRECT_GROUP 8
#endif
// Float transforms with 512-bit lanes take this many 8-lane registers at a time, in pairs.
constexpr int kZmmDirectGroup = DEEPINIT_ZMM_DIRECT_GROUP;
#endif
constexpr int kBlockSteps = DEEPINIT_AVX2_BLOCK_STEPS;

// Register <-> memory moves and lane access for the staged pass's buffers.
template <int K>
void store_aligned(float* dst, const F32v<K>& x) {
  for (int k = 0; k < K; ++k) _mm256_store_ps(dst + 8 * k, x.v[k]);
}
template <int K>
void store_aligned(double* dst, const F64v<K>& x) {
  for (int k = 0; k < K; ++k) _mm256_store_pd(dst + 4 * k, x.v[k]);
}
template <int K>
void store_unaligned(float* dst, const F32v<K>& x) {
  for (int k = 0; k < K; ++k) _mm256_storeu_ps(dst + 8 * k, x.v[k]);
}
template <int K>
void store_unaligned(double* dst, const F64v<K>& x) {
  for (int k = 0; k < K; ++k) _mm256_storeu_pd(dst + 4 * k, x.v[k]);
}
template <int K>
void load_aligned_or_not(F32v<K>& x, const float* src) {
  for (int k = 0; k < K; ++k) x.v[k] = _mm256_loadu_ps(src + 8 * k);
}
template <int K>
void load_aligned_or_not(F64v<K>& x, const double* src) {
  for (int k = 0; k < K; ++k) x.v[k] = _mm256_loadu_pd(src + 4 * k);
}
template <int K>
int movemask(const M32v<K>& m, int k) {
  return _mm256_movemask_ps(m.v[k]);
}
template <int K>
int movemask(const M64v<K>& m, int k) {
  return _mm256_movemask_pd(m.v[k]);
}

// Packing and unpacking double lanes without branches. For each lane mask, kPack gives the
// 32-bit lane indices that move the selected lanes (pairs of 32-bit lanes) to the front, kUnpack
// those that move the front lanes back to the selected places.
struct LaneTable {
  uint64_t indices[16];  // one byte per 32-bit lane
};
constexpr LaneTable make_lane_table(bool unpack) {
  LaneTable table{};
  for (int mask = 0; mask < 16; ++mask) {
    uint64_t packed = 0;
    int rank = 0;
    for (int lane = 0; lane < 4; ++lane) {
      if (mask >> lane & 1) {
        const int to = unpack ? lane : rank;
        const int from = unpack ? rank : lane;
        for (int half = 0; half < 2; ++half) {
          packed |= uint64_t(2 * from + half) << (8 * (2 * to + half));
        }
        ++rank;
      }
    }
    table.indices[mask] = packed;
  }
  return table;
}
constexpr LaneTable kPack64 = make_lane_table(false);
constexpr LaneTable kUnpack64 = make_lane_table(true);

__m256i lane_order(const LaneTable& table, int mask) {
  return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(table.indices[mask])));
}

// Appends the lanes of `value` selected by `mask` at dst (room for a full register); returns
// how many.
int pack_lanes(int mask, __m256d value, double* dst) {
  _mm256_storeu_pd(dst, _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(value), lane_order(kPack64, mask))));
  return __builtin_popcount(mask);
}

// The inverse: lanes selected by `mask` take the next values from src, the others keep `base`.
__m256d unpack_lanes(int mask, const double* src, __m256d base) {
  const __m256d moved =
      _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(_mm256_loadu_pd(src)), lane_order(kUnpack64, mask)));
  const __m256i bit = _mm256_and_si256(_mm256_set1_epi64x(mask), _mm256_setr_epi64x(1, 2, 4, 8));
  return _mm256_blendv_pd(base, moved, _mm256_castsi256_pd(_mm256_cmpgt_epi64(bit, _mm256_setzero_si256())));
}

// K registers of bits as the lanes of the transforms' bits: 32-bit lanes for float, 64-bit for
// double.
template <class Compute, int K>
inline __attribute__((always_inline)) auto words_of(const __m256i* bits) {
  std::conditional_t<std::is_same_v<Compute, double>, U64v<K>, U32v<K>> r;
  for (int k = 0; k < K; ++k) r.v[k] = bits[k];
  return r;
}

// Any transform: kDirectGroup registers at a time, straight from the bits of each step (4
// kPhiloxSets registers, in element order) that plan(step, bits) provides. Elements first,
// first + 1, ... go to sink.store(tag, first, registers); those at n and past are not produced
// beyond the register that holds element n - 1.
template <class Transform, OutDtype D, class Plan, class Sink>
void transform_direct(const Transform& transform, DtypeTag<D> tag, int64_t n, int64_t first, const Plan& plan,
                      const Sink& sink) {
  using Compute = typename DtypeTraits<D>::Compute;
  constexpr int lanes = kRegisterLanes<D>;    // elements per register
  constexpr int registers = 4 * kPhiloxSets;  // element registers per step
  for (int64_t i = first, step = 0; i < n; i += registers * lanes, ++step) {
    __m256i bits[registers];
    plan(step, bits);
#if defined(DEEPINIT_ZMM)
    if constexpr (std::is_same_v<Compute, float>) {
      // Float transforms on 512-bit lanes: pairs of the step's registers, transformed together.
      constexpr int pairs = kZmmDirectGroup / 2;
      for (int group = 0; group < registers && i + group * lanes < n; group += kZmmDirectGroup) {
        U32z<pairs> words;
        for (int k = 0; k < pairs; ++k) {
          words.v[k] = _mm512_inserti64x4(_mm512_castsi256_si512(bits[group + 2 * k]), bits[group + 2 * k + 1], 1);
        }
        const F32z<pairs> x = transform(words);
        F32v<kZmmDirectGroup> halves;
        for (int k = 0; k < pairs; ++k) {
          halves.v[2 * k] = _mm512_castps512_ps256(x.v[k]);
          halves.v[2 * k + 1] = _mm512_extractf32x8_ps(x.v[k], 1);
        }
        sink.store(tag, i + group * lanes, halves);
      }
      continue;
    }
#endif
    for (int group = 0; group < registers && i + group * lanes < n; group += kDirectGroup) {
      sink.store(tag, i + group * lanes, transform(words_of<Compute, kDirectGroup>(bits + group)));
    }
  }
}

// A plan's step as a call: the staged pass's loop then keeps its registers for the transform
// (inlined, Philox costs the truncated normals 6% more instructions).
template <class Plan>
__attribute__((noinline)) void step_of(const Plan& plan, int64_t step, __m256i* bits) {
  plan(step, bits);
}

// Quantile transforms in stages (QuantileStage in core/transforms.h): per block of kBlockSteps
// steps, every lane takes the cheap central piece, and the lanes that need the tail (about 28%
// of a normal_'s) are packed into full registers for the log, the square root and the tail
// polynomial. Lane by lane the arithmetic is normal_quantile_lower_f64's, so the bits are the same.
template <class Transform, OutDtype D, class Plan, class Sink>
void transform_staged(const Transform& transform, DtypeTag<D> tag, int64_t n, int64_t first, const Plan& plan,
                      const Sink& sink) {
  using Compute = typename DtypeTraits<D>::Compute;
  constexpr bool f64 = std::is_same_v<Compute, double>;
  using FGroup = std::conditional_t<f64, F64v<kGroup>, F32v<kGroup>>;
  constexpr int lanes = kRegisterLanes<D>;
  constexpr int registers = 4 * kPhiloxSets * kBlockSteps;
  constexpr int block = registers * lanes;
  constexpr int group = kGroup * lanes;

  alignas(32) Compute x[block];
  alignas(32) Compute flip[block];
  alignas(32) Compute tail_p[block + group];
  uint8_t tail_mask[registers];

  for (int64_t i = first, step0 = 0; i < n; i += block, step0 += kBlockSteps) {
    const int used = static_cast<int>(std::min<int64_t>(registers, (n - i + lanes - 1) / lanes));
    int tails = 0;
    for (int step = 0; step < kBlockSteps && step * 4 * kPhiloxSets < used; ++step) {
      __m256i bits[4 * kPhiloxSets];
      step_of(plan, step0 + step, bits);
      for (int k = 0; k < 4 * kPhiloxSets; k += kGroup) {
        const int v = step * 4 * kPhiloxSets + k;
        const core::QuantileStage<FGroup> stage = transform.begin(words_of<Compute, kGroup>(bits + k));
        const auto central = core::normal_quantile_is_central_f64(stage.q);
        store_aligned(x + v * lanes, core::normal_quantile_central_f64(stage.q));
        store_aligned(flip + v * lanes, stage.flip);
        for (int j = 0; j < kGroup; ++j) {
          tail_mask[v + j] = static_cast<uint8_t>(~movemask(central, j) & ((1 << lanes) - 1));
          tails += pack_lanes(tail_mask[v + j], stage.p.v[j], tail_p + tails);
        }
      }
    }
    for (int k = tails; k < (tails + group - 1) / group * group; ++k) {
      tail_p[k] = 0.25;  // padding: any p in the tail's domain
    }
    for (int k = 0; k < tails; k += group) {
      FGroup tail;
      load_aligned_or_not(tail, tail_p + k);
      store_unaligned(tail_p + k, core::normal_quantile_tail(sqrt_rn(-core::log_lane(tail))));
    }
    int next_tail = 0;
    for (int v = 0; v < used; v += kGroup) {
      FGroup x_lower, sign;
      load_aligned_or_not(x_lower, x + v * lanes);
      load_aligned_or_not(sign, flip + v * lanes);
      for (int k = 0; k < kGroup; ++k) {
        x_lower.v[k] = unpack_lanes(tail_mask[v + k], tail_p + next_tail, x_lower.v[k]);
        next_tail += __builtin_popcount(tail_mask[v + k]);
      }
      sink.store(tag, i + v * lanes, transform.finish(sign, x_lower));
    }
  }
}

// Transforms that have stages (transform_staged); core::runs_staged says when to use them.
template <class Transform>
constexpr bool kStageable = core::kHasStages<Transform>;

// Runs the transform over elements first, first + 1, ... (see transform_direct), staged when
// that pays.
template <class Transform, OutDtype D, class Plan, class Sink>
void transform_elements(const Transform& transform, DtypeTag<D> tag, int64_t n, int64_t first, const Plan& plan,
                        const Sink& sink) {
  if constexpr (kStageable<Transform>) {
    if (core::runs_staged(transform)) {
      transform_staged(transform, tag, n, first, plan, sink);
      return;
    }
  }
  transform_direct(transform, tag, n, first, plan, sink);
}

}  // namespace
}  // namespace cpu
}  // namespace deepinit
