// The AVX2 kernels: Philox counters in 8-lane registers, transposed into element order, then the
// core's transforms on 8 float or 4 double lanes. Compiled once per x86 capability by a unit
// that defines DEEPINIT_SIMD_TARGET (the instruction sets, as for __attribute__((target))),
// DEEPINIT_CORE_ABI and DEEPINIT_SIMD_ENTRY (the function it defines): fill_avx2.cpp for AVX2,
// fill_avx2_evex.cpp for the same code with AVX-512VL encodings (32 registers). fill_cpu.cpp
// picks one at run time by what the CPU supports; all equal fill_contiguous_scalar bit for bit.
#if defined(__x86_64__) || defined(_M_X64)

// Standard headers first, so that only our own code below is compiled for AVX2.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

// Pragmas do not expand macros: build them with _Pragma.
#define DEEPINIT_PRAGMA(text) _Pragma(#text)
#define DEEPINIT_TARGET_PRAGMA(isa) DEEPINIT_PRAGMA(GCC target(isa))
#define DEEPINIT_CLANG_TARGET_PRAGMA(isa) \
  DEEPINIT_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#if defined(__clang__)
DEEPINIT_CLANG_TARGET_PRAGMA(DEEPINIT_SIMD_TARGET)
#elif defined(__GNUC__)
#pragma GCC push_options
DEEPINIT_TARGET_PRAGMA(DEEPINIT_SIMD_TARGET)
#endif

#include "cpu/avx2_lanes.h"
#include "cpu/contiguous_fill.h"

namespace deepinit {
namespace cpu {
namespace {

using namespace avx2;
using core::PhiloxKey;

#ifndef DEEPINIT_AVX2_PHILOX_SETS
#define DEEPINIT_AVX2_PHILOX_SETS 2
#endif
#ifndef DEEPINIT_AVX2_GROUP
#define DEEPINIT_AVX2_GROUP 4
#endif
#ifndef DEEPINIT_AVX2_DIRECT_GROUP
#define DEEPINIT_AVX2_DIRECT_GROUP DEEPINIT_AVX2_GROUP
#endif
// Counters per step are 8 x kPhiloxSets; transforms run on kGroup registers at a time
// (kDirectGroup in transform_direct). All three only interleave independent dependency chains.
// With 16 registers (AVX2) 2 sets and groups of 4 measured best on Zen 4 and Zen 5; the
// avx512vl build takes 4 sets, two 512-bit registers, and direct groups of 8.
constexpr int kPhiloxSets = DEEPINIT_AVX2_PHILOX_SETS;
constexpr int kGroup = DEEPINIT_AVX2_GROUP;
constexpr int kDirectGroup = DEEPINIT_AVX2_DIRECT_GROUP;

// Counters c, c+1, ..., c+8P-1 modulo 2^62 (float family) or 2^63 (float64), 8 per register.
// Returns whether they share one high word (c >> 32), as all but one call in 2^29 do.
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

// Round-to-nearest-even stores of one register: 8 float lanes (4 double lanes for kFloat64).
void store(DtypeTag<OutDtype::kFloat32>, void* dst, __m256 x) { _mm256_storeu_ps(static_cast<float*>(dst), x); }
void store(DtypeTag<OutDtype::kFloat64>, void* dst, __m256d x) { _mm256_storeu_pd(static_cast<double*>(dst), x); }
void store(DtypeTag<OutDtype::kFloat16>, void* dst, __m256 x) {
  _mm_storeu_si128(static_cast<__m128i*>(dst), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
void store(DtypeTag<OutDtype::kBFloat16>, void* dst, __m256 x) {
  // The same rounding as c10::BFloat16: add 0x7fff plus the lowest kept bit, keep the top half.
  const __m256i bits = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(rounded, rounded), 0xD8);
  _mm_storeu_si128(static_cast<__m128i*>(dst), _mm256_castsi256_si128(packed));
}

// Register <-> memory moves and lane access for the staged path's buffers.
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

// Packing and unpacking lanes without branches. For each lane mask, kPack gives the 32-bit lane
// indices that move the selected lanes to the front, kUnpack those that move the front lanes
// back to the selected places (8 float lanes; or 4 double lanes as pairs of 32-bit lanes).
struct LaneTable {
  uint64_t indices[256];  // one byte per 32-bit lane
};
constexpr LaneTable make_lane_table(bool pairs, bool unpack) {
  LaneTable table{};
  const int lanes = pairs ? 4 : 8;
  for (int mask = 0; mask < (1 << lanes); ++mask) {
    uint64_t packed = 0;
    int rank = 0;
    for (int lane = 0; lane < lanes; ++lane) {
      if (mask >> lane & 1) {
        const int to = unpack ? lane : rank;
        const int from = unpack ? rank : lane;
        const int width = pairs ? 2 : 1;
        for (int half = 0; half < width; ++half) {
          packed |= uint64_t(width * from + half) << (8 * (width * to + half));
        }
        ++rank;
      }
    }
    table.indices[mask] = packed;
  }
  return table;
}
constexpr LaneTable kPack32 = make_lane_table(false, false);
constexpr LaneTable kPack64 = make_lane_table(true, false);
constexpr LaneTable kUnpack32 = make_lane_table(false, true);
constexpr LaneTable kUnpack64 = make_lane_table(true, true);

__m256i lane_order(const LaneTable& table, int mask) {
  return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(table.indices[mask])));
}

// Appends the lanes of `value` selected by `mask` at dst (room for a full register); returns
// how many.
int pack_lanes(int mask, __m256 value, float* dst) {
  _mm256_storeu_ps(dst, _mm256_permutevar8x32_ps(value, lane_order(kPack32, mask)));
  return __builtin_popcount(mask);
}
int pack_lanes(int mask, __m256d value, double* dst) {
  _mm256_storeu_pd(dst, _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(value), lane_order(kPack64, mask))));
  return __builtin_popcount(mask);
}

// The inverse: lanes selected by `mask` take the next values from src, the others keep `base`.
__m256 unpack_lanes(int mask, const float* src, __m256 base) {
  const __m256 moved = _mm256_permutevar8x32_ps(_mm256_loadu_ps(src), lane_order(kUnpack32, mask));
  const __m256i bit = _mm256_and_si256(_mm256_set1_epi32(mask), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128));
  return _mm256_blendv_ps(base, moved, _mm256_castsi256_ps(_mm256_cmpgt_epi32(bit, _mm256_setzero_si256())));
}
__m256d unpack_lanes(int mask, const double* src, __m256d base) {
  const __m256d moved =
      _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(_mm256_loadu_pd(src)), lane_order(kUnpack64, mask)));
  const __m256i bit = _mm256_and_si256(_mm256_set1_epi64x(mask), _mm256_setr_epi64x(1, 2, 4, 8));
  return _mm256_blendv_pd(base, moved, _mm256_castsi256_pd(_mm256_cmpgt_epi64(bit, _mm256_setzero_si256())));
}

template <OutDtype D>
constexpr std::size_t kOutBytes = D == OutDtype::kFloat64 ? 8 : D == OutDtype::kFloat32 ? 4 : 2;

// The Philox lanes of a step: 8 x kPhiloxSets counters, in 512-bit registers where the capability
// has them, which halves the Philox instructions; set p of 8 counters (the 8-lane register the
// transposition takes) is then half p % 2 of register p / 2.
#if defined(DEEPINIT_ZMM_PHILOX)
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
// One register of Philox lanes at a time (fill_column_rows).
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
constexpr int kLanes = 8 * kPhiloxSets / kLaneRegisters;  // counters per register of Philox lanes

// The step's uniforms as registers in element order (bits[4 P] of 32-bit or 64-bit lanes).
template <bool f64>
inline __attribute__((always_inline)) void step_bits(const RoundKeys& key, uint64_t counter, __m256i* bits) {
  using Compute = std::conditional_t<f64, double, float>;
  constexpr uint64_t mask = core::kCounterMask<Compute>;
  PhiloxLanes w[4];
  if (counter_lanes(counter & mask, mask, w[0], w[1])) {
    core::philox4x32_10_shared_high(w[0], static_cast<uint32_t>((counter & mask) >> 32), key, w);
  } else {
    w[2] = PhiloxLanes(0u);
    w[3] = PhiloxLanes(0u);
    core::philox4x32_10(w, key);
  }
  for (int p = 0; p < kPhiloxSets; ++p) {
    (f64 ? elements_64 : elements_32)(counter_set(w[0], p), counter_set(w[1], p), counter_set(w[2], p),
                                      counter_set(w[3], p), bits + 4 * p);
  }
}

// Stores registers x, which belong at out + first, where they fall inside out[0, n).
template <OutDtype D, class X>
__attribute__((noinline)) void store_registers_partial(DtypeTag<D> tag, unsigned char* out, int64_t n, int64_t first,
                                                       const X& x) {
  constexpr int lanes = D == OutDtype::kFloat64 ? 4 : 8;
  constexpr int count = static_cast<int>(sizeof(x.v) / sizeof(x.v[0]));
  constexpr std::size_t bytes = kOutBytes<D>;
  alignas(32) unsigned char tmp[count * lanes * bytes];
  for (int k = 0; k < count; ++k) {
    store(tag, tmp + k * lanes * bytes, x.v[k]);
  }
  const int64_t begin = first < 0 ? -first : 0;
  const int64_t end = n - first < count * lanes ? n - first : count * lanes;
  if (end > begin) {
    std::memcpy(out + (first + begin) * bytes, tmp + begin * bytes, (end - begin) * bytes);
  }
}

template <OutDtype D, class X>
inline __attribute__((always_inline)) void store_registers(DtypeTag<D> tag, unsigned char* out, int64_t n,
                                                           int64_t first, const X& x) {
  constexpr int lanes = D == OutDtype::kFloat64 ? 4 : 8;
  constexpr int count = static_cast<int>(sizeof(x.v) / sizeof(x.v[0]));
  if (first >= 0 && first + count * lanes <= n) {
    for (int k = 0; k < count; ++k) {
      store(tag, out + (first + k * lanes) * kOutBytes<D>, x.v[k]);
    }
  } else {
    store_registers_partial(tag, out, n, first, x);
  }
}

// Any fill: the transform runs on kDirectGroup registers at a time, straight from the bits of
// each step (4 kPhiloxSets registers, in element order) that bits_of_step(step, bits) provides.
// Elements first, first + 1, ... go to out[first], ...; those outside [0, n) are dropped.
template <class Transform, OutDtype D, class Provider, class Sink>
void transform_direct(const Transform& transform, DtypeTag<D> tag, int64_t n, int64_t first,
                      const Provider& bits_of_step, const Sink& sink) {
  constexpr bool f64 = D == OutDtype::kFloat64;
  constexpr int lanes = f64 ? 4 : 8;         // elements per register
  constexpr int registers = 4 * kPhiloxSets;  // element registers per step
  for (int64_t i = first, step = 0; i < n; i += registers * lanes, ++step) {
    __m256i bits[registers];
    bits_of_step(step, bits);
    for (int group = 0; group < registers && i + group * lanes < n; group += kDirectGroup) {
      std::conditional_t<f64, U64v<kDirectGroup>, U32v<kDirectGroup>> r;
      for (int k = 0; k < kDirectGroup; ++k) {
        r.v[k] = bits[group + k];
      }
      if constexpr (f64) {
        sink.store(tag, i + group * lanes, transform(core::uniform_f64_from_bits(r)));
      } else {
        sink.store(tag, i + group * lanes, transform(core::uniform_f32_from_bits(r)));
      }
    }
  }
}

// Quantile fills in stages (QuantileStage in core/transforms.h): per block of kBlockSteps Philox
// steps, every lane takes the cheap central piece, and the lanes that need the tail (about 28%
// of a normal_'s) are packed into full registers for the log, the square root and the tail
// polynomial. Lane by lane the arithmetic is normal_quantile_lower's, so the bits are the same.
#ifndef DEEPINIT_AVX2_BLOCK_STEPS
#define DEEPINIT_AVX2_BLOCK_STEPS 8
#endif
constexpr int kBlockSteps = DEEPINIT_AVX2_BLOCK_STEPS;

template <class Transform, OutDtype D, class Provider, class Sink>
void transform_staged(const Transform& transform, DtypeTag<D> tag, int64_t n, int64_t first,
                      const Provider& bits_of_step, const Sink& sink) {
  constexpr bool f64 = D == OutDtype::kFloat64;
  using Compute = std::conditional_t<f64, double, float>;
  using FGroup = std::conditional_t<f64, F64v<kGroup>, F32v<kGroup>>;
  constexpr int lanes = f64 ? 4 : 8;
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
      bits_of_step(step0 + step, bits);
      for (int k = 0; k < 4 * kPhiloxSets; k += kGroup) {
        const int v = step * 4 * kPhiloxSets + k;
        FGroup u;
        if constexpr (f64) {
          U64v<kGroup> r;
          for (int j = 0; j < kGroup; ++j) r.v[j] = bits[k + j];
          u = core::uniform_f64_from_bits(r);
        } else {
          U32v<kGroup> r;
          for (int j = 0; j < kGroup; ++j) r.v[j] = bits[k + j];
          u = core::uniform_f32_from_bits(r);
        }
        const core::QuantileStage<FGroup> stage = transform.begin(u);
        const auto central = core::normal_quantile_is_central(stage.q);
        store_aligned(x + v * lanes, core::normal_quantile_central(stage.q));
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
constexpr bool kStageable = !std::is_same_v<Transform, core::UniformTransform<float>> &&
                            !std::is_same_v<Transform, core::UniformTransform<double>>;

// Runs the transform over elements first, first + 1, ... (see transform_direct), staged when
// that pays.
template <class Transform, OutDtype D, class Provider, class Sink>
void transform_elements(const Transform& transform, DtypeTag<D> tag, int64_t n, int64_t first,
                        const Provider& bits_of_step, const Sink& sink) {
  if constexpr (kStageable<Transform>) {
    if (core::runs_staged(transform)) {
      transform_staged(transform, tag, n, first, bits_of_step, sink);
      return;
    }
  }
  transform_direct(transform, tag, n, first, bits_of_step, sink);
}

// Where the transformed registers go. Elements are numbered in the order they are generated;
// store(tag, first, x) receives registers x for elements first, first + 1, ... in increasing
// order of first.
//
// One run: element e goes to out[e], those outside [0, n) are dropped.
struct RunSink {
  unsigned char* out;
  int64_t n;
  template <OutDtype D, class X>
  void store(DtypeTag<D> tag, int64_t first, const X& x) const {
    store_registers(tag, out, n, first, x);
  }
};

// Rows of `length` elements, `stride` bytes apart, `count` of them, whose length is a multiple
// of the register: element e goes to row e / length, which the sink follows as e grows.
template <OutDtype D>
struct RowSink {
  unsigned char* out;
  int64_t length;
  int64_t stride;
  int64_t count;
  mutable int64_t row = 0;
  mutable int64_t row_start = 0;
  template <class X>
  void store(DtypeTag<D> tag, int64_t first, const X& x) const {
    constexpr int lanes = D == OutDtype::kFloat64 ? 4 : 8;
    constexpr int registers = static_cast<int>(sizeof(x.v) / sizeof(x.v[0]));
    for (int k = 0; k < registers; ++k) {
      if (first + k * lanes >= row_start + length) {
        ++row;
        row_start += length;
      }
      if (row == count) {
        return;
      }
      cpu::store(tag, out + row * stride + (first + k * lanes - row_start) * kOutBytes<D>, x.v[k]);
    }
  }
};

// One contiguous run: the steps' counters follow one another from g0's.
template <class Transform, OutDtype D>
void fill_run(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out, int64_t n,
              uint64_t g0) {
  constexpr bool f64 = D == OutDtype::kFloat64;
  using Compute = std::conditional_t<f64, double, float>;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  // Start at the first element of g0's counter, `lead` elements before out[0].
  const int64_t lead = static_cast<int64_t>(g0 % per_counter);
  const uint64_t counter = core::counter_of<Compute>(g0);
  // A copy of the keys that nothing else can reach: without it GCC 12 compiles this loop with
  // 12% more instructions (uniform_, AVX2) once the short-row paths share the keys.
  const RoundKeys keys = key;
  transform_elements(transform, tag, n, -lead, [&](int64_t step, __m256i* bits) {
    step_bits<f64>(keys, counter + 8 * kPhiloxSets * static_cast<uint64_t>(step), bits);
  }, RunSink{out, n});
}

// Rows whose elements come in whole registers: every row starts on a counter boundary and holds
// a whole number of 8-counter registers. Each register of Philox lanes then takes 8 consecutive
// counters of one row, and transformed registers go straight to their row: no copies at all.
template <OutDtype D>
constexpr int64_t kRowQuantum = 8 * core::StreamLayout<std::conditional_t<D == OutDtype::kFloat64, double, float>>::kElementsPerCounter;

template <class Transform, OutDtype D>
void fill_aligned_rows(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out,
                       uint64_t g0, const Runs& runs) {
  constexpr bool f64 = D == OutDtype::kFloat64;
  using Compute = std::conditional_t<f64, double, float>;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  constexpr uint64_t mask = core::kCounterMask<Compute>;
  constexpr int64_t quantum = kRowQuantum<D>;  // elements of one 8-counter register
  const int64_t per_row = runs.length / quantum;
  int64_t row = 0, part = 0;  // of the next register, advanced as the steps go by
  transform_elements(transform, tag, runs.count * runs.length, 0, [&](int64_t, __m256i* bits) {
    PhiloxLanes w[4];
    uint32_t high = 0;
    bool shared_high = true;  // every counter's high word is `high`
    for (int p = 0; p < kPhiloxSets; ++p) {
      const uint64_t counter =
          (core::counter_of<Compute>(g0 + static_cast<uint64_t>(row) * runs.g_stride) + 8 * part) & mask;
      U32v<1> lo, hi;
      shared_high &= counter_lanes(counter, mask, lo, hi) && (p == 0 || static_cast<uint32_t>(counter >> 32) == high);
      high = static_cast<uint32_t>(counter >> 32);
      set_counter_set(w[0], p, lo.v[0]);
      set_counter_set(w[1], p, hi.v[0]);
      if (++part == per_row) {
        part = 0;
        ++row;
      }
    }
    if (shared_high) {
      core::philox4x32_10_shared_high(w[0], high, key, w);
    } else {
      w[2] = PhiloxLanes(0u);
      w[3] = PhiloxLanes(0u);
      core::philox4x32_10(w, key);
    }
    for (int p = 0; p < kPhiloxSets; ++p) {
      (f64 ? elements_64 : elements_32)(counter_set(w[0], p), counter_set(w[1], p), counter_set(w[2], p),
                                        counter_set(w[3], p), bits + 4 * p);
    }
  }, RowSink<D>{out, runs.length, runs.out_stride, runs.count});
  static_assert(per_counter * 8 == quantum, "");
}

// memcpy for the short copies of fill_short_runs (dst and src never overlap): whole registers,
// then one more that ends at the end and overlaps what is already copied; likewise below 32.
inline void copy_small(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (n >= 32) {
    for (std::size_t i = 0; i + 32 < n; i += 32) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + n - 32),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + n - 32)));
  } else if (n >= 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + n - 16), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16)));
  } else if (n >= 8) {
    std::memcpy(d, s, 8);
    std::memcpy(d + n - 8, s + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(d, s, 4);
    std::memcpy(d + n - 4, s + n - 4, 4);
  } else {
    for (std::size_t i = 0; i < n; ++i) d[i] = s[i];
  }
}

// Writes the low words of counters first, first + 1, ..., `span` of them, at lo, a register
// at a time: up to 7 entries past the span, for which the caller leaves room and which it later
// overwrites or ignores.
inline void append_low_words(uint32_t first, int span, uint32_t* lo) {
  __m256i low = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int c = 0; c < span; c += 8) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + c), low);
    low = _mm256_add_epi32(low, _mm256_set1_epi32(8));
  }
}

// Philox on one step of gathered counters: lo holds their low words, hi their high words unless
// every high word is `high`. w[k] receives word k of each counter, in the lanes' order.
inline __attribute__((always_inline)) void gathered_philox(const RoundKeys& key, const uint32_t* lo, const uint32_t* hi,
                                                           bool shared_high, uint32_t high, PhiloxLanes (&w)[4]) {
  if (shared_high) {
    core::philox4x32_10_shared_high(load_counter_lanes(lo), high, key, w);
  } else {
    w[0] = load_counter_lanes(lo);
    w[1] = load_counter_lanes(hi);
    w[2] = PhiloxLanes(0u);
    w[3] = PhiloxLanes(0u);
    core::philox4x32_10(w, key);
  }
}

// The bits of one step of gathered counters (step_bits for counters held in memory).
inline __attribute__((always_inline)) void gathered_step_bits(bool f64, const RoundKeys& key, const uint32_t* lo,
                                                              const uint32_t* hi, bool shared_high, uint32_t high,
                                                              __m256i* bits) {
  PhiloxLanes w[4];
  gathered_philox(key, lo, hi, shared_high, high, w);
  for (int p = 0; p < kPhiloxSets; ++p) {
    (f64 ? elements_64 : elements_32)(counter_set(w[0], p), counter_set(w[1], p), counter_set(w[2], p),
                                      counter_set(w[3], p), bits + 4 * p);
  }
}

// Asks for the cache lines of out[0, n) bytes, so that they are at hand when a block is copied
// out: copies in a burst wait on memory where the contiguous path's stores, spread among the
// arithmetic, do not.
inline void prefetch_lines(const unsigned char* out, int64_t n) {
  for (int64_t offset = 0; offset < n; offset += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(out + offset), _MM_HINT_T0);
  }
}

// A block of fill_short_runs: row segments, and the counters they need in order.
struct ShortRunSegment {
  unsigned char* dst;  // where the segment's elements go
  uint64_t counter;    // its first counter, before the modulo
  int at;              // index in counter order of its first element
  int length;
};

template <OutDtype D>
struct ShortRunBlock {
  static constexpr int kCapacity = 8 * kPhiloxSets * kBlockSteps;  // counters: kBlockSteps steps
  static constexpr int kElements =
      kCapacity * core::StreamLayout<std::conditional_t<D == OutDtype::kFloat64, double, float>>::kElementsPerCounter;
  ShortRunSegment segments[kElements];
  alignas(64) uint32_t counter_lo[kCapacity + 8];  // + 8: append_low_words writes whole registers
  alignas(64) uint32_t counter_hi[kCapacity + 8];
  int n_segments;
  int n_counters;
};

// Many short runs (the rows of a narrow window): the counters they need are gathered into the
// Philox lanes, so that a short row costs no whole Philox step and no per-call setup. A block of
// rows then runs as one: Philox on the gathered counters and the transform, in counter order
// (the few elements of a row's first and last counters that lie outside it are transformed
// too: cheaper than moving the bits into output order first, even for normal_), then each row's
// elements are copied to their place.
template <class Transform, OutDtype D>
void fill_short_runs(const Transform& transform, DtypeTag<D> tag, const RoundKeys& key, unsigned char* out,
                     uint64_t g0, const Runs& runs) {
  constexpr bool f64 = D == OutDtype::kFloat64;
  using Compute = std::conditional_t<f64, double, float>;
  using Block = ShortRunBlock<D>;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  constexpr uint64_t mask = core::kCounterMask<Compute>;
  constexpr int step_counters = 8 * kPhiloxSets;
  constexpr std::size_t bytes = kOutBytes<D>;

  Block b;
  alignas(32) unsigned char staged_out[Block::kElements * bytes];

  // The next element: `remaining` of the window's are left, its row starts at g_row and row_out.
  int64_t remaining = runs.count * runs.length;
  int64_t column = 0;
  uint64_t g_row = g0;
  unsigned char* row_out = out;
  while (remaining > 0) {
    // Row segments until the counters fill the block; the segment that crosses its end is cut
    // there, its row going on in the next block.
    b.n_segments = b.n_counters = 0;
    const uint64_t high = core::counter_of<Compute>(g_row + static_cast<uint64_t>(column)) >> 32;
    uint64_t high_diff = 0;  // nonzero if any counter's high word differs from `high`
    while (remaining > 0 && b.n_counters < Block::kCapacity) {
      const uint64_t g = g_row + static_cast<uint64_t>(column);
      const int lead = static_cast<int>(g % per_counter);
      const int length = static_cast<int>(std::min<int64_t>(
          runs.length - column, static_cast<int64_t>(Block::kCapacity - b.n_counters) * per_counter - lead));
      const int span = (lead + length + per_counter - 1) / per_counter;
      const uint64_t counter = core::counter_of<Compute>(g);
      high_diff |= ((counter >> 32) ^ high) | (((counter + static_cast<uint64_t>(span - 1)) >> 32) ^ high);
      unsigned char* dst = row_out + column * static_cast<int64_t>(bytes);
      b.segments[b.n_segments++] = {dst, counter, b.n_counters * per_counter + lead, length};
      append_low_words(static_cast<uint32_t>(counter), span, b.counter_lo + b.n_counters);
      b.n_counters += span;
      prefetch_lines(dst, length * static_cast<int64_t>(bytes));
      remaining -= length;
      column += length;
      if (column == runs.length) {
        column = 0;
        g_row += runs.g_stride;
        row_out += runs.out_stride;
      }
    }
    const bool shared_high = high_diff == 0 && high <= (mask >> 32);
    if (!shared_high) {  // a carry into the high words, or past the mask: every counter in full
      for (int k = 0; k < b.n_segments; ++k) {
        const ShortRunSegment& segment = b.segments[k];
        const int first = segment.at / per_counter;
        const int span = (segment.at % per_counter + segment.length + per_counter - 1) / per_counter;
        for (int c = 0; c < span; ++c) {
          const uint64_t counter = (segment.counter + static_cast<uint64_t>(c)) & mask;
          b.counter_lo[first + c] = static_cast<uint32_t>(counter);
          b.counter_hi[first + c] = static_cast<uint32_t>(counter >> 32);
        }
      }
    }
    // The last step's unused lanes take counter `high` * 2^32 (their bits are never read).
    for (int c = b.n_counters; c % step_counters != 0; ++c) {
      b.counter_lo[c] = 0;
      b.counter_hi[c] = static_cast<uint32_t>(high);
    }

    const int64_t n = static_cast<int64_t>(b.n_counters) * per_counter;
    transform_elements(transform, tag, n, 0, [&](int64_t step, __m256i* bits) {
      const int c0 = static_cast<int>(step) * step_counters;
      gathered_step_bits(f64, key, b.counter_lo + c0, b.counter_hi + c0, shared_high, static_cast<uint32_t>(high), bits);
    }, RunSink{staged_out, n});
    for (int k = 0; k < b.n_segments; ++k) {
      const ShortRunSegment& segment = b.segments[k];
      copy_small(segment.dst, staged_out + segment.at * bytes, segment.length * bytes);
    }
  }
}

// Transposes 8 registers of 8 floats: r[i] lane j becomes r[j] lane i.
inline void transpose_8x8(__m256* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// Transposes 4 registers of 4 doubles.
inline void transpose_4x4(__m256d* r) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]);
  const __m256d t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]);
  const __m256d t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// Stores a register at dst: all its elements, or its first `width`.
template <OutDtype D>
inline void store_first(DtypeTag<D> tag, unsigned char* dst, __m256 x, int width) {
  if (width == 8) {
    store(tag, dst, x);
  } else {
    alignas(32) unsigned char staged[8 * kOutBytes<D>];
    store(tag, staged, x);
    std::memcpy(dst, staged, width * kOutBytes<D>);
  }
}
inline void store_first(DtypeTag<OutDtype::kFloat64> tag, unsigned char* dst, __m256d x, int width) {
  if (width == 4) {
    store(tag, dst, x);
  } else {
    alignas(32) double staged[4];
    _mm256_store_pd(staged, x);
    std::memcpy(dst, staged, width * sizeof(double));
  }
}

// Stores 8 columns of 8 rows, x.v[i] column i, as rows 0 .. rows - 1 at out, `stride` bytes
// apart: the first `width` elements of each.
template <OutDtype D>
void store_column_block(DtypeTag<D> tag, F32v<8> x, int rows, unsigned char* out, int64_t stride, int width) {
  transpose_8x8(x.v);
  for (int row = 0; row < rows; ++row) store_first(tag, out + row * stride, x.v[row], width);
}
// Float64: 4 columns, each in two registers (x.v[2 i], x.v[2 i + 1]), of rows 0, 1, 4, 5 and of
// rows 2, 3, 6, 7.
inline void store_column_block(DtypeTag<OutDtype::kFloat64> tag, const F64v<8>& x, int rows, unsigned char* out,
                               int64_t stride, int width) {
  for (int h = 0; h < 2; ++h) {
    __m256d r[4];
    for (int i = 0; i < 4; ++i) r[i] = x.v[2 * i + h];
    transpose_4x4(r);
    for (int i = 0; i < 4; ++i) {
      const int row = 4 * (i / 2) + 2 * h + i % 2;
      if (row < rows) store_first(tag, out + row * stride, r[i], width);
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
  constexpr bool f64 = D == OutDtype::kFloat64;
  using Compute = std::conditional_t<f64, double, float>;
  constexpr OutDtype kStagedDtype = f64 ? OutDtype::kFloat64 : OutDtype::kFloat32;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  constexpr uint64_t mask = core::kCounterMask<Compute>;
  constexpr int kRows = kLanes;  // rows of a group
  constexpr int step_counters = 8 * kPhiloxSets;
  constexpr int step_elements = per_counter * step_counters;  // of a transform step
  constexpr int block_capacity = 2 * step_counters * kBlockSteps;  // counters a block aims at
  constexpr int block_counters = std::max(block_capacity, kRows * kColumnSpan);
  constexpr int max_elements = block_counters * per_counter;
  constexpr std::size_t bytes = kOutBytes<D>;
  const int lead = static_cast<int>(g0 % per_counter);
  const int width = static_cast<int>(runs.length);
  const int span = (lead + width + per_counter - 1) / per_counter;
  const uint64_t row_counters = runs.g_stride / per_counter;
  const int groups_per_block = std::max(1, block_capacity / (kRows * span));
  const int64_t row_bytes = width * static_cast<int64_t>(bytes);
  const bool staged = core::runs_staged(transform);

  alignas(64) uint32_t counter_lo[block_counters + step_counters];
  alignas(64) uint32_t counter_hi[block_counters + step_counters];
  // Column c of group g starts at element (g width + c) kRows: of `bits` (its words, two per
  // float64) and of `columns` (the staged transform's results). For float64 the first half of a
  // column holds rows 0, 1, 4, 5 (+ 8), the second 2, 3, 6, 7 (+ 8). + one step: the staged
  // transform reads and writes whole steps.
  alignas(64) uint32_t bits[4 * (block_counters + step_counters)];
  alignas(64) Compute columns[kStageable<Transform> ? max_elements + step_elements : 1];
  alignas(64) unsigned char rows_buffer[max_elements * bytes];
  for (int64_t row0 = 0; row0 < runs.count; row0 += groups_per_block * kRows) {
    const int rows = static_cast<int>(std::min<int64_t>(groups_per_block * kRows, runs.count - row0));
    const int groups = (rows + kRows - 1) / kRows;
    const int sets = groups * span;  // registers of lanes
    // Lane j of group g takes row g kRows + j: counters first + (g kRows + j) row_counters + m.
    const uint64_t first = core::counter_of<Compute>(g0) + static_cast<uint64_t>(row0) * row_counters;
    const uint64_t last =
        first + static_cast<uint64_t>(groups * kRows - 1) * row_counters + static_cast<uint64_t>(span - 1);
    const bool shared_high = (first >> 32) == (last >> 32) && last <= mask;  // and so every counter between
    if (shared_high) {
      const auto low = [](uint64_t x) { return static_cast<int>(static_cast<uint32_t>(x)); };
      __m256i row_low[kRows / 8];  // of lanes 8 h .. 8 h + 7
      for (int h = 0; h < kRows / 8; ++h) {
        row_low[h] = _mm256_add_epi32(_mm256_set1_epi32(low(first + 8 * h * row_counters)),
                                      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                         _mm256_set1_epi32(low(row_counters))));
      }
      const __m256i next_group = _mm256_set1_epi32(low(kRows * row_counters));
      for (int g = 0; g < groups; ++g) {
        for (int m = 0; m < span; ++m) {
          for (int h = 0; h < kRows / 8; ++h) {
            _mm256_store_si256(reinterpret_cast<__m256i*>(counter_lo + (g * span + m) * kRows + 8 * h),
                               _mm256_add_epi32(row_low[h], _mm256_set1_epi32(m)));
          }
        }
        for (int h = 0; h < kRows / 8; ++h) row_low[h] = _mm256_add_epi32(row_low[h], next_group);
      }
    } else {  // a carry into the high words, or past the mask: every counter in full
      for (int g = 0; g < groups; ++g) {
        for (int m = 0; m < span; ++m) {
          for (int j = 0; j < kRows; ++j) {
            const uint64_t counter =
                (first + static_cast<uint64_t>(g * kRows + j) * row_counters + static_cast<uint64_t>(m)) & mask;
            counter_lo[(g * span + m) * kRows + j] = static_cast<uint32_t>(counter);
            counter_hi[(g * span + m) * kRows + j] = static_cast<uint32_t>(counter >> 32);
          }
        }
      }
    }
    for (int c = sets * kRows; c % step_counters != 0; ++c) {  // never read: any counter
      counter_lo[c] = counter_hi[c] = 0;
    }
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
    const uint32_t high = static_cast<uint32_t>(first >> 32);
    int g = 0, m = 0;  // of the next register of lanes
    for (int s0 = 0; s0 < sets; s0 += kLaneRegisters) {
      PhiloxLanes w[4];
      gathered_philox(key, counter_lo + s0 * kRows, counter_hi + s0 * kRows, shared_high, high, w);
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
        if constexpr (f64) {
          return transform(core::uniform_f64_from_bits(b));
        } else {
          return transform(core::uniform_f32_from_bits(b));
        }
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
  constexpr bool f64 = D == OutDtype::kFloat64;
  using Compute = std::conditional_t<f64, double, float>;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  constexpr uint64_t mask = core::kCounterMask<Compute>;
  constexpr int step_counters = 8 * kPhiloxSets;
  constexpr int capacity = 2 * step_counters * kBlockSteps;  // whole rows leave less unused
  constexpr std::size_t bytes = kOutBytes<D>;
  const int lead = static_cast<int>(g0 % per_counter);
  const int span = static_cast<int>((lead + runs.length + per_counter - 1) / per_counter);
  const uint64_t row_counters = runs.g_stride / per_counter;
  const int64_t rows_per_block = capacity / span;

  alignas(64) uint32_t counter_lo[capacity + 16];  // + 16: whole registers of counters per row
  alignas(64) uint32_t counter_hi[capacity + 16];
  alignas(32) unsigned char staged_out[capacity * per_counter * bytes];
  for (int64_t row0 = 0; row0 < runs.count; row0 += rows_per_block) {
    const int rows = static_cast<int>(std::min<int64_t>(rows_per_block, runs.count - row0));
    unsigned char* block_out = out + row0 * runs.out_stride;
    // Row r's counters are first + r row_counters + [0, span), modulo mask + 1.
    const uint64_t first = core::counter_of<Compute>(g0) + static_cast<uint64_t>(row0) * row_counters;
    const uint64_t last = first + static_cast<uint64_t>(rows - 1) * row_counters + static_cast<uint64_t>(span - 1);
    const bool shared_high = (first >> 32) == (last >> 32) && last <= mask;  // and so every counter between
    if (shared_high) {
      __m256i low = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(first))),
                                     _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      const __m256i next_row = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(row_counters)));
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < span; c += 8) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(counter_lo + r * span + c),
                              _mm256_add_epi32(low, _mm256_set1_epi32(c)));
        }
        low = _mm256_add_epi32(low, next_row);
      }
    } else {  // a carry into the high words, or past the mask: every counter in full
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < span; ++c) {
          const uint64_t counter = (first + static_cast<uint64_t>(r) * row_counters + static_cast<uint64_t>(c)) & mask;
          counter_lo[r * span + c] = static_cast<uint32_t>(counter);
          counter_hi[r * span + c] = static_cast<uint32_t>(counter >> 32);
        }
      }
    }
    const int n_counters = rows * span;
    for (int c = n_counters; c % step_counters != 0; ++c) {  // never read: any counter
      counter_lo[c] = counter_hi[c] = 0;
    }
    const int64_t n = static_cast<int64_t>(n_counters) * per_counter;
    const uint32_t high = static_cast<uint32_t>(first >> 32);
    transform_elements(transform, tag, n, 0, [&](int64_t step, __m256i* bits) {
      const int c0 = static_cast<int>(step) * step_counters;
      gathered_step_bits(f64, key, counter_lo + c0, counter_hi + c0, shared_high, high, bits);
    }, RunSink{staged_out, n});
    for (int r = 0; r < rows; ++r) {
      copy_small(block_out + r * runs.out_stride, staged_out + (r * span * per_counter + lead) * bytes,
                 runs.length * bytes);
    }
  }
}

}  // namespace

void DEEPINIT_SIMD_ENTRY(const FillJob& job, void* out, uint64_t g0, const Runs& runs) {
  visit_job(job, [&](const auto& transform, auto tag) {
    const RoundKeys keys(PhiloxKey{job.key0, job.key1});
    auto* bytes = static_cast<unsigned char*>(out);
    constexpr OutDtype D = decltype(tag)::value;
    constexpr int per_counter = D == OutDtype::kFloat64 ? 2 : 4;
    if (runs.count > 1 && runs.length < kShortRun) {
      if (runs.g_stride % per_counter != 0) {
        fill_short_runs(transform, tag, keys, bytes, g0, runs);
      } else if (runs.length % kRowQuantum<D> == 0 && g0 % per_counter == 0) {
        fill_aligned_rows(transform, tag, keys, bytes, g0, runs);
      } else if ((g0 % per_counter + runs.length + per_counter - 1) / per_counter <= kColumnSpan) {
        fill_column_rows(transform, tag, keys, bytes, g0, runs);
      } else {
        fill_regular_rows(transform, tag, keys, bytes, g0, runs);
      }
      return;
    }
    for (int64_t r = 0; r < runs.count; ++r) {
      fill_run(transform, tag, keys, bytes + r * runs.out_stride, runs.length, g0 + static_cast<uint64_t>(r) * runs.g_stride);
    }
  });
}

}  // namespace cpu
}  // namespace deepinit

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif  // x86-64
