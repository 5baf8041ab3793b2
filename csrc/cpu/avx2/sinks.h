// Sinks: where transformed registers go. A transform pass (transform_pass.h) calls
// sink.store(tag, first, x) with registers x for elements first, first + 1, ..., in increasing
// order of first:
//   RunSink     one run: element e goes to out[e], those outside [0, n) are dropped;
//   RowSink     rows of a whole number of registers, `stride` bytes apart;
// and, for the column blocks of fill_narrow_rows, 8 x 8 transposes into rows
// (store_column_block). Also the short copies and prefetches of the window fills.
// Part of cpu/avx2/kernels.h, compiled once per x86 capability.
#pragma once

#include <cstring>

#include "cpu/avx2/philox_step.h"

namespace deepinit {
namespace cpu {
namespace {

// Round-to-nearest-even stores of one register: 8 float lanes (4 double lanes for kFloat64).
void store(DtypeTag<OutDtype::kFloat32>, void* dst, __m256 x) { _mm256_storeu_ps(static_cast<float*>(dst), x); }
void store(DtypeTag<OutDtype::kFloat64>, void* dst, __m256d x) { _mm256_storeu_pd(static_cast<double*>(dst), x); }
void store(DtypeTag<OutDtype::kFloat16>, void* dst, __m256 x) {
  _mm_storeu_si128(static_cast<__m128i*>(dst), float_to_half_bits(x));
}
void store(DtypeTag<OutDtype::kBFloat16>, void* dst, __m256 x) {
  U32v<1> bits;
  bits.v[0] = _mm256_castps_si256(x);
  const __m256i rounded = core::bfloat16_bits(bits).v[0];
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(rounded, rounded), 0xD8);
  _mm_storeu_si128(static_cast<__m128i*>(dst), _mm256_castsi256_si128(packed));
}

// Stores registers x, which belong at out + first, where they fall inside out[0, n).
template <OutDtype D, class X>
__attribute__((noinline)) void store_registers_partial(DtypeTag<D> tag, unsigned char* out, int64_t n, int64_t first,
                                                       const X& x) {
  constexpr int lanes = kRegisterLanes<D>;
  constexpr int count = static_cast<int>(sizeof(x.v) / sizeof(x.v[0]));
  constexpr std::size_t bytes = DtypeTraits<D>::kBytes;
  alignas(32) unsigned char tmp[count * lanes * bytes];
  for (int k = 0; k < count; ++k) {
    store(tag, tmp + k * lanes * bytes, x.v[k]);
  }
  const int64_t begin = first < 0 ? -first : 0;
  const int64_t end = n - first < count * lanes ? n - first : count * lanes;
  if (end > begin) {
    std::memcpy(out + (first + begin) * bytes, tmp + begin * bytes, (end - begin) * bytes);
  }
}

template <OutDtype D, class X>
inline __attribute__((always_inline)) void store_registers(DtypeTag<D> tag, unsigned char* out, int64_t n,
                                                           int64_t first, const X& x) {
  constexpr int lanes = kRegisterLanes<D>;
  constexpr int count = static_cast<int>(sizeof(x.v) / sizeof(x.v[0]));
  if (first >= 0 && first + count * lanes <= n) {
    for (int k = 0; k < count; ++k) {
      store(tag, out + (first + k * lanes) * DtypeTraits<D>::kBytes, x.v[k]);
    }
  } else {
    store_registers_partial(tag, out, n, first, x);
  }
}

struct RunSink {
  unsigned char* out;
  int64_t n;
  template <OutDtype D, class X>
  void store(DtypeTag<D> tag, int64_t first, const X& x) const {
    store_registers(tag, out, n, first, x);
  }
};

// Rows of `length` elements, `stride` bytes apart, `count` of them, whose length is a multiple
// of the register: element e goes to row e / length, which the sink follows as e grows.
template <OutDtype D>
struct RowSink {
  unsigned char* out;
  int64_t length;
  int64_t stride;
  int64_t count;
  mutable int64_t row = 0;
  mutable int64_t row_start = 0;
  template <class X>
  void store(DtypeTag<D> tag, int64_t first, const X& x) const {
    constexpr int lanes = kRegisterLanes<D>;
    constexpr int registers = static_cast<int>(sizeof(x.v) / sizeof(x.v[0]));
    for (int k = 0; k < registers; ++k) {
      if (first + k * lanes >= row_start + length) {
        ++row;
        row_start += length;
      }
      if (row == count) {
        return;
      }
      cpu::store(tag, out + row * stride + (first + k * lanes - row_start) * DtypeTraits<D>::kBytes, x.v[k]);
    }
  }
};

// Transposes 8 registers of 8 floats: r[i] lane j becomes r[j] lane i.
inline void transpose_8x8(__m256* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// Transposes 4 registers of 4 doubles.
inline void transpose_4x4(__m256d* r) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]);
  const __m256d t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]);
  const __m256d t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// Stores a register at dst: all its elements, or its first `width`.
template <OutDtype D>
inline void store_first(DtypeTag<D> tag, unsigned char* dst, __m256 x, int width) {
  if (width == 8) {
    store(tag, dst, x);
  } else {
    alignas(32) unsigned char staged[8 * DtypeTraits<D>::kBytes];
    store(tag, staged, x);
    std::memcpy(dst, staged, width * DtypeTraits<D>::kBytes);
  }
}
inline void store_first(DtypeTag<OutDtype::kFloat64> tag, unsigned char* dst, __m256d x, int width) {
  if (width == 4) {
    store(tag, dst, x);
  } else {
    alignas(32) double staged[4];
    _mm256_store_pd(staged, x);
    std::memcpy(dst, staged, width * sizeof(double));
  }
}

// Stores 8 columns of 8 rows, x.v[i] column i, as rows 0 .. rows - 1 at out, `stride` bytes
// apart: the first `width` elements of each.
template <OutDtype D>
void store_column_block(DtypeTag<D> tag, F32v<8> x, int rows, unsigned char* out, int64_t stride, int width) {
  transpose_8x8(x.v);
  for (int row = 0; row < rows; ++row) store_first(tag, out + row * stride, x.v[row], width);
}
// Float64: 4 columns, each in two registers (x.v[2 i], x.v[2 i + 1]), of rows 0, 1, 4, 5 and of
// rows 2, 3, 6, 7.
inline void store_column_block(DtypeTag<OutDtype::kFloat64> tag, const F64v<8>& x, int rows, unsigned char* out,
                               int64_t stride, int width) {
  for (int h = 0; h < 2; ++h) {
    __m256d r[4];
    for (int i = 0; i < 4; ++i) r[i] = x.v[2 * i + h];
    transpose_4x4(r);
    for (int i = 0; i < 4; ++i) {
      const int row = 4 * (i / 2) + 2 * h + i % 2;
      if (row < rows) store_first(tag, out + row * stride, r[i], width);
    }
  }
}

// memcpy for short copies (dst and src never overlap): whole registers, then one more that ends
// at the end and overlaps what is already copied; likewise below 32.
inline void copy_small(void* dst, const void* src, std::size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (n >= 32) {
    for (std::size_t i = 0; i + 32 < n; i += 32) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + n - 32),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + n - 32)));
  } else if (n >= 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + n - 16), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + n - 16)));
  } else if (n >= 8) {
    std::memcpy(d, s, 8);
    std::memcpy(d + n - 8, s + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(d, s, 4);
    std::memcpy(d + n - 4, s + n - 4, 4);
  } else {
    for (std::size_t i = 0; i < n; ++i) d[i] = s[i];
  }
}

// Asks for the cache lines of out[0, n) bytes, so that they are at hand when a block is copied
// out: copies in a burst wait on memory where the contiguous path's stores, spread among the
// arithmetic, do not.
inline void prefetch_lines(const unsigned char* out, int64_t n) {
  for (int64_t offset = 0; offset < n; offset += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(out + offset), _MM_HINT_T0);
  }
}

}  // namespace
}  // namespace cpu
}  // namespace deepinit
