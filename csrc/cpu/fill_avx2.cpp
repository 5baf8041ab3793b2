// AVX2 + FMA + F16C kernels: eight Philox counters per step, transposed into element order, then
// the core's transforms on 8 float or 4 double lanes. Chosen at run time (fill_cpu.cpp) only
// on CPUs that have these instructions; the results equal fill_contiguous_scalar's bit for bit.
#if defined(__x86_64__) || defined(_M_X64)

// Standard headers first, so that only our own code below is compiled for AVX2.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

#define DEEPINIT_CORE_ABI avx2
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
#define DEEPINIT_AVX2_GROUP 2
#endif
// Counters per step are 8 x kPhiloxSets; transforms run on kGroup registers at a time. Both
// only interleave independent dependency chains (measured best on Zen 4; see benchmarks/).
constexpr int kPhiloxSets = DEEPINIT_AVX2_PHILOX_SETS;
constexpr int kGroup = DEEPINIT_AVX2_GROUP;

// Counters c, c+1, ..., c+8P-1 modulo 2^62 (float family) or 2^63 (float64), 8 per register.
template <int P>
void counter_lanes(uint64_t c, uint64_t mask, U32v<P>& lo, U32v<P>& hi) {
  if (static_cast<uint32_t>(c) <= 0xFFFFFFFFu - (8 * P - 1) && c + (8 * P - 1) <= mask) {
    const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(c))),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int p = 0; p < P; ++p) {
      lo.v[p] = _mm256_add_epi32(base, _mm256_set1_epi32(8 * p));
      hi.v[p] = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(c >> 32)));
    }
    return;
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

template <OutDtype D>
constexpr std::size_t kOutBytes = D == OutDtype::kFloat64 ? 8 : D == OutDtype::kFloat32 ? 4 : 2;

template <class Transform, OutDtype D>
void fill_range(const Transform& transform, DtypeTag<D> tag, PhiloxKey key, unsigned char* out, int64_t n,
                uint64_t g0) {
  constexpr bool f64 = D == OutDtype::kFloat64;
  using Compute = std::conditional_t<f64, double, float>;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  constexpr int lanes = f64 ? 4 : 8;                  // elements per register
  constexpr int registers = 4 * kPhiloxSets;          // element registers per step
  constexpr int step = registers * lanes;             // elements per step
  constexpr std::size_t bytes = kOutBytes<D>;
  constexpr uint64_t mask = core::kCounterMask<Compute>;

  // Start at the first element of g0's counter; `i` is the output index of that element.
  const int64_t lead = static_cast<int64_t>(g0 % per_counter);
  uint64_t counter = core::counter_of<Compute>(g0);
  for (int64_t i = -lead; i < n; i += step, counter += 8 * kPhiloxSets) {
    U32v<kPhiloxSets> w[4];
    counter_lanes(counter & mask, mask, w[0], w[1]);
    w[2] = U32v<kPhiloxSets>(0u);
    w[3] = U32v<kPhiloxSets>(0u);
    core::philox4x32_10(w, key);
    __m256i bits[registers];
    for (int p = 0; p < kPhiloxSets; ++p) {
      (f64 ? elements_64 : elements_32)(w[0].v[p], w[1].v[p], w[2].v[p], w[3].v[p], bits + 4 * p);
    }
    for (int group = 0; group < registers; group += kGroup) {
      const int64_t first = i + group * lanes;
      if (first >= n) {
        break;
      }
      std::conditional_t<f64, U64v<kGroup>, U32v<kGroup>> r;
      for (int k = 0; k < kGroup; ++k) {
        r.v[k] = bits[group + k];
      }
      const auto x = [&] {
        if constexpr (f64) {
          return transform(core::uniform_f64_from_bits(r));
        } else {
          return transform(core::uniform_f32_from_bits(r));
        }
      }();
      if (first >= 0 && first + kGroup * lanes <= n) {
        for (int k = 0; k < kGroup; ++k) {
          store(tag, out + (first + k * lanes) * bytes, x.v[k]);
        }
      } else {  // a partial group at either end of the range
        alignas(32) unsigned char tmp[kGroup * lanes * bytes];
        for (int k = 0; k < kGroup; ++k) {
          store(tag, tmp + k * lanes * bytes, x.v[k]);
        }
        const int64_t begin = first < 0 ? -first : 0;
        const int64_t end = n - first < kGroup * lanes ? n - first : kGroup * lanes;
        std::memcpy(out + (first + begin) * bytes, tmp + begin * bytes, (end - begin) * bytes);
      }
    }
  }
}

}  // namespace

void fill_contiguous_avx2(const FillJob& job, void* out, int64_t n, uint64_t g0) {
  visit_job(job, [&](const auto& transform, auto tag) {
    fill_range(transform, tag, PhiloxKey{job.key0, job.key1}, static_cast<unsigned char*>(out), n, g0);
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
