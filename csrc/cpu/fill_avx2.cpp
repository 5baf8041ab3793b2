// AVX2 + F16C kernels: eight Philox counters per step, transposed into element order, then
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
#pragma clang attribute push(__attribute__((target("avx2,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,f16c")
#endif

#define DEEPINIT_CORE_ABI avx2
#include "cpu/avx2_lanes.h"
#include "cpu/contiguous_fill.h"

namespace deepinit {
namespace cpu {
namespace {

using namespace avx2;
using core::PhiloxKey;

// Counters c, c+1, ..., c+7 modulo 2^62 (float family) or 2^63 (float64).
void counter_lanes(uint64_t c, uint64_t mask, U32x8& lo, U32x8& hi) {
  if (static_cast<uint32_t>(c) <= 0xFFFFFFF8u && c + 7 <= mask) {
    lo = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(c))),
                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    hi = U32x8(static_cast<uint32_t>(c >> 32));
    return;
  }
  alignas(32) uint32_t l[8], h[8];
  for (int j = 0; j < 8; ++j) {
    const uint64_t cj = (c + j) & mask;
    l[j] = static_cast<uint32_t>(cj);
    h[j] = static_cast<uint32_t>(cj >> 32);
  }
  lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(l));
  hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(h));
}

void philox8(PhiloxKey key, uint64_t c, uint64_t mask, U32x8 (&w)[4]) {
  counter_lanes(c, mask, w[0], w[1]);
  w[2] = U32x8(0u);
  w[3] = U32x8(0u);
  core::philox4x32_10(w, key);
}

// Float family: element 4j + k is word k of counter j; out[v] holds elements 8v .. 8v+7.
void elements_32(const U32x8 (&w)[4], U32x8 (&out)[4]) {
  const __m256i t0 = _mm256_unpacklo_epi32(w[0].v, w[1].v);
  const __m256i t1 = _mm256_unpackhi_epi32(w[0].v, w[1].v);
  const __m256i t2 = _mm256_unpacklo_epi32(w[2].v, w[3].v);
  const __m256i t3 = _mm256_unpackhi_epi32(w[2].v, w[3].v);
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
void elements_64(const U32x8 (&w)[4], U64x4 (&out)[4]) {
  const __m256i a = _mm256_unpacklo_epi32(w[0].v, w[1].v);  // elements 0, 2 | 8, 10
  const __m256i b = _mm256_unpackhi_epi32(w[0].v, w[1].v);  // 4, 6 | 12, 14
  const __m256i c = _mm256_unpacklo_epi32(w[2].v, w[3].v);  // 1, 3 | 9, 11
  const __m256i d = _mm256_unpackhi_epi32(w[2].v, w[3].v);  // 5, 7 | 13, 15
  const __m256i x0 = _mm256_unpacklo_epi64(a, c);           // 0, 1 | 8, 9
  const __m256i x1 = _mm256_unpackhi_epi64(a, c);           // 2, 3 | 10, 11
  const __m256i x2 = _mm256_unpacklo_epi64(b, d);           // 4, 5 | 12, 13
  const __m256i x3 = _mm256_unpackhi_epi64(b, d);           // 6, 7 | 14, 15
  out[0] = _mm256_permute2x128_si256(x0, x1, 0x20);
  out[1] = _mm256_permute2x128_si256(x2, x3, 0x20);
  out[2] = _mm256_permute2x128_si256(x0, x1, 0x31);
  out[3] = _mm256_permute2x128_si256(x2, x3, 0x31);
}

// Round-to-nearest-even stores of 8 float lanes (4 double lanes for kFloat64).
void store(DtypeTag<OutDtype::kFloat32>, void* dst, F32x8 x) { _mm256_storeu_ps(static_cast<float*>(dst), x.v); }
void store(DtypeTag<OutDtype::kFloat64>, void* dst, F64x4 x) { _mm256_storeu_pd(static_cast<double*>(dst), x.v); }
void store(DtypeTag<OutDtype::kFloat16>, void* dst, F32x8 x) {
  _mm_storeu_si128(static_cast<__m128i*>(dst), _mm256_cvtps_ph(x.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
void store(DtypeTag<OutDtype::kBFloat16>, void* dst, F32x8 x) {
  // The same rounding as c10::BFloat16: add 0x7fff plus the lowest kept bit, keep the top half.
  const __m256i bits = _mm256_castps_si256(x.v);
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
  constexpr int lanes = f64 ? 4 : 8;
  constexpr int block = 8 * per_counter;  // elements from 8 counters
  constexpr std::size_t bytes = kOutBytes<D>;

  // Start at the first element of g0's counter; `i` is the output index of that element.
  const int64_t lead = static_cast<int64_t>(g0 % per_counter);
  uint64_t counter = core::counter_of<Compute>(g0);
  for (int64_t i = -lead; i < n; i += block, counter += 8) {
    U32x8 w[4];
    philox8(key, counter & core::kCounterMask<Compute>, core::kCounterMask<Compute>, w);
    std::conditional_t<f64, U64x4, U32x8> bits[4];
    if constexpr (f64) {
      elements_64(w, bits);
    } else {
      elements_32(w, bits);
    }
    for (int v = 0; v < 4; ++v) {
      const int64_t first = i + v * lanes;
      if (first >= n) {
        break;
      }
      const auto x = [&] {
        if constexpr (f64) {
          return transform(core::uniform_f64_from_bits(bits[v]));
        } else {
          return transform(core::uniform_f32_from_bits(bits[v]));
        }
      }();
      if (first >= 0 && first + lanes <= n) {
        store(tag, out + first * bytes, x);
      } else {  // a partial vector at either end of the range
        alignas(32) unsigned char tmp[lanes * bytes];
        store(tag, tmp, x);
        const int64_t begin = first < 0 ? -first : 0;
        const int64_t end = n - first < lanes ? n - first : lanes;
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
