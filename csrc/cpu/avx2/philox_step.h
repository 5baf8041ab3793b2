// One Philox step of the AVX2 kernels: 8 x kPhiloxSets counters in registers (512-bit ones where
// the capability has them), Philox4x32-10 on them, and their words in element order. Which
// counters a step takes is a counter plan's business (counter_plans.h).
// Part of cpu/avx2/kernels.h, compiled once per x86 capability.
#pragma once
#ifndef DEEPINIT_SIMD_TARGET
#error "include cpu/avx2/kernels.h, which sets the instruction set"
#endif

#include "core/philox.h"
#include "core/stream.h"
#include "cpu/avx2/lanes.h"
#include "job.h"

namespace deepinit {
namespace cpu {
namespace {

using namespace avx2;
using core::PhiloxKey;

#ifndef DEEPINIT_AVX2_PHILOX_SETS
#define DEEPINIT_AVX2_PHILOX_SETS 2
#endif
// Counters per step are 8 x kPhiloxSets: sets of 8 only interleave independent dependency
// chains. With 16 registers (AVX2) 2 sets measured best on Zen 4 and Zen 5; the avx512vl build
// takes 4 sets, in two 512-bit registers.
constexpr int kPhiloxSets = DEEPINIT_AVX2_PHILOX_SETS;
constexpr int kStepCounters = 8 * kPhiloxSets;

// Values of an output dtype's compute type in one AVX2 register.
template <OutDtype D>
constexpr int kRegisterLanes = static_cast<int>(32 / sizeof(typename DtypeTraits<D>::Compute));

// Counters c, c+1, ..., c+8P-1 modulo mask + 1 (2^62 for the float family, 2^63 for float64),
// 8 per register. Returns whether they share one high word (c >> 32), as all but one call in
// 2^29 do.
template <int P>
bool counter_lanes(uint64_t c, uint64_t mask, U32v<P>& lo, U32v<P>& hi) {
  if (static_cast<uint32_t>(c) <= 0xFFFFFFFFu - (8 * P - 1) && c + (8 * P - 1) <= mask) {
    const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(c))),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int p = 0; p < P; ++p) {
      lo.v[p] = _mm256_add_epi32(base, _mm256_set1_epi32(8 * p));
      hi.v[p] = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(c >> 32)));
    }
    return true;
  }
  alignas(32) uint32_t l[8 * P], h[8 * P];
  for (int j = 0; j < 8 * P; ++j) {
    const uint64_t cj = (c + j) & mask;
    l[j] = static_cast<uint32_t>(cj);
    h[j] = static_cast<uint32_t>(cj >> 32);
  }
  for (int p = 0; p < P; ++p) {
    lo.v[p] = _mm256_load_si256(reinterpret_cast<const __m256i*>(l + 8 * p));
    hi.v[p] = _mm256_load_si256(reinterpret_cast<const __m256i*>(h + 8 * p));
  }
  return false;
}

// The Philox lanes of a step: set p of 8 counters (the 8-lane register that the transposition
// into element order takes) is register p, or half p % 2 of 512-bit register p / 2.
#if defined(DEEPINIT_ZMM)
static_assert(kPhiloxSets % 2 == 0, "512-bit Philox lanes hold two 8-counter sets");
using PhiloxLanes = U32z<kPhiloxSets / 2>;

template <int P>
bool counter_lanes(uint64_t c, uint64_t mask, U32z<P>& lo, U32z<P>& hi) {
  if (static_cast<uint32_t>(c) <= 0xFFFFFFFFu - (16 * P - 1) && c + (16 * P - 1) <= mask) {
    const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(c))),
                                          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    for (int p = 0; p < P; ++p) {
      lo.v[p] = _mm512_add_epi32(base, _mm512_set1_epi32(16 * p));
      hi.v[p] = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(c >> 32)));
    }
    return true;
  }
  alignas(64) uint32_t l[16 * P], h[16 * P];
  for (int j = 0; j < 16 * P; ++j) {
    const uint64_t cj = (c + j) & mask;
    l[j] = static_cast<uint32_t>(cj);
    h[j] = static_cast<uint32_t>(cj >> 32);
  }
  for (int p = 0; p < P; ++p) {
    lo.v[p] = _mm512_load_si512(l + 16 * p);
    hi.v[p] = _mm512_load_si512(h + 16 * p);
  }
  return false;
}

__m256i counter_set(const PhiloxLanes& w, int p) {
  return p % 2 ? _mm512_extracti64x4_epi64(w.v[p / 2], 1) : _mm512_castsi512_si256(w.v[p / 2]);
}
// Sets go in in increasing p: the even one starts its register, the odd one fills its top half.
void set_counter_set(PhiloxLanes& w, int p, __m256i x) {
  w.v[p / 2] = p % 2 ? _mm512_inserti64x4(w.v[p / 2], x, 1) : _mm512_castsi256_si512(x);
}
PhiloxLanes load_counter_lanes(const uint32_t* src) {
  PhiloxLanes w;
  for (int k = 0; k < kPhiloxSets / 2; ++k) w.v[k] = _mm512_loadu_si512(src + 16 * k);
  return w;
}
// One register of Philox lanes at a time (fill_narrow_rows).
void store_lanes(uint32_t* dst, __m512i x) { _mm512_store_si512(dst, x); }
__m512i interleave_low(__m512i a, __m512i b) { return _mm512_unpacklo_epi32(a, b); }
__m512i interleave_high(__m512i a, __m512i b) { return _mm512_unpackhi_epi32(a, b); }
#else
using PhiloxLanes = U32v<kPhiloxSets>;
__m256i counter_set(const PhiloxLanes& w, int p) { return w.v[p]; }
void set_counter_set(PhiloxLanes& w, int p, __m256i x) { w.v[p] = x; }
PhiloxLanes load_counter_lanes(const uint32_t* src) {
  PhiloxLanes w;
  for (int p = 0; p < kPhiloxSets; ++p) w.v[p] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 8 * p));
  return w;
}
void store_lanes(uint32_t* dst, __m256i x) { _mm256_store_si256(reinterpret_cast<__m256i*>(dst), x); }
__m256i interleave_low(__m256i a, __m256i b) { return _mm256_unpacklo_epi32(a, b); }
__m256i interleave_high(__m256i a, __m256i b) { return _mm256_unpackhi_epi32(a, b); }
#endif
using RoundKeys = core::PhiloxRoundKeys<PhiloxLanes>;
constexpr int kLaneRegisters = static_cast<int>(sizeof(PhiloxLanes::v) / sizeof(PhiloxLanes::v[0]));
constexpr int kLanes = kStepCounters / kLaneRegisters;  // counters per register of Philox lanes

// Philox on one step of counters: lo holds their low words; their high words are all `high`
// when shared_high (the first two rounds are then cheaper), else hi holds them. w[k] receives
// word k of each counter, in the lanes' order; lo and hi may be w[0] and w[1].
inline __attribute__((always_inline)) void philox_step(const RoundKeys& key, const PhiloxLanes& lo,
                                                       const PhiloxLanes& hi, bool shared_high, uint32_t high,
                                                       PhiloxLanes (&w)[4]) {
  if (shared_high) {
    core::philox4x32_10_shared_high(lo, high, key, w);
  } else {
    w[0] = lo;
    w[1] = hi;
    w[2] = PhiloxLanes(0u);
    w[3] = PhiloxLanes(0u);
    core::philox4x32_10(w, key);
  }
}

// Float family: element 4j + k is word k of counter j; out[v] holds elements 8v .. 8v+7 of
// the 32 elements of one register's counters.
void elements_32(__m256i w0, __m256i w1, __m256i w2, __m256i w3, __m256i* out) {
  const __m256i t0 = _mm256_unpacklo_epi32(w0, w1);
  const __m256i t1 = _mm256_unpackhi_epi32(w0, w1);
  const __m256i t2 = _mm256_unpacklo_epi32(w2, w3);
  const __m256i t3 = _mm256_unpackhi_epi32(w2, w3);
  const __m256i s0 = _mm256_unpacklo_epi64(t0, t2);  // elements 0-3 | 16-19
  const __m256i s1 = _mm256_unpackhi_epi64(t0, t2);  // 4-7 | 20-23
  const __m256i s2 = _mm256_unpacklo_epi64(t1, t3);  // 8-11 | 24-27
  const __m256i s3 = _mm256_unpackhi_epi64(t1, t3);  // 12-15 | 28-31
  out[0] = _mm256_permute2x128_si256(s0, s1, 0x20);
  out[1] = _mm256_permute2x128_si256(s2, s3, 0x20);
  out[2] = _mm256_permute2x128_si256(s0, s1, 0x31);
  out[3] = _mm256_permute2x128_si256(s2, s3, 0x31);
}

// Float64: element 2j is words (1, 0) of counter j as (high, low), element 2j+1 words (3, 2).
void elements_64(__m256i w0, __m256i w1, __m256i w2, __m256i w3, __m256i* out) {
  const __m256i a = _mm256_unpacklo_epi32(w0, w1);  // elements 0, 2 | 8, 10
  const __m256i b = _mm256_unpackhi_epi32(w0, w1);  // 4, 6 | 12, 14
  const __m256i c = _mm256_unpacklo_epi32(w2, w3);  // 1, 3 | 9, 11
  const __m256i d = _mm256_unpackhi_epi32(w2, w3);  // 5, 7 | 13, 15
  const __m256i x0 = _mm256_unpacklo_epi64(a, c);   // 0, 1 | 8, 9
  const __m256i x1 = _mm256_unpackhi_epi64(a, c);   // 2, 3 | 10, 11
  const __m256i x2 = _mm256_unpacklo_epi64(b, d);   // 4, 5 | 12, 13
  const __m256i x3 = _mm256_unpackhi_epi64(b, d);   // 6, 7 | 14, 15
  out[0] = _mm256_permute2x128_si256(x0, x1, 0x20);
  out[1] = _mm256_permute2x128_si256(x2, x3, 0x20);
  out[2] = _mm256_permute2x128_si256(x0, x1, 0x31);
  out[3] = _mm256_permute2x128_si256(x2, x3, 0x31);
}

// The step's words as registers of uniform bits in element order: bits[4 kPhiloxSets] of 32-bit
// (float family) or 64-bit (float64) lanes.
template <class Compute>
inline __attribute__((always_inline)) void words_to_elements(const PhiloxLanes (&w)[4], __m256i* bits) {
  for (int p = 0; p < kPhiloxSets; ++p) {
    (std::is_same_v<Compute, double> ? elements_64 : elements_32)(counter_set(w[0], p), counter_set(w[1], p),
                                                                  counter_set(w[2], p), counter_set(w[3], p),
                                                                  bits + 4 * p);
  }
}

}  // namespace
}  // namespace cpu
}  // namespace deepinit
