// The inverse of the standard normal CDF, x = Phi^-1(p), for float and double lanes.
//
// Callers pass the lower-tail form, p <= 1/2, with its distance from the centre each computed as
// accurately as the caller can: float takes a = 1/2 - p (>= 0), double q = p - 1/2 (<= 0). Below
// the central region the argument is r = sqrt(-log p), which callers with a log-probability (far
// tails, where p itself underflows) pass directly to the tail entry.
//
// float (stream contract v2): central region p >= kQuantileF32CentralP (all but 0.124% of the
//         stream's uniforms): x = a Q(l), l = log2(4p(1-p)), Q a polynomial in l and the log a
//         polynomial of its own, both fitted by tools/fit_normal_quantile.py; three tail pieces
//         in r up to r = 27. Callers pass p and a times 2^33. Max error 2.61 ulp over every u of
//         the v2 grid, 2^31 values a side (tests/cpp/core_tests.cpp).
// double: Wichura's AS241 PPND16 rational approximations (Appl. Statist. 37, 1988),
//         central |q| <= 0.425, tail r <= 5 and r <= 27; about 1e-16 relative.
// Beyond r = 27 (x < -37.6, reachable only from log-probabilities) both solve the
// asymptotic expansion of the normal tail by fixed-point iteration.
#pragma once

#include "elementary.h"
#include "normal_quantile_f32_table.h"

DEEPINIT_CORE_NAMESPACE_BEGIN

// Rows of 4 (pieces: central, tail r <= 5, tail r <= 27, unused):
// the shift that makes the rational's argument, then a0..a7 and b0..b7 of num/den.
#define DEEPINIT_QUANTILE_F64_TABLE                                                                  \
  {                                                                                                  \
      0.180625, 1.6, 5.0, 0.0, /* shift */                                                           \
      3.387132872796366608, 1.42343711074968357734, 6.6579046435011037772, 0.0,                     \
      133.14166789178437745, 4.6303378461565452959, 5.4637849111641143699, 0.0,                     \
      1971.5909503065514427, 5.7694972214606914055, 1.7848265399172913358, 0.0,                     \
      13731.693765509461125, 3.64784832476320460504, 0.29656057182850489123, 0.0,                   \
      45921.953931549871457, 1.27045825245236838258, 0.026532189526576123093, 0.0,                  \
      67265.770927008700853, 0.24178072517745061177, 0.0012426609473880784386, 0.0,                 \
      33430.575583588128105, 0.0227238449892691845833, 2.71155556874348757815e-5, 0.0,              \
      2509.0809287301226727, 7.7454501427834140764e-4, 2.01033439929228813265e-7, 0.0,              \
      1.0, 1.0, 1.0, 0.0,                                                                            \
      42.313330701600911252, 2.05319162663775882187, 0.59983220655588793769, 0.0,                   \
      687.1870074920579083, 1.6763848301838038494, 0.13692988092273580531, 0.0,                     \
      5394.1960214247511077, 0.68976733498510000455, 0.0148753612908506148525, 0.0,                 \
      21213.794301586595867, 0.14810397642748007459, 7.868691311456132591e-4, 0.0,                  \
      39307.89580009271061, 0.0151986665636164571966, 1.8463183175100546818e-5, 0.0,                \
      28729.085735721942674, 5.475938084995344946e-4, 1.4215117583164458887e-7, 0.0,                \
      5226.495278852545925, 1.05075007164441684324e-9, 2.04426310338993978564e-15, 0.0,             \
  }
DEEPINIT_DEFINE_TABLE(double, kQuantileF64Table, 17 * 4, DEEPINIT_QUANTILE_F64_TABLE)
constexpr int kQuantileF64Degree = 7;
constexpr double kQuantileF64CentralLimit = 0.425;

// x = -z < -37 with Phi(x) = exp(-r^2): z^2 = 2 r^2 - log(2 pi) - 2 log z + 2 log S(z), where
// Phi(-z) = phi(z) S(z) / z and S(z) = 1 - z^-2 + 3 z^-4 - 15 z^-6 + ... . Each iteration
// shrinks the error by about z^-2 < 1e-3; the start sqrt(c - log c) is already within 2e-6.
template <class F>
DEEPINIT_HD F normal_quantile_deep_tail(F r) {
  constexpr bool f64 = is_f64_lane<F>;
  constexpr int iterations = f64 ? 3 : 2;
  const F c = fma_rn(F(2) * r, r, F(-1.8378770664093454836));
  F z = sqrt_rn(c - log_lane(c));
  for (int i = 0; i < iterations; ++i) {
    const F w = F(1) / (z * z);
    // S(z) - 1 = -w + 3w^2 - 15w^3 + ..., terms (2k-1)!! w^k, in Horner form.
    F series = f64 ? F(-135135.0) : F(-15.0);
    if constexpr (f64) {
      series = fma_rn(series, w, F(10395.0));
      series = fma_rn(series, w, F(-945.0));
      series = fma_rn(series, w, F(105.0));
      series = fma_rn(series, w, F(-15.0));
    }
    series = fma_rn(series, w, F(3.0));
    series = fma_rn(series, w, F(-1.0));
    series = series * w;
    z = sqrt_rn(fma_rn(F(2), log1p_nonpositive(series) - log_lane(z), c));
  }
  return -z;
}

// Out of line on the GPU: only far-tail log-space plans reach it, and inline it would make every
// tail evaluation's code (and register allocation) several times larger.
template <class F>
DEEPINIT_HD_COLD F normal_quantile_deep_tail_cold(F r) {
  return normal_quantile_deep_tail(r);
}

template <class F>
DEEPINIT_HD F with_deep_tail(F r, F x) {
  const auto deep = r >= F(kQuantileDeepTail);
  if (any(deep)) {
    x = select(deep, normal_quantile_deep_tail_cold(r), x);
  }
  return x;
}

// Float tail pieces: T(t), t = (r - mid) * inv_half, T of degree kQuantileF32Degree.
template <class F>
DEEPINIT_HD F quantile_f32_piece(F piece, F v) {
  const float* table = DEEPINIT_TABLE_DATA(kQuantileF32Table);
  const F t = (v - lookup_row(table, piece)) * lookup_row(table + 8, piece);
  F poly = lookup_row(table + 8 * (2 + kQuantileF32Degree), piece);
  for (int k = kQuantileF32Degree - 1; k >= 0; --k) {
    poly = fma_rn(poly, t, lookup_row(table + 8 * (2 + k), piece));
  }
  return poly;
}

// The float tail piece of r, 0 to 2: its column of kQuantileF32Table.
template <class F>
DEEPINIT_HD F quantile_f32_tail_piece(F r) {
  return select(r >= F(kQuantileF32Piece2Start), F(1), F(0)) + select(r >= F(kQuantileF32Piece3Start), F(1), F(0));
}

// The double tail piece normal_quantile_tail(r) evaluates: 1 (r <= 5) or 2 (r > 5).
template <class D>
DEEPINIT_HD D normal_quantile_tail_piece_f64(D r) {
  return select(r > D(5.0), D(2), D(1));
}

// Double pieces: x = (m * num(t)) / den(t), t = v - shift (central: shift - q^2).
template <class D>
DEEPINIT_HD D quantile_f64_rational(D piece, D t, D m) {
  const double* table = DEEPINIT_TABLE_DATA(kQuantileF64Table);
  D num = lookup_row(table + 4 * (1 + kQuantileF64Degree), piece);
  D den = lookup_row(table + 4 * (9 + kQuantileF64Degree), piece);
  for (int k = kQuantileF64Degree - 1; k >= 0; --k) {
    num = fma_rn(num, t, lookup_row(table + 4 * (1 + k), piece));
    den = fma_rn(den, t, lookup_row(table + 4 * (9 + k), piece));
  }
  return (m * num) / den;
}

// Phi^-1(p) for p = exp(-r^2) in the tail (r above the central region's end).
template <class F>
DEEPINIT_HD F normal_quantile_tail(F r) {
  F x;
  if constexpr (is_f64_lane<F>) {
    const F piece = normal_quantile_tail_piece_f64(r);
    x = quantile_f64_rational(piece, r - lookup_row(DEEPINIT_TABLE_DATA(kQuantileF64Table), piece), F(-1));
  } else {
    x = -quantile_f32_piece(quantile_f32_tail_piece(r), r);
  }
  return with_deep_tail(r, x);
}

// normal_quantile_tail in float64 for lanes whose r all lie in tail piece `piece` (1: r <= 5,
// 2: r > 5), known beforehand: the same operations, with the piece's coefficients as constants
// instead of looked up lane by lane, so the same bits.
template <class F>
DEEPINIT_HD F normal_quantile_tail_f64_piece(F r, int piece) {
  const double* table = DEEPINIT_TABLE_DATA(kQuantileF64Table);
  const F t = r - F(table[piece]);
  F num = F(table[4 * (1 + kQuantileF64Degree) + piece]);
  F den = F(table[4 * (9 + kQuantileF64Degree) + piece]);
  for (int k = kQuantileF64Degree - 1; k >= 0; --k) {
    num = fma_rn(num, t, F(table[4 * (1 + k) + piece]));
    den = fma_rn(den, t, F(table[4 * (9 + k) + piece]));
  }
  return with_deep_tail(r, (F(-1) * num) / den);
}


// The float tail from p times 2^33 (a log, a square root, a tail piece): out of line on the GPU,
// where 0.124% of a float fill's elements need it.
template <class F>
DEEPINIT_HD_COLD F quantile_f32_tail(F p33) {
  return normal_quantile_tail(sqrt_rn(-log_lane(p33 * F(0x1p-33f))));
}

// Float central piece from p and a times 2^33: y = 4p(1-p) = (2^33 p) (2^-32 + (2^33 a) 2^-64),
// y = 2^k (1 + f), l = log2 y = k + f S(f), x = (2^33 a) Q(l). y is formed as y 2^64 =
// (2^33 p)(2^32 + 2^33 a), the same roundings scaled by a power of two (every value normal),
// which log_reduce takes back: one constant fewer per element than the fma.
template <class F>
DEEPINIT_HD F quantile_f32_central(F p33, F a33) {
  const F y_times_2_64 = p33 * (a33 + F(0x1p32f));
  F k;
  const F f = log_reduce(y_times_2_64, k, 64) - F(1);
  return a33 * quantile_f32_central_polynomial(fma_rn(f, quantile_f32_log2_polynomial(f), k));
}

// Double: Phi^-1(1/2 + q) in the central region |q| <= 0.425, with the operations
// normal_quantile_lower applies there.
template <class D>
DEEPINIT_HD D normal_quantile_central_f64(D q) {
  const double* table = DEEPINIT_TABLE_DATA(kQuantileF64Table);
  const D t = fma_rn(-q, q, D(table[0]));
  D num = D(table[4 * (1 + kQuantileF64Degree)]);
  D den = D(table[4 * (9 + kQuantileF64Degree)]);
  for (int k = kQuantileF64Degree - 1; k >= 0; --k) {
    num = fma_rn(num, t, D(table[4 * (1 + k)]));
    den = fma_rn(den, t, D(table[4 * (9 + k)]));
  }
  return (q * num) / den;
}

// Whether a double q = p - 1/2 lies in the central region, where normal_quantile_central_f64 applies.
template <class D>
DEEPINIT_HD auto normal_quantile_is_central_f64(D q) {
  return q >= D(-kQuantileF64CentralLimit);
}

// Float Phi^-1(p) for p <= 1/2 from p and a = 1/2 - p times 2^33 (stream.h's half uniform).
// The central piece in every lane; where some lane's p lies below it, the tail (a log, a square
// root and a tail piece) for the lanes that need it.
template <class F>
DEEPINIT_HD F normal_quantile_lower_f32(F p33, F a33) {
  F x = quantile_f32_central(p33, a33);
  const auto tail = p33 < F(kQuantileF32CentralP * 0x1p33f);
  if (any(tail)) {
    x = select(tail, quantile_f32_tail(p33), x);
  }
  return x;
}

// Double Phi^-1(p) for p <= 1/2 (give or take rounding), q = p - 1/2. Every lane computes the
// tail's r; SIMD lanes of either region then share one evaluation through per-lane
// coefficients. Lane by lane this equals normal_quantile_central_f64(q) where
// normal_quantile_is_central_f64(q), and normal_quantile_tail(sqrt_rn(-log_lane(p))) elsewhere.
template <class D>
DEEPINIT_HD D normal_quantile_lower_f64(D p, D q) {
  const D r = sqrt_rn(-log_lane(p));
  const auto central = normal_quantile_is_central_f64(q);
  const D piece = select(central, D(0), select(r > D(5.0), D(2), D(1)));
  const D shift = lookup_row(DEEPINIT_TABLE_DATA(kQuantileF64Table), piece);
  const D t = select(central, fma_rn(-q, q, shift), r - shift);
  return with_deep_tail(r, quantile_f64_rational(piece, t, select(central, q, D(-1))));
}

DEEPINIT_CORE_NAMESPACE_END
