// Stream contract v2 (docs/stream.md): which Philox counter and output word feed element g,
// and how its bits become a uniform u in (0, 1).
//
//   dtypes of 32 bits or fewer: counter (lo32(g>>2), hi32(g>>2), 0, 0), word g & 3 -> r (32 bits);
//       uniform_:                       u = (r >> 9) * 2^-23 + 2^-24
//       normal_, trunc_normal_:         u = (r + 1/2) * 2^-32, carried as its lower side and
//                                       which side it is (half_uniform)
//   float64:                    counter (lo32(g>>1), hi32(g>>1), 0, 0), words 2(g&1) (low half)
//                               and 2(g&1)+1 (high half) -> r (64 bits), u = (r >> 12) * 2^-52 + 2^-53
//
// Every map is symmetric (1 - u is again a value of the map), so the quantile transforms can
// mirror u without rounding.
#pragma once

#include "philox.h"
#include "scalar_lanes.h"

DEEPINIT_CORE_NAMESPACE_BEGIN

// Elements drawn from one Philox counter, by compute type.
template <class T>
struct StreamLayout;
template <>
struct StreamLayout<float> {
  static constexpr int kElementsPerCounter = 4;
  static constexpr int kShift = 2;
};
template <>
struct StreamLayout<double> {
  static constexpr int kElementsPerCounter = 2;
  static constexpr int kShift = 1;
};

// The counter of element g: g >> shift, which is below 2^62 (2^63 for float64), so that
// counters wrap with g at 2^64.
template <class T>
DEEPINIT_HD uint64_t counter_of(uint64_t g) {
  return g >> StreamLayout<T>::kShift;
}
template <class T>
constexpr uint64_t kCounterMask = ~uint64_t{0} >> StreamLayout<T>::kShift;

// 1 + (r >> 9) * 2^-23 is built from bits in [1, 2); subtracting 1 - 2^-24 leaves
// (r >> 9) * 2^-23 + 2^-24 exactly, in one addition, because that needs only 24 significant bits.
template <class U32>
DEEPINIT_HD auto uniform_f32_from_bits(U32 r) {
  const auto one_plus = float_from_bits((r >> 9) | U32(0x3f800000u));
  return one_plus - (1.0f - 0x1p-24f);
}

template <class U64>
DEEPINIT_HD auto uniform_f64_from_bits(U64 r) {
  const auto one_plus = double_from_bits((r >> 12) | U64(0x3ff0000000000000ull));
  return one_plus - (1.0 - 0x1p-53);
}

// The 32-bit quantile fills' u = (r + 1/2) 2^-32 as its lower side p = min(u, 1 - u) and that
// side's distance from the centre a = 1/2 - p, each times 2^33 and each correctly rounded (one
// conversion of an odd 32-bit integer):
//   m = r < 2^31 ? r : 2^32 - 1 - r,  n = 2^31 - 1 - m,   2^33 p = 2m + 1,  2^33 a = 2n + 1,
//   2m + 1 = ((r << 1) ^ sign_mask(r)) | 1  and  2n + 1 = (2m + 1) ^ 0xfffffffe.
// r's top bit says which side u is: set, u = 1 - p.
template <class F>
struct HalfUniform {
  F p;  // 2^33 p
  F a;  // 2^33 a
};

template <class U32>
DEEPINIT_HD auto half_uniform(U32 r) {
  const U32 twice_m = ((r << 1) ^ sign_mask(r)) | U32(1u);
  using F = decltype(to_float(twice_m));
  return HalfUniform<F>{to_float(twice_m), to_float(twice_m ^ U32(0xFFFFFFFEu))};
}

// u and 1 - u, as the truncated normal's plans take them: for the 32-bit fills, from
// half_uniform (the lower side exact, the upper 1/2 + a, rounded once); for float64, exact.
template <class F>
struct UniformSides {
  F u;
  F rest;  // 1 - u
};

// mirror = 0x80000000 swaps the two (u is then 1 - u): an integer operand rather than a branch,
// so that no compiler unswitches a loop on it and doubles a kernel's code.
template <class U32>
DEEPINIT_HD auto uniform_sides_f32(U32 r, uint32_t mirror = 0u) {
  const auto half = half_uniform(r);
  using F = decltype(half.p);
  const F lower_side = half.p * F(0x1p-33f);
  const F upper_side = fma_rn(half.a, F(0x1p-33f), F(0.5f));
  const auto upper = top_bit_set(r ^ U32(mirror));
  return UniformSides<F>{select(upper, upper_side, lower_side), select(upper, lower_side, upper_side)};
}

template <class U64>
DEEPINIT_HD auto uniform_sides_f64(U64 r) {
  const auto u = uniform_f64_from_bits(r);
  using D = std::decay_t<decltype(u)>;
  return UniformSides<D>{u, D(1) - u};
}

// Philox output words of counter number `counter` (words 2 and 3 of the counter are 0).
DEEPINIT_HD void philox_words(PhiloxKey key, uint64_t counter, uint32_t (&words)[4]) {
  philox4x32_10_shared_high(static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                            PhiloxRoundKeys<uint32_t>(key), words);
}

// The random bits of an element of compute type T: a 32-bit word for float, 64 bits for double.
template <class T>
using BitsOf = std::conditional_t<std::is_same_v<T, double>, uint64_t, uint32_t>;

// Element g's bits from the output words of its counter.
template <class T>
DEEPINIT_HD BitsOf<T> bits_from_words(const uint32_t (&words)[4], uint64_t g) {
  if constexpr (std::is_same_v<T, double>) {
    const int half = static_cast<int>(g & 1);
    return (static_cast<uint64_t>(words[2 * half + 1]) << 32) | words[2 * half];
  } else {
    return words[g & 3];
  }
}

// Where a fill lies in the stream. A source of streams (a seed, a generator) gives a key and the
// first Philox counter the fill may use; element i of the logical tensor takes stream position
// first + i, first = that counter's first position plus an element offset (mod 2^64).
struct StreamOrigin {
  PhiloxKey key;
  uint64_t first;
};

template <class T>
DEEPINIT_HD StreamOrigin stream_origin(uint64_t seed, uint64_t counter, uint64_t offset) {
  return {philox_key_from_seed(seed), (counter << StreamLayout<T>::kShift) + offset};
}

// The Philox counters that n elements from position `first` use: from counter_of(first) on,
// this many (n >= 1). A generator reserves them; the next fill on the same key starts after them.
template <class T>
DEEPINIT_HD uint64_t counters_used(uint64_t first, uint64_t n) {
  constexpr uint64_t per = StreamLayout<T>::kElementsPerCounter;
  const uint64_t lead = first & (per - 1);
  return n / per + (lead + n % per + per - 1) / per;
}

// Element g's bits taken straight from the contract: the scalar reference that every faster
// path must reproduce bit for bit.
template <class T>
DEEPINIT_HD BitsOf<T> bits_at(PhiloxKey key, uint64_t g) {
  uint32_t words[4];
  philox_words(key, counter_of<T>(g), words);
  return bits_from_words<T>(words, g);
}

DEEPINIT_CORE_NAMESPACE_END
