// Portability layer of the torch-free core: host/device markers, the core namespace,
// constant tables readable from host and device, bit casts and correctly rounded sqrt.
//
// Everything the core computes uses only IEEE-754 operations that every target rounds the
// same way: +, -, *, /, sqrt and the fused multiply-add fma_rn, each written out explicitly.
// Builds must keep compilers from fusing a*b+c on their own (gcc/clang: -ffp-contract=off;
// nvcc: --fmad=false); that is what makes CPU (scalar or SIMD) and CUDA results bit-identical.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define DEEPINIT_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define DEEPINIT_HD inline __attribute__((always_inline))
#else
#define DEEPINIT_HD inline
#endif

// Code that rare inputs take: kept out of the GPU's loops (a call), inline elsewhere.
#if defined(__CUDA_ARCH__)
#define DEEPINIT_HD_COLD __host__ __device__ __noinline__
#elif defined(__CUDACC__) || defined(__HIPCC__)
#define DEEPINIT_HD_COLD __host__ __device__ inline
#else
#define DEEPINIT_HD_COLD DEEPINIT_HD
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

// Each translation unit that compiles the core for a different instruction set (the AVX2
// kernels, say) defines DEEPINIT_CORE_ABI first, so its copies of the core's inline
// functions get their own symbols and never replace another unit's at link time.
#ifndef DEEPINIT_CORE_ABI
#define DEEPINIT_CORE_ABI baseline
#endif
#define DEEPINIT_CORE_NAMESPACE_BEGIN \
  namespace deepinit {                \
  namespace core {                    \
  inline namespace DEEPINIT_CORE_ABI {
#define DEEPINIT_CORE_NAMESPACE_END \
  }                                 \
  }                                 \
  }

// A constant table that both host and device code index at run time (on the GPU, constant
// memory: read with an index known at compile time, an entry is an instruction's operand). The
// compiler turns a float table's entries read at known indices into immediates; a double has no
// immediate form, and each would take two moves into registers per use, so double tables are
// declared writable (no code writes them) to keep their entries constant-memory operands.
#if defined(__CUDACC__)
#define DEEPINIT_DEFINE_TABLE(type, name, size, init) \
  static constexpr type name##_host[size] = init;     \
  static __constant__ std::conditional_t<(sizeof(type) > 4), type, const type> name##_device[size] = init;
#if defined(__CUDA_ARCH__)
#define DEEPINIT_TABLE_DATA(name) name##_device
#else
#define DEEPINIT_TABLE_DATA(name) name##_host
#endif
#else
#define DEEPINIT_DEFINE_TABLE(type, name, size, init) static constexpr type name##_host[size] = init;
#define DEEPINIT_TABLE_DATA(name) name##_host
#endif

DEEPINIT_CORE_NAMESPACE_BEGIN

DEEPINIT_HD uint32_t bits_of(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
#endif
}

DEEPINIT_HD uint64_t bits_of(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(x));
#else
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
#endif
}

DEEPINIT_HD float float_from_bits(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
#endif
}

DEEPINIT_HD double double_from_bits(uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(b));
#else
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
#endif
}

DEEPINIT_HD float sqrt_rn(float x) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(x);
#else
  return std::sqrt(x);
#endif
}

DEEPINIT_HD double sqrt_rn(double x) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(x);
#else
  return std::sqrt(x);
#endif
}

// a * b + c with one rounding.
DEEPINIT_HD float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

DEEPINIT_HD double fma_rn(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
DEEPINIT_CORE_NAMESPACE_END
