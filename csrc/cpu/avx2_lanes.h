// AVX2 lane types for the core's templates: 8 float lanes, 4 double lanes, 8 x 32-bit and
// 4 x 64-bit integer lanes, with the primitives listed in csrc/core/scalar_lanes.h.
// Include only from a translation unit compiled for AVX2 + F16C (see fill_avx2.cpp); every
// operation is exact or correctly rounded, so results equal the scalar lanes' bit for bit.
#pragma once

#include <immintrin.h>

#include "core/scalar_lanes.h"

namespace deepinit {
namespace cpu {
namespace avx2 {

struct F32x8 {
  __m256 v;
  F32x8() = default;
  F32x8(__m256 x) : v(x) {}
  F32x8(float x) : v(_mm256_set1_ps(x)) {}
};
struct F64x4 {
  __m256d v;
  F64x4() = default;
  F64x4(__m256d x) : v(x) {}
  F64x4(double x) : v(_mm256_set1_pd(x)) {}
};
struct U32x8 {
  __m256i v;
  U32x8() = default;
  U32x8(__m256i x) : v(x) {}
  U32x8(uint32_t x) : v(_mm256_set1_epi32(static_cast<int>(x))) {}
};
struct U64x4 {
  __m256i v;
  U64x4() = default;
  U64x4(__m256i x) : v(x) {}
  U64x4(uint64_t x) : v(_mm256_set1_epi64x(static_cast<long long>(x))) {}
};
// Masks are all-ones / all-zeros lanes of the float type they select.
struct M32x8 {
  __m256 v;
};
struct M64x4 {
  __m256d v;
};

inline F32x8 operator+(F32x8 a, F32x8 b) { return _mm256_add_ps(a.v, b.v); }
inline F32x8 operator-(F32x8 a, F32x8 b) { return _mm256_sub_ps(a.v, b.v); }
inline F32x8 operator*(F32x8 a, F32x8 b) { return _mm256_mul_ps(a.v, b.v); }
inline F32x8 operator/(F32x8 a, F32x8 b) { return _mm256_div_ps(a.v, b.v); }
inline F32x8 operator-(F32x8 a) { return _mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f)); }
inline M32x8 operator<(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline M32x8 operator<=(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline M32x8 operator>(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline M32x8 operator>=(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
inline F32x8 select(M32x8 m, F32x8 a, F32x8 b) { return _mm256_blendv_ps(b.v, a.v, m.v); }
inline bool any(M32x8 m) { return _mm256_movemask_ps(m.v) != 0; }
inline F32x8 sqrt_rn(F32x8 a) { return _mm256_sqrt_ps(a.v); }
inline F32x8 lookup_row(const float* row, F32x8 index) {
  return _mm256_permutevar8x32_ps(_mm256_loadu_ps(row), _mm256_cvttps_epi32(index.v));
}
inline F32x8 log_reduce(F32x8 x, F32x8& k) {
  const __m256i biased = _mm256_add_epi32(_mm256_castps_si256(x.v), _mm256_set1_epi32(0x3f800000 - 0x3f3504f3));
  k = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(biased, 23), _mm256_set1_epi32(0x7f)));
  const __m256i m = _mm256_add_epi32(_mm256_and_si256(biased, _mm256_set1_epi32(0x007fffff)),
                                     _mm256_set1_epi32(0x3f3504f3));
  return _mm256_castsi256_ps(m);
}

inline F64x4 operator+(F64x4 a, F64x4 b) { return _mm256_add_pd(a.v, b.v); }
inline F64x4 operator-(F64x4 a, F64x4 b) { return _mm256_sub_pd(a.v, b.v); }
inline F64x4 operator*(F64x4 a, F64x4 b) { return _mm256_mul_pd(a.v, b.v); }
inline F64x4 operator/(F64x4 a, F64x4 b) { return _mm256_div_pd(a.v, b.v); }
inline F64x4 operator-(F64x4 a) { return _mm256_xor_pd(a.v, _mm256_set1_pd(-0.0)); }
inline M64x4 operator<(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
inline M64x4 operator<=(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LE_OQ)}; }
inline M64x4 operator>(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)}; }
inline M64x4 operator>=(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GE_OQ)}; }
inline F64x4 select(M64x4 m, F64x4 a, F64x4 b) { return _mm256_blendv_pd(b.v, a.v, m.v); }
inline bool any(M64x4 m) { return _mm256_movemask_pd(m.v) != 0; }
inline F64x4 sqrt_rn(F64x4 a) { return _mm256_sqrt_pd(a.v); }
inline F64x4 lookup_row(const double* row, F64x4 index) {
  // Double j of the row is float pair (2j, 2j+1).
  const __m128i j = _mm256_cvttpd_epi32(index.v);
  const __m256i j64 = _mm256_cvtepu32_epi64(j);
  const __m256i pair = _mm256_or_si256(_mm256_slli_epi64(j64, 1), _mm256_slli_epi64(_mm256_add_epi64(_mm256_slli_epi64(j64, 1), _mm256_set1_epi64x(1)), 32));
  return _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(_mm256_loadu_pd(row)), pair));
}
inline F64x4 log_reduce(F64x4 x, F64x4& k) {
  const __m256i biased =
      _mm256_add_epi64(_mm256_castpd_si256(x.v), _mm256_set1_epi64x(0x3ff0000000000000ll - 0x3fe6a09e667f3bcdll));
  // k = (biased >> 52) - 1023 as a double: place the 12-bit field under 2^52 and subtract.
  const __m256i field = _mm256_or_si256(_mm256_srli_epi64(biased, 52), _mm256_set1_epi64x(0x4330000000000000ll));
  k = _mm256_sub_pd(_mm256_castsi256_pd(field), _mm256_set1_pd(0x1p52 + 1023.0));
  const __m256i m = _mm256_add_epi64(_mm256_and_si256(biased, _mm256_set1_epi64x(0x000fffffffffffffll)),
                                     _mm256_set1_epi64x(0x3fe6a09e667f3bcdll));
  return _mm256_castsi256_pd(m);
}

inline U32x8 operator^(U32x8 a, U32x8 b) { return _mm256_xor_si256(a.v, b.v); }
inline U32x8 operator|(U32x8 a, U32x8 b) { return _mm256_or_si256(a.v, b.v); }
inline U32x8 operator>>(U32x8 a, int n) { return _mm256_srli_epi32(a.v, n); }
inline F32x8 float_from_bits(U32x8 a) { return _mm256_castsi256_ps(a.v); }
inline void mulhilo32(uint32_t m, U32x8 x, U32x8& hi, U32x8& lo) {
  const __m256i mv = _mm256_set1_epi32(static_cast<int>(m));
  const __m256i even = _mm256_mul_epu32(x.v, mv);                         // lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x.v, 32), mv);  // lanes 1, 3, 5, 7
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  lo = _mm256_mullo_epi32(x.v, mv);
}

inline U64x4 operator|(U64x4 a, U64x4 b) { return _mm256_or_si256(a.v, b.v); }
inline U64x4 operator>>(U64x4 a, int n) { return _mm256_srli_epi64(a.v, n); }
inline F64x4 double_from_bits(U64x4 a) { return _mm256_castsi256_pd(a.v); }

}  // namespace avx2
}  // namespace cpu

namespace core {
inline namespace DEEPINIT_CORE_ABI {
template <>
struct LaneScalar<cpu::avx2::F32x8> {
  using type = float;
};
template <>
struct LaneScalar<cpu::avx2::F64x4> {
  using type = double;
};
}  // namespace DEEPINIT_CORE_ABI
}  // namespace core
}  // namespace deepinit
