// Philox4x32-10 exactly as Random123 defines it (Salmon et al., SC'11), written once for any
// 32-bit lane type: uint32_t on host and device, or a SIMD vector of counters.
#pragma once

#include "scalar_lanes.h"

DEEPINIT_CORE_NAMESPACE_BEGIN

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // Weyl increments of the key
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

struct PhiloxKey {
  uint32_t k0;
  uint32_t k1;
};

// A 64-bit seed s is the key (lo32(s), hi32(s)).
DEEPINIT_HD PhiloxKey philox_key_from_seed(uint64_t seed) {
  return PhiloxKey{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
}

// The key of every round, as lanes: built once, it spares a SIMD loop a broadcast per round.
template <class U32>
struct PhiloxRoundKeys {
  U32 k0[kPhiloxRounds];
  U32 k1[kPhiloxRounds];

  DEEPINIT_HD explicit PhiloxRoundKeys(PhiloxKey key) {
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

// Replaces the counter (c[0], c[1], c[2], c[3]) by its ten-round Philox output.
template <class U32>
DEEPINIT_HD void philox4x32_10(U32 (&c)[4], const PhiloxRoundKeys<U32>& keys) {
#if defined(__CUDA_ARCH__) || defined(__clang__)
#pragma unroll
#elif defined(__GNUC__)
#pragma GCC unroll 10
#endif
  for (int round = 0; round < kPhiloxRounds; ++round) {
    U32 hi0, lo0, hi1, lo1;
    mulhilo32(kPhiloxM0, c[0], hi0, lo0);
    mulhilo32(kPhiloxM1, c[2], hi1, lo1);
    c[0] = hi1 ^ c[1] ^ keys.k0[round];
    c[1] = lo1;
    c[2] = hi0 ^ c[3] ^ keys.k1[round];
    c[3] = lo0;
  }
}

template <class U32>
DEEPINIT_HD void philox4x32_10(U32 (&c)[4], PhiloxKey key) {
  philox4x32_10(c, PhiloxRoundKeys<U32>(key));
}

DEEPINIT_CORE_NAMESPACE_END
