// Float to float16 / bfloat16, rounding to nearest even: the conversions every backend's stores
// perform (F16C's vcvtps2ph, CUDA's __float2half_rn and __float2bfloat16_rn agree bit for bit).
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

// bfloat16: the top half of the float after adding 0x7fff plus the lowest kept bit; NaN stays NaN.
DEEPINIT_HD uint16_t float_to_bfloat16_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));  // the same rounding; NaN stays NaN
#else
  if (f != f) {
    return 0x7FC0;
  }
  const uint32_t w = bits_of(f);
  return static_cast<uint16_t>((w + 0x7FFFu + ((w >> 16) & 1u)) >> 16);
#endif
}

DEEPINIT_CORE_NAMESPACE_END
