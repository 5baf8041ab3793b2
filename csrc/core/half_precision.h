// Float to float16 / bfloat16 and back, rounding to nearest even: the conversions of every
// backend's stores, and of the host's rounding of truncated-normal bounds into a 16-bit dtype.
//
//   float_to_half_bits(x)      x a float lane; lane types provide their own exact equivalent
//                              (F16C's vcvtps2ph for AVX2 lanes, csrc/cpu/avx2/lanes.h); on the GPU,
//                              __float2half_rn. All agree bit for bit.
//   bfloat16_bits(w)           w the float's bits as 32-bit lanes (of any lane type): the same
//                              rounding as c10::BFloat16 and __float2bfloat16_rn.
//   half_bits_to_float, bfloat16_bits_to_float: exact.
#pragma once

#include "platform.h"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

DEEPINIT_CORE_NAMESPACE_BEGIN

// IEEE binary16, overflow to infinity, subnormals kept. This is the FP16 library's
// fp16_ieee_from_fp32_value (Marat Dukhan, MIT licence), which c10::Half also uses: the
// float arithmetic on `base` performs the rounding.
DEEPINIT_HD uint16_t float_to_half_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __half_as_ushort(__float2half_rn(f));  // one instruction, the same rounding
#else
  const float scale_to_inf = 0x1.0p+112f;
  const float scale_to_zero = 0x1.0p-110f;
  float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;
  const uint32_t w = bits_of(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) {
    bias = 0x71000000u;
  }
  base = float_from_bits((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = bits_of(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
#endif
}

// bfloat16: the top half of the float's bits after adding 0x7fff plus the lowest kept bit, in
// the low 16 bits of each lane. Infinities stay infinities; the fills never make NaN.
template <class U32>
DEEPINIT_HD U32 bfloat16_bits(U32 w) {
  return (w + U32(0x7FFFu) + ((w >> 16) & U32(1u))) >> 16;
}

DEEPINIT_HD uint16_t float_to_bfloat16_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));  // the same rounding
#else
  return static_cast<uint16_t>(bfloat16_bits(bits_of(f)));
#endif
}

// The FP16 library's fp16_ieee_to_fp32_value: exact.
DEEPINIT_HD float half_bits_to_float(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  const float normalized = float_from_bits((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
  const float denormalized = float_from_bits((two_w >> 17) | (126u << 23)) - 0.5f;
  const uint32_t result = sign | (two_w < (1u << 27) ? bits_of(denormalized) : bits_of(normalized));
  return float_from_bits(result);
}

DEEPINIT_HD float bfloat16_bits_to_float(uint16_t b) { return float_from_bits(static_cast<uint32_t>(b) << 16); }

DEEPINIT_CORE_NAMESPACE_END
