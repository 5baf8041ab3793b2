// Lane primitives for plain scalars (one lane). The core's algorithms are templates over a
// lane type; a SIMD backend instantiates them with its vector types by providing these same
// functions for them (see csrc/cpu/avx2/lanes.h). Every primitive is exact, so the choice of
// lane type never changes a result.
//
//   float lanes F (and double lanes D): LaneScalar<F>, +, -, *, /, comparisons giving a mask,
//       select(mask, a, b), any(mask), sqrt_rn(x), fma_rn(a, b, c),
//       lookup_row(row, index)  row[index], index a small whole number held as F; rows hold
//                               8 floats or 4 doubles (one SIMD register's worth),
//       log_reduce(x, k[, s])   m with x = m * 2^(k + s), m in [sqrt(1/2), sqrt(2)), k returned as F
//                               (float lanes take the power s of a scaled argument; 0 by default);
//   32-bit lanes U: +, ^, |, &, <<, >>, mulhilo32(m, x, hi, lo), float_from_bits(u),
//       sign_mask(u)                 all ones where u's top bit is set, else zeros,
//       to_float(u)                  u (unsigned) as a float, rounded to nearest even,
//       top_bit_set(u)               the float lanes' mask of the lanes whose top bit is set,
//       negate_where_top_bit(x, u)   x with its sign flipped where u's top bit is set;
//   64-bit lanes: >>, |, double_from_bits(u).
#pragma once

#include <type_traits>

#include "platform.h"

DEEPINIT_CORE_NAMESPACE_BEGIN

// The scalar type of a float lane type; SIMD backends specialize it for their vectors.
template <class F>
struct LaneScalar {
  using type = F;
};
template <class F>
using lane_scalar_t = typename LaneScalar<F>::type;
template <class F>
constexpr bool is_f64_lane = std::is_same_v<lane_scalar_t<F>, double>;

DEEPINIT_HD float select(bool mask, float a, float b) { return mask ? a : b; }
DEEPINIT_HD double select(bool mask, double a, double b) { return mask ? a : b; }
DEEPINIT_HD bool any(bool mask) { return mask; }

DEEPINIT_HD float lookup_row(const float* row, float index) { return row[static_cast<int>(index)]; }
DEEPINIT_HD double lookup_row(const double* row, double index) { return row[static_cast<int>(index)]; }

DEEPINIT_HD void mulhilo32(uint32_t m, uint32_t x, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(m) * x;
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

DEEPINIT_HD uint32_t sign_mask(uint32_t u) { return static_cast<uint32_t>(static_cast<int32_t>(u) >> 31); }
DEEPINIT_HD float to_float(uint32_t u) { return static_cast<float>(u); }
DEEPINIT_HD bool top_bit_set(uint32_t u) { return (u >> 31) != 0; }
DEEPINIT_HD float negate_where_top_bit(float x, uint32_t u) { return float_from_bits(bits_of(x) ^ (u & 0x80000000u)); }

// Precondition for log_reduce: x * 2^-scale is positive, finite and normal.
DEEPINIT_HD float log_reduce(float x, float& k, int scale = 0) {
  // Bias the bits so that the exponent field rounds at sqrt(2) instead of 2 (as musl's logf).
  const uint32_t biased = bits_of(x) + (0x3f800000u - 0x3f3504f3u) - (static_cast<uint32_t>(scale) << 23);
  // k = e - 127 read as the float 2^23 + e less 2^23 + 127: integer work and an add, where a
  // conversion would take the GPU's slower conversion pipe.
  k = float_from_bits(0x4b000000u + (biased >> 23)) - 8388735.0f;
  return float_from_bits((biased & 0x007fffffu) + 0x3f3504f3u);
}

DEEPINIT_HD double log_reduce(double x, double& k) {
  const uint64_t biased = bits_of(x) + (0x3ff0000000000000ull - 0x3fe6a09e667f3bcdull);
  k = static_cast<double>(static_cast<int64_t>(biased >> 52) - 0x3ff);
  return double_from_bits((biased & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull);
}

DEEPINIT_CORE_NAMESPACE_END
