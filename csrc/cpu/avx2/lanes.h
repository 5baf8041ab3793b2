// AVX2 lane types for the core's templates: K registers of 8 float, 4 double, 8 x 32-bit or
// 4 x 64-bit integer lanes, with the primitives listed in csrc/core/scalar_lanes.h.
// Include only through cpu/avx2/kernels.h, which sets DEEPINIT_SIMD_TARGET (at least AVX2, FMA
// and F16C); every operation is exact or correctly rounded, so results equal the scalar lanes'.
#pragma once

#include <immintrin.h>

#include "core/scalar_lanes.h"

namespace deepinit {
namespace cpu {
namespace avx2 {
// Per instruction set, as the core's own namespace: the AVX2 and AVX-512VL units each compile
// these functions with their own encodings, under names of their own.
inline namespace DEEPINIT_CORE_ABI {

// A lane type holds K independent AVX2 registers: the core's long dependency chains (log,
// polynomial) then run K at a time, which is what keeps the FP units busy.
// GCC does not apply `#pragma GCC target` to friends defined in class templates: mark them.
#if defined(__GNUC__)
#define DEEPINIT_AVX2_FN __attribute__((target(DEEPINIT_SIMD_TARGET)))
#else
#define DEEPINIT_AVX2_FN
#endif

#define DEEPINIT_LANEWISE(Result, expr) \
  Result r;                             \
  for (int k = 0; k < K; ++k) {         \
    r.v[k] = expr;                      \
  }                                     \
  return r

// Masks: all-ones / all-zeros lanes of the float type they select.
template <int K>
struct M32v {
  __m256 v[K];
  DEEPINIT_AVX2_FN friend bool any(M32v m) {
    __m256 all = m.v[0];
    for (int k = 1; k < K; ++k) all = _mm256_or_ps(all, m.v[k]);
    return _mm256_movemask_ps(all) != 0;
  }
};
template <int K>
struct M64v {
  __m256d v[K];
  DEEPINIT_AVX2_FN friend bool any(M64v m) {
    __m256d all = m.v[0];
    for (int k = 1; k < K; ++k) all = _mm256_or_pd(all, m.v[k]);
    return _mm256_movemask_pd(all) != 0;
  }
};

// Operators are hidden friends so that scalars convert implicitly (x * 0.5f).
template <int K>
struct F32v {
  __m256 v[K];
  F32v() = default;
  DEEPINIT_AVX2_FN F32v(float x) {
    for (int k = 0; k < K; ++k) v[k] = _mm256_set1_ps(x);
  }
  DEEPINIT_AVX2_FN friend F32v operator+(F32v a, F32v b) { DEEPINIT_LANEWISE(F32v, _mm256_add_ps(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F32v operator-(F32v a, F32v b) { DEEPINIT_LANEWISE(F32v, _mm256_sub_ps(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F32v operator*(F32v a, F32v b) { DEEPINIT_LANEWISE(F32v, _mm256_mul_ps(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F32v operator/(F32v a, F32v b) { DEEPINIT_LANEWISE(F32v, _mm256_div_ps(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F32v operator-(F32v a) { DEEPINIT_LANEWISE(F32v, _mm256_xor_ps(a.v[k], _mm256_set1_ps(-0.0f))); }
  DEEPINIT_AVX2_FN friend M32v<K> operator<(F32v a, F32v b) { DEEPINIT_LANEWISE(M32v<K>, _mm256_cmp_ps(a.v[k], b.v[k], _CMP_LT_OQ)); }
  DEEPINIT_AVX2_FN friend M32v<K> operator<=(F32v a, F32v b) { DEEPINIT_LANEWISE(M32v<K>, _mm256_cmp_ps(a.v[k], b.v[k], _CMP_LE_OQ)); }
  DEEPINIT_AVX2_FN friend M32v<K> operator>(F32v a, F32v b) { DEEPINIT_LANEWISE(M32v<K>, _mm256_cmp_ps(a.v[k], b.v[k], _CMP_GT_OQ)); }
  DEEPINIT_AVX2_FN friend M32v<K> operator>=(F32v a, F32v b) { DEEPINIT_LANEWISE(M32v<K>, _mm256_cmp_ps(a.v[k], b.v[k], _CMP_GE_OQ)); }
  DEEPINIT_AVX2_FN friend F32v select(M32v<K> m, F32v a, F32v b) { DEEPINIT_LANEWISE(F32v, _mm256_blendv_ps(b.v[k], a.v[k], m.v[k])); }
  DEEPINIT_AVX2_FN friend F32v sqrt_rn(F32v a) { DEEPINIT_LANEWISE(F32v, _mm256_sqrt_ps(a.v[k])); }
  DEEPINIT_AVX2_FN friend F32v fma_rn(F32v a, F32v b, F32v c) { DEEPINIT_LANEWISE(F32v, _mm256_fmadd_ps(a.v[k], b.v[k], c.v[k])); }
  DEEPINIT_AVX2_FN friend F32v lookup_row(const float* row, F32v index) {
    const __m256 table = _mm256_loadu_ps(row);
    DEEPINIT_LANEWISE(F32v, _mm256_permutevar8x32_ps(table, _mm256_cvttps_epi32(index.v[k])));
  }
  DEEPINIT_AVX2_FN friend F32v log_reduce(F32v x, F32v& e, int scale = 0) {
    F32v m;
    for (int k = 0; k < K; ++k) {
      const __m256i biased = _mm256_add_epi32(_mm256_castps_si256(x.v[k]),
                                              _mm256_set1_epi32(0x3f800000 - 0x3f3504f3 - scale * (1 << 23)));
      e.v[k] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(biased, 23), _mm256_set1_epi32(0x7f)));
      m.v[k] = _mm256_castsi256_ps(
          _mm256_add_epi32(_mm256_and_si256(biased, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f3504f3)));
    }
    return m;
  }
};

template <int K>
struct F64v {
  __m256d v[K];
  F64v() = default;
  DEEPINIT_AVX2_FN F64v(double x) {
    for (int k = 0; k < K; ++k) v[k] = _mm256_set1_pd(x);
  }
  DEEPINIT_AVX2_FN friend F64v operator+(F64v a, F64v b) { DEEPINIT_LANEWISE(F64v, _mm256_add_pd(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F64v operator-(F64v a, F64v b) { DEEPINIT_LANEWISE(F64v, _mm256_sub_pd(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F64v operator*(F64v a, F64v b) { DEEPINIT_LANEWISE(F64v, _mm256_mul_pd(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F64v operator/(F64v a, F64v b) { DEEPINIT_LANEWISE(F64v, _mm256_div_pd(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F64v operator-(F64v a) { DEEPINIT_LANEWISE(F64v, _mm256_xor_pd(a.v[k], _mm256_set1_pd(-0.0))); }
  DEEPINIT_AVX2_FN friend M64v<K> operator<(F64v a, F64v b) { DEEPINIT_LANEWISE(M64v<K>, _mm256_cmp_pd(a.v[k], b.v[k], _CMP_LT_OQ)); }
  DEEPINIT_AVX2_FN friend M64v<K> operator<=(F64v a, F64v b) { DEEPINIT_LANEWISE(M64v<K>, _mm256_cmp_pd(a.v[k], b.v[k], _CMP_LE_OQ)); }
  DEEPINIT_AVX2_FN friend M64v<K> operator>(F64v a, F64v b) { DEEPINIT_LANEWISE(M64v<K>, _mm256_cmp_pd(a.v[k], b.v[k], _CMP_GT_OQ)); }
  DEEPINIT_AVX2_FN friend M64v<K> operator>=(F64v a, F64v b) { DEEPINIT_LANEWISE(M64v<K>, _mm256_cmp_pd(a.v[k], b.v[k], _CMP_GE_OQ)); }
  DEEPINIT_AVX2_FN friend F64v select(M64v<K> m, F64v a, F64v b) { DEEPINIT_LANEWISE(F64v, _mm256_blendv_pd(b.v[k], a.v[k], m.v[k])); }
  DEEPINIT_AVX2_FN friend F64v sqrt_rn(F64v a) { DEEPINIT_LANEWISE(F64v, _mm256_sqrt_pd(a.v[k])); }
  DEEPINIT_AVX2_FN friend F64v fma_rn(F64v a, F64v b, F64v c) { DEEPINIT_LANEWISE(F64v, _mm256_fmadd_pd(a.v[k], b.v[k], c.v[k])); }
  DEEPINIT_AVX2_FN friend F64v lookup_row(const double* row, F64v index) {
    // Double j of the row is float pair (2j, 2j+1).
    const __m256 table = _mm256_castpd_ps(_mm256_loadu_pd(row));
    F64v r;
    for (int k = 0; k < K; ++k) {
      const __m256i j = _mm256_cvtepu32_epi64(_mm256_cvttpd_epi32(index.v[k]));
      const __m256i twice = _mm256_slli_epi64(j, 1);
      const __m256i pair =
          _mm256_or_si256(twice, _mm256_slli_epi64(_mm256_add_epi64(twice, _mm256_set1_epi64x(1)), 32));
      r.v[k] = _mm256_castps_pd(_mm256_permutevar8x32_ps(table, pair));
    }
    return r;
  }
  DEEPINIT_AVX2_FN friend F64v log_reduce(F64v x, F64v& e) {
    F64v m;
    for (int k = 0; k < K; ++k) {
      const __m256i biased = _mm256_add_epi64(_mm256_castpd_si256(x.v[k]),
                                              _mm256_set1_epi64x(0x3ff0000000000000ll - 0x3fe6a09e667f3bcdll));
      // e = (biased >> 52) - 1023 as a double: place the 12-bit field under 2^52 and subtract.
      const __m256i field = _mm256_or_si256(_mm256_srli_epi64(biased, 52), _mm256_set1_epi64x(0x4330000000000000ll));
      e.v[k] = _mm256_sub_pd(_mm256_castsi256_pd(field), _mm256_set1_pd(0x1p52 + 1023.0));
      m.v[k] = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_and_si256(biased, _mm256_set1_epi64x(0x000fffffffffffffll)),
                                                    _mm256_set1_epi64x(0x3fe6a09e667f3bcdll)));
    }
    return m;
  }
};

template <int K>
struct U32v {
  __m256i v[K];
  U32v() = default;
  DEEPINIT_AVX2_FN U32v(uint32_t x) {
    for (int k = 0; k < K; ++k) v[k] = _mm256_set1_epi32(static_cast<int>(x));
  }
  DEEPINIT_AVX2_FN friend U32v operator+(U32v a, U32v b) { DEEPINIT_LANEWISE(U32v, _mm256_add_epi32(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend U32v operator&(U32v a, U32v b) { DEEPINIT_LANEWISE(U32v, _mm256_and_si256(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend U32v operator^(U32v a, U32v b) { DEEPINIT_LANEWISE(U32v, _mm256_xor_si256(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend U32v operator|(U32v a, U32v b) { DEEPINIT_LANEWISE(U32v, _mm256_or_si256(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend U32v operator>>(U32v a, int n) { DEEPINIT_LANEWISE(U32v, _mm256_srli_epi32(a.v[k], n)); }
  DEEPINIT_AVX2_FN friend U32v operator<<(U32v a, int n) { DEEPINIT_LANEWISE(U32v, _mm256_slli_epi32(a.v[k], n)); }
  DEEPINIT_AVX2_FN friend F32v<K> float_from_bits(U32v a) { DEEPINIT_LANEWISE(F32v<K>, _mm256_castsi256_ps(a.v[k])); }
  DEEPINIT_AVX2_FN friend U32v sign_mask(U32v a) { DEEPINIT_LANEWISE(U32v, _mm256_srai_epi32(a.v[k], 31)); }
  // Unsigned: the high and low halves convert exactly, and one fused multiply-add rounds their sum.
  DEEPINIT_AVX2_FN friend F32v<K> to_float(U32v a) {
    DEEPINIT_LANEWISE(F32v<K>, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(a.v[k], 16)), _mm256_set1_ps(65536.0f),
                                               _mm256_cvtepi32_ps(_mm256_and_si256(a.v[k], _mm256_set1_epi32(0xffff)))));
  }
  // blendv selects by each lane's top bit: the word itself is the mask.
  DEEPINIT_AVX2_FN friend M32v<K> top_bit_set(U32v a) { DEEPINIT_LANEWISE(M32v<K>, _mm256_castsi256_ps(a.v[k])); }
  DEEPINIT_AVX2_FN friend F32v<K> negate_where_top_bit(F32v<K> x, U32v a) {
    DEEPINIT_LANEWISE(F32v<K>, _mm256_xor_ps(x.v[k], _mm256_castsi256_ps(_mm256_and_si256(a.v[k], _mm256_set1_epi32(INT32_MIN)))));
  }
  DEEPINIT_AVX2_FN friend void mulhilo32(uint32_t m, U32v x, U32v& hi, U32v& lo) {
    const __m256i mv = _mm256_set1_epi32(static_cast<int>(m));
    for (int k = 0; k < K; ++k) {
      const __m256i even = _mm256_mul_epu32(x.v[k], mv);                         // lanes 0, 2, 4, 6
      const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x.v[k], 32), mv);  // lanes 1, 3, 5, 7
      hi.v[k] = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
      lo.v[k] = _mm256_mullo_epi32(x.v[k], mv);
    }
  }
};

template <int K>
struct U64v {
  __m256i v[K];
  U64v() = default;
  DEEPINIT_AVX2_FN U64v(uint64_t x) {
    for (int k = 0; k < K; ++k) v[k] = _mm256_set1_epi64x(static_cast<long long>(x));
  }
  DEEPINIT_AVX2_FN friend U64v operator|(U64v a, U64v b) { DEEPINIT_LANEWISE(U64v, _mm256_or_si256(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend U64v operator>>(U64v a, int n) { DEEPINIT_LANEWISE(U64v, _mm256_srli_epi64(a.v[k], n)); }
  DEEPINIT_AVX2_FN friend F64v<K> double_from_bits(U64v a) { DEEPINIT_LANEWISE(F64v<K>, _mm256_castsi256_pd(a.v[k])); }
};

// core::float_to_half_bits for a register of 8 floats: F16C's conversion, the same rounding.
DEEPINIT_AVX2_FN inline __m128i float_to_half_bits(__m256 x) {
  return _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

#if defined(DEEPINIT_ZMM)
// The same lanes in 512-bit registers, for capabilities that have AVX-512 (F, VL, BW, DQ): 16
// float or 32-bit lanes per register. Philox on them advances 16 counters per instruction, and
// the float transforms keep twice the elements in flight in their long dependency chains (a
// polynomial's Horner steps each wait for the last). The same exact or correctly rounded
// operations as the 256-bit lanes, so the same bits.
template <int K>
struct M32z {
  __mmask16 v[K];
  DEEPINIT_AVX2_FN friend bool any(M32z m) {
    __mmask16 all = m.v[0];
    for (int k = 1; k < K; ++k) all = static_cast<__mmask16>(all | m.v[k]);
    return all != 0;
  }
};

template <int K>
struct F32z {
  __m512 v[K];
  F32z() = default;
  DEEPINIT_AVX2_FN F32z(float x) {
    for (int k = 0; k < K; ++k) v[k] = _mm512_set1_ps(x);
  }
  DEEPINIT_AVX2_FN friend F32z operator+(F32z a, F32z b) { DEEPINIT_LANEWISE(F32z, _mm512_add_ps(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F32z operator-(F32z a, F32z b) { DEEPINIT_LANEWISE(F32z, _mm512_sub_ps(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F32z operator*(F32z a, F32z b) { DEEPINIT_LANEWISE(F32z, _mm512_mul_ps(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F32z operator/(F32z a, F32z b) { DEEPINIT_LANEWISE(F32z, _mm512_div_ps(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend F32z operator-(F32z a) {
    DEEPINIT_LANEWISE(F32z, _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.v[k]), _mm512_set1_epi32(INT32_MIN))));
  }
  DEEPINIT_AVX2_FN friend M32z<K> operator<(F32z a, F32z b) { DEEPINIT_LANEWISE(M32z<K>, _mm512_cmp_ps_mask(a.v[k], b.v[k], _CMP_LT_OQ)); }
  DEEPINIT_AVX2_FN friend M32z<K> operator<=(F32z a, F32z b) { DEEPINIT_LANEWISE(M32z<K>, _mm512_cmp_ps_mask(a.v[k], b.v[k], _CMP_LE_OQ)); }
  DEEPINIT_AVX2_FN friend M32z<K> operator>(F32z a, F32z b) { DEEPINIT_LANEWISE(M32z<K>, _mm512_cmp_ps_mask(a.v[k], b.v[k], _CMP_GT_OQ)); }
  DEEPINIT_AVX2_FN friend M32z<K> operator>=(F32z a, F32z b) { DEEPINIT_LANEWISE(M32z<K>, _mm512_cmp_ps_mask(a.v[k], b.v[k], _CMP_GE_OQ)); }
  DEEPINIT_AVX2_FN friend F32z select(M32z<K> m, F32z a, F32z b) { DEEPINIT_LANEWISE(F32z, _mm512_mask_blend_ps(m.v[k], b.v[k], a.v[k])); }
  DEEPINIT_AVX2_FN friend F32z sqrt_rn(F32z a) { DEEPINIT_LANEWISE(F32z, _mm512_sqrt_ps(a.v[k])); }
  DEEPINIT_AVX2_FN friend F32z fma_rn(F32z a, F32z b, F32z c) { DEEPINIT_LANEWISE(F32z, _mm512_fmadd_ps(a.v[k], b.v[k], c.v[k])); }
  DEEPINIT_AVX2_FN friend F32z lookup_row(const float* row, F32z index) {
    const __m512 table = _mm512_castps256_ps512(_mm256_loadu_ps(row));  // indices are below 8
    DEEPINIT_LANEWISE(F32z, _mm512_permutexvar_ps(_mm512_cvttps_epi32(index.v[k]), table));
  }
  DEEPINIT_AVX2_FN friend F32z log_reduce(F32z x, F32z& e, int scale = 0) {
    F32z m;
    for (int k = 0; k < K; ++k) {
      const __m512i biased = _mm512_add_epi32(_mm512_castps_si512(x.v[k]),
                                              _mm512_set1_epi32(0x3f800000 - 0x3f3504f3 - scale * (1 << 23)));
      // The biased bits as a float have exponent field e + 127: getexp reads e (the scalar
      // lanes' shift, subtraction and conversion).
      e.v[k] = _mm512_getexp_ps(_mm512_castsi512_ps(biased));
      m.v[k] = _mm512_castsi512_ps(
          _mm512_add_epi32(_mm512_and_si512(biased, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f3504f3)));
    }
    return m;
  }
};

template <int K>
struct U32z {
  __m512i v[K];
  U32z() = default;
  DEEPINIT_AVX2_FN U32z(uint32_t x) {
    for (int k = 0; k < K; ++k) v[k] = _mm512_set1_epi32(static_cast<int>(x));
  }
  DEEPINIT_AVX2_FN friend U32z operator+(U32z a, U32z b) { DEEPINIT_LANEWISE(U32z, _mm512_add_epi32(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend U32z operator&(U32z a, U32z b) { DEEPINIT_LANEWISE(U32z, _mm512_and_si512(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend U32z operator|(U32z a, U32z b) { DEEPINIT_LANEWISE(U32z, _mm512_or_si512(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend U32z operator>>(U32z a, int n) { DEEPINIT_LANEWISE(U32z, _mm512_srli_epi32(a.v[k], n)); }
  DEEPINIT_AVX2_FN friend U32z operator<<(U32z a, int n) { DEEPINIT_LANEWISE(U32z, _mm512_slli_epi32(a.v[k], n)); }
  DEEPINIT_AVX2_FN friend F32z<K> float_from_bits(U32z a) { DEEPINIT_LANEWISE(F32z<K>, _mm512_castsi512_ps(a.v[k])); }
  DEEPINIT_AVX2_FN friend U32z sign_mask(U32z a) { DEEPINIT_LANEWISE(U32z, _mm512_srai_epi32(a.v[k], 31)); }
  DEEPINIT_AVX2_FN friend F32z<K> to_float(U32z a) { DEEPINIT_LANEWISE(F32z<K>, _mm512_cvtepu32_ps(a.v[k])); }
  DEEPINIT_AVX2_FN friend M32z<K> top_bit_set(U32z a) { DEEPINIT_LANEWISE(M32z<K>, _mm512_movepi32_mask(a.v[k])); }
  DEEPINIT_AVX2_FN friend F32z<K> negate_where_top_bit(F32z<K> x, U32z a) {
    DEEPINIT_LANEWISE(F32z<K>, _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(x.v[k]), a.v[k],
                                                                             _mm512_set1_epi32(INT32_MIN), 0x78)));
  }
  DEEPINIT_AVX2_FN friend U32z operator^(U32z a, U32z b) { DEEPINIT_LANEWISE(U32z, _mm512_xor_si512(a.v[k], b.v[k])); }
  DEEPINIT_AVX2_FN friend void mulhilo32(uint32_t m, U32z x, U32z& hi, U32z& lo) {
    const __m512i mv = _mm512_set1_epi32(static_cast<int>(m));
    for (int k = 0; k < K; ++k) {
      const __m512i even = _mm512_mul_epu32(x.v[k], mv);                         // lanes 0, 2, ..., 14
      const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(x.v[k], 32), mv);  // lanes 1, 3, ..., 15
      hi.v[k] = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
      lo.v[k] = _mm512_mullo_epi32(x.v[k], mv);
    }
  }
};
#endif

#undef DEEPINIT_LANEWISE
#undef DEEPINIT_AVX2_FN

}  // namespace DEEPINIT_CORE_ABI
}  // namespace avx2
}  // namespace cpu

namespace core {
inline namespace DEEPINIT_CORE_ABI {
template <int K>
struct LaneScalar<cpu::avx2::F32v<K>> {
  using type = float;
};
template <int K>
struct LaneScalar<cpu::avx2::F64v<K>> {
  using type = double;
};
#if defined(DEEPINIT_ZMM)
template <int K>
struct LaneScalar<cpu::avx2::F32z<K>> {
  using type = float;
};
#endif
}  // namespace DEEPINIT_CORE_ABI
}  // namespace core
}  // namespace deepinit
