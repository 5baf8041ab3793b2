// Unit tests of the torch-free core (csrc/core), built by CMake and run with ctest.
// They need no torch: they include the headers as any other C++ (or CUDA) code would.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <algorithm>
#include <cstring>
#include <random>

#include "core/half_precision.h"
#include "core/stream.h"
#include "core/transforms.h"
#include "quantile_reference.h"

using namespace deepinit::core;

static int failures = 0;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      ++failures;                                                     \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
      std::printf(__VA_ARGS__);                                       \
      std::printf("\n");                                              \
    }                                                                 \
  } while (0)

static double ulp_of(float x) {
  const float a = std::fabs(x);
  return std::nextafter(a, std::numeric_limits<float>::infinity()) - a;
}

static void test_philox_known_answers() {
  struct Case {
    uint32_t counter[4];
    uint32_t key[2];
    uint32_t expected[4];
  };
  // Random123's kat_vectors for philox4x32_10.
  const Case cases[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Case& c : cases) {
    uint32_t words[4] = {c.counter[0], c.counter[1], c.counter[2], c.counter[3]};
    philox4x32_10(words, PhiloxKey{c.key[0], c.key[1]});
    for (int i = 0; i < 4; ++i) {
      CHECK(words[i] == c.expected[i], "word %d: got %08x, want %08x", i, words[i], c.expected[i]);
    }
  }
  const PhiloxKey key = philox_key_from_seed(0x0123456789abcdefull);
  CHECK(key.k0 == 0x89abcdefu && key.k1 == 0x01234567u, "seed splits into (lo32, hi32)");
}

// The shortcut for counters (low, high, 0, 0) gives the ten rounds' output exactly.
static void test_philox_shared_high() {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t draw = rng();
    const uint32_t low = i < 3 ? ~uint32_t{0} * (i & 1) : static_cast<uint32_t>(draw);
    const uint32_t high = i < 3 ? ~uint32_t{0} * (i >> 1) : static_cast<uint32_t>(draw >> 32);
    const PhiloxRoundKeys<uint32_t> keys(philox_key_from_seed(i < 3 ? 0 : rng()));
    uint32_t expected[4] = {low, high, 0, 0};
    philox4x32_10(expected, keys);
    uint32_t words[4];
    philox4x32_10_shared_high(low, high, keys, words);
    for (int w = 0; w < 4; ++w) {
      CHECK(words[w] == expected[w], "counter (%08x, %08x) word %d: got %08x, want %08x", low, high, w, words[w],
            expected[w]);
    }
  }
}

static void test_uniform_grid() {
  CHECK(uniform_f32_from_bits(0u) == 0x1p-24f, "smallest float u");
  CHECK(uniform_f32_from_bits(0xffffffffu) == 1.0f - 0x1p-24f, "largest float u");
  CHECK(uniform_f64_from_bits(uint64_t{0}) == 0x1p-53, "smallest double u");
  CHECK(uniform_f64_from_bits(~uint64_t{0}) == 1.0 - 0x1p-53, "largest double u");
  std::mt19937 rng(1);
  for (int i = 0; i < 100000; ++i) {
    const uint32_t r = rng();
    const float u = uniform_f32_from_bits(r);
    CHECK(u == static_cast<float>((r >> 9) * 0x1p-23 + 0x1p-24), "float u of %08x", r);
    CHECK(1.0f - u == uniform_f32_from_bits(~r), "1 - u is exact and on the grid");
  }
  // Element g of a 32-bit dtype uses counter g >> 2, word g & 3; float64 counter g >> 1.
  const PhiloxKey key = philox_key_from_seed(99);
  uint32_t words[4];
  philox_words(key, 5, words);
  CHECK(bits_at<float>(key, 22) == words[2], "float element 22 = counter 5 word 2");
  CHECK(bits_at<double>(key, 11) == ((uint64_t{words[3]} << 32) | words[2]), "double element 11 = counter 5 words (3, 2)");
}

// Contract v2's half uniform: u = (r + 1/2) 2^-32 as 2^33 p, p = min(u, 1 - u), and 2^33 a,
// a = 1/2 - p, each correctly rounded, and r's top bit for the side.
static void test_half_uniform() {
  const HalfUniform<float> smallest = half_uniform(0u);
  CHECK(smallest.p == 1.0f && smallest.a == 0x1p32f, "r = 0: p = 2^-33");
  const HalfUniform<float> largest = half_uniform(0xffffffffu);
  CHECK(largest.p == 1.0f && top_bit_set(0xffffffffu), "r = 2^32 - 1: the upper side's smallest p");
  const HalfUniform<float> centre = half_uniform(0x7fffffffu);
  CHECK(centre.a == 1.0f, "r = 2^31 - 1: a = 2^-33 (u just below 1/2)");
  std::mt19937 rng(5);
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t r = rng();
    const HalfUniform<float> h = half_uniform(r);
    const double u = (static_cast<double>(r) + 0.5) * 0x1p-32;
    const double p = std::min(u, 1.0 - u);
    // Correctly rounded: 2^33 p and 2^33 a are odd integers below 2^32.
    CHECK(h.p == static_cast<float>(p * 0x1p33) && h.a == static_cast<float>((0.5 - p) * 0x1p33), "r=%08x", r);
    CHECK(top_bit_set(r) == (u > 0.5), "side of r=%08x", r);
    const HalfUniform<float> mirror = half_uniform(~r);
    CHECK(mirror.p == h.p && mirror.a == h.a && top_bit_set(~r) != top_bit_set(r), "~r is the mirror of r=%08x", r);
  }
}

static void test_log() {
  // Every third float of [2^-24, 1), where the quantile's p lives, and a million below it.
  double worst32 = 0;
  for (uint32_t bits = 0x33800000u; bits < 0x3f800000u; bits += 3) {
    const float x = float_from_bits(bits);
    const double exact = std::log(static_cast<double>(x));
    worst32 = std::fmax(worst32, std::fabs(log_f32(x) - exact) / ulp_of(static_cast<float>(exact)));
  }
  std::mt19937 rng32(3);
  for (int i = 0; i < 1000000; ++i) {
    const float x = float_from_bits(0x00800000u + rng32() % (0x33800000u - 0x00800000u));
    const double exact = std::log(static_cast<double>(x));
    worst32 = std::fmax(worst32, std::fabs(log_f32(x) - exact) / ulp_of(static_cast<float>(exact)));
  }
  CHECK(worst32 < 1.0, "log_f32 max error %.3f ulp", worst32);
  std::printf("log_f32: max error %.3f ulp over (2^-126, 1)\n", worst32);

  std::mt19937_64 rng(2);
  double worst64 = 0;
  for (int i = 0; i < 2000000; ++i) {
    const double x = std::ldexp(1.0 + (rng() >> 11) * 0x1p-53, -static_cast<int>(rng() % 1022));
    const long double exact = std::log(static_cast<long double>(x));
    const double err = static_cast<double>(std::fabs(log_f64(x) - exact) / std::fabs(exact));
    worst64 = std::fmax(worst64, err);
  }
  CHECK(worst64 < 2.3e-16, "log_f64 max relative error %.3g", worst64);
  std::printf("log_f64: max relative error %.3g\n", worst64);
}

// The float32 quantile of contract v2 at the lower sides p = (m + 1/2) 2^-32, m < 2^31, against
// the double quantile (itself checked against mpmath below): every `stride`-th m, and every m
// within 2^20 of either end (the far tail and the centre). stride 1 is every u of the grid
// (both sides are mirrors): deepinit_core_tests --exhaustive.
static void test_quantile_f32(uint32_t stride) {
  double worst = 0;
  uint32_t worst_m = 0;
  const auto check = [&](uint32_t m) {
    const HalfUniform<float> h = half_uniform(m);
    const double p = (static_cast<double>(m) + 0.5) * 0x1p-32;
    const double exact = normal_quantile_lower_f64(p, p - 0.5);
    const double err = std::fabs(normal_quantile_lower_f32(h.p, h.a) - exact) / ulp_of(static_cast<float>(exact));
    if (err > worst) {
      worst = err;
      worst_m = m;
    }
  };
  for (uint64_t m = 0; m < (uint64_t{1} << 31); m += stride) {
    check(static_cast<uint32_t>(m));
  }
  for (uint32_t m = 0; m < (1u << 20); ++m) {
    check(m);
    check(0x7fffffffu - m);
  }
  const double p = (worst_m + 0.5) * 0x1p-32;
  CHECK(worst <= 4.0, "float32 normal quantile max error %.3f ulp at p=%.9g", worst, p);
  std::printf("normal_quantile<float>: max error %.3f ulp at p=%.9g over %s of the 2^31 grid values of a side\n", worst,
              p, stride == 1 ? "all" : "a sample");
}

static void test_quantile_f64() {
  double worst = 0;
  for (const QuantileReference& ref : kQuantileReference) {
    const double p = std::min(ref.u, 1.0 - ref.u);
    const double x = normal_quantile_lower_f64(p, p - 0.5);
    const double err = std::fabs((ref.u <= 0.5 ? x : -x) - ref.x) / std::fabs(ref.x);
    worst = std::fmax(worst, err);
  }
  CHECK(worst <= 1e-14, "float64 normal quantile max relative error %.3g", worst);
  std::printf("normal_quantile<double>: max relative error %.3g over %zu mpmath points\n", worst,
              sizeof(kQuantileReference) / sizeof(kQuantileReference[0]));
}

static void test_quantile_tail_from_log() {
  double worst64 = 0, worst32 = 0;
  for (const DeepTailReference& ref : kDeepTailReference) {
    if (ref.r < 2.72) {
      continue;  // the tail entry starts where the central region ends
    }
    worst64 = std::fmax(worst64, std::fabs(normal_quantile_tail(ref.r) - ref.x) / std::fabs(ref.x));
    const float x32 = normal_quantile_tail(static_cast<float>(ref.r));
    // r itself is rounded to float: compare against the exact quantile of that r.
    const double dx_dr = 2.0 * ref.r / std::fabs(ref.x);  // |dx/dr| for large r is ~ 2r/|x|
    const double r_rounding = std::fabs(static_cast<float>(ref.r) - ref.r) * dx_dr;
    worst32 = std::fmax(worst32, (std::fabs(x32 - ref.x) - r_rounding) / ulp_of(static_cast<float>(ref.x)));
  }
  CHECK(worst64 <= 1e-14, "double tail quantile max relative error %.3g", worst64);
  CHECK(worst32 <= 8.0, "float tail quantile max error %.3f ulp", worst32);
  std::printf("normal_quantile_tail: double max relative error %.3g, float max %.3f ulp (r up to 2e5)\n", worst64,
              worst32);
}

static void test_truncated_equals_normal_on_whole_line() {
  const double inf = std::numeric_limits<double>::infinity();
  const TruncatedNormalTransform<float> whole{plan_truncated_normal<float>(0.5, 2.0, -inf, inf, -inf, inf)};
  const NormalTransform<float> normal{{0.5f, 2.0f}};
  std::mt19937 rng(6);
  for (int i = 0; i < 4000000; ++i) {
    const uint32_t r = i < (1 << 20) ? static_cast<uint32_t>(i) * 4096 + (i & 4095) : rng();
    CHECK(whole(r) == normal(r), "r=%08x", r);
  }
}

static void test_truncated_modes() {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(plan_truncated_normal<float>(0, 1, -2, 2, -2, 2).mode == TruncatedNormalMode::kLinear, "central");
  CHECK(plan_truncated_normal<float>(0, 1, 5, 6, 5, 6).mode == TruncatedNormalMode::kLinear, "5-6 sigma, float");
  CHECK(plan_truncated_normal<float>(0, 1, 20, 21, 20, 21).mode == TruncatedNormalMode::kLog, "20 sigma, float");
  CHECK(plan_truncated_normal<double>(0, 1, 30, 31, 30, 31).mode == TruncatedNormalMode::kLinear, "30 sigma, double");
  CHECK(plan_truncated_normal<double>(0, 1, 40, inf, 40, inf).mode == TruncatedNormalMode::kLog, "40 sigma, double");
  CHECK(plan_truncated_normal<float>(0, 1, 0, 1e-6, 0, 1e-6).mode == TruncatedNormalMode::kNarrow, "narrow");
  CHECK(plan_truncated_normal<float>(0, 1, 1e4, inf, 1e4, inf).mode == TruncatedNormalMode::kNarrow, "collapsed");
  // Every mode keeps values inside [lo, hi] for every u.
  const double cases[][2] = {{-2, 2}, {5, 6}, {20, 21}, {-1e-6, 0}, {1e4, inf}, {-inf, -30}, {0.3, 0.30001}};
  for (const auto& c : cases) {
    const float lo = static_cast<float>(c[0]);
    const float hi = static_cast<float>(c[1]);
    const TruncatedNormalTransform<float> t{plan_truncated_normal<float>(0, 1, c[0], c[1], lo, hi)};
    for (uint64_t r = 0; r < (uint64_t{1} << 32); r += 4099) {
      const float x = t(static_cast<uint32_t>(r));
      CHECK(x >= lo && x <= hi && std::isfinite(x), "[%g, %g]: x=%g", c[0], c[1], x);
    }
  }
}

// Round-to-nearest-even to float16 and bfloat16 against independent references: the compiler's
// _Float16 conversion, and rounding the significand with nearbyint in double.
static void test_half_precision() {
  auto bf16_reference = [](float f) -> float {
    if (f == 0.0f || !std::isfinite(f)) return f;
    int e;
    std::frexp(f, &e);                 // f = m 2^e, 0.5 <= |m| < 1
    const int keep = std::max(e, -125);  // subnormals share the smallest normal's spacing
    return static_cast<float>(std::ldexp(std::nearbyint(std::ldexp(static_cast<double>(f), 8 - keep)), keep - 8));
  };
  std::mt19937 rng(4);
  int bad_half = 0, bad_bf16 = 0;
  for (int i = 0; i < 4000000; ++i) {
    const float f = float_from_bits(rng());
    if (f != f) continue;
#if defined(__FLT16_MAX__)
    const _Float16 h = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &h, 2);
    bad_half += float_to_half_bits(f) != want;
#endif
    const float b = bf16_reference(f);
    const uint16_t want_b = std::isinf(b) ? static_cast<uint16_t>((bits_of(f) >> 16 & 0x8000u) | 0x7F80u)
                                          : static_cast<uint16_t>(bits_of(b) >> 16);
    bad_bf16 += float_to_bfloat16_bits(f) != want_b;
  }
  CHECK(bad_half == 0, "%d float16 conversions differ", bad_half);
  CHECK(bad_bf16 == 0, "%d bfloat16 conversions differ", bad_bf16);
  CHECK(float_to_half_bits(65520.0f) == 0x7C00, "65520 rounds to infinity in float16");
  CHECK(float_to_half_bits(0x1p-25f) == 0x0000 && float_to_half_bits(0x1.8p-25f) == 0x0001, "float16 subnormal ties");
}

int main(int argc, char** argv) {
  const bool exhaustive = argc > 1 && std::strcmp(argv[1], "--exhaustive") == 0;
  test_philox_known_answers();
  test_philox_shared_high();
  test_uniform_grid();
  test_half_uniform();
  test_half_precision();
  test_log();
  test_quantile_f64();
  test_quantile_f32(exhaustive ? 1 : 127);
  test_quantile_tail_from_log();
  test_truncated_equals_normal_on_whole_line();
  test_truncated_modes();
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all core tests passed\n");
  return 0;
}
