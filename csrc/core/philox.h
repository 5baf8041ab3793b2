// Philox4x32-10 exactly as Random123 defines it (Salmon et al., SC'11), written once for any
// 32-bit lane type: uint32_t on host and device, or a SIMD vector of counters.
#pragma once

#include "scalar_lanes.h"

namespace deepinit {
namespace core {
// The key as plain data, outside the per-instruction-set namespace: jobs carry it from code
// compiled for one instruction set to another.
struct PhiloxKey {
  uint32_t k0;
  uint32_t k1;
};
}  // namespace core
}  // namespace deepinit

DEEPINIT_CORE_NAMESPACE_BEGIN

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // Weyl increments of the key
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

// A 64-bit seed s is the key (lo32(s), hi32(s)).
DEEPINIT_HD PhiloxKey philox_key_from_seed(uint64_t seed) {
  return PhiloxKey{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
}

// The key of every round, as lanes: built once, it spares a SIMD loop a broadcast per round.
template <class U32>
struct PhiloxRoundKeys {
  PhiloxKey key;
  U32 k0[kPhiloxRounds];
  U32 k1[kPhiloxRounds];

  DEEPINIT_HD explicit PhiloxRoundKeys(PhiloxKey key) : key(key) {
    uint32_t a = key.k0;
    uint32_t b = key.k1;
    for (int round = 0; round < kPhiloxRounds; ++round) {
      k0[round] = U32(a);
      k1[round] = U32(b);
      a += kPhiloxW0;
      b += kPhiloxW1;
    }
  }
};

template <class U32>
DEEPINIT_HD void philox_round(U32 (&c)[4], const PhiloxRoundKeys<U32>& keys, int round) {
  U32 hi0, lo0, hi1, lo1;
  mulhilo32(kPhiloxM0, c[0], hi0, lo0);
  mulhilo32(kPhiloxM1, c[2], hi1, lo1);
  c[0] = hi1 ^ c[1] ^ keys.k0[round];
  c[1] = lo1;
  c[2] = hi0 ^ c[3] ^ keys.k1[round];
  c[3] = lo0;
}

// Replaces the counter (c[0], c[1], c[2], c[3]) by its ten-round Philox output.
template <class U32>
DEEPINIT_HD void philox4x32_10(U32 (&c)[4], const PhiloxRoundKeys<U32>& keys) {
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#elif defined(__GNUC__) && !defined(__CUDACC__)
#pragma GCC unroll 10
#endif
  for (int round = 0; round < kPhiloxRounds; ++round) {
    philox_round(c, keys, round);
  }
}

template <class U32>
DEEPINIT_HD void philox4x32_10(U32 (&c)[4], PhiloxKey key) {
  philox4x32_10(c, PhiloxRoundKeys<U32>(key));
}

// The same output for the counter (low, high, 0, 0) when every lane has the same high word,
// as consecutive counters almost always do: the first two rounds then multiply zeros and
// lane-invariant words, which are computed once here instead of in every lane.
template <class U32>
DEEPINIT_HD void philox4x32_10_shared_high(U32 low, uint32_t high, const PhiloxRoundKeys<U32>& keys, U32 (&c)[4]) {
  // Round 0: the multiply of word 2 (zero) gives zeros; word 0 becomes lane-invariant.
  U32 hi0, lo0;
  mulhilo32(kPhiloxM0, low, hi0, lo0);
  const uint32_t invariant0 = high ^ keys.key.k0;
  // Round 1: the multiply of that word is scalar; word 3 becomes lane-invariant.
  uint32_t invariant_hi, invariant_lo;
  mulhilo32(kPhiloxM0, invariant0, invariant_hi, invariant_lo);
  U32 hi1, lo1;
  mulhilo32(kPhiloxM1, hi0 ^ keys.k1[0], hi1, lo1);
  c[0] = hi1 ^ keys.k0[1];
  c[1] = lo1;
  c[2] = lo0 ^ U32(invariant_hi ^ (keys.key.k1 + kPhiloxW1));
  c[3] = U32(invariant_lo);
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#elif defined(__GNUC__) && !defined(__CUDACC__)
#pragma GCC unroll 8
#endif
  for (int round = 2; round < kPhiloxRounds; ++round) {
    philox_round(c, keys, round);
  }
}

DEEPINIT_CORE_NAMESPACE_END
