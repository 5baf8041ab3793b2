// Natural logarithm and log1p for float and double lanes, written with +, -, *, / only so
// that every backend gets the same bits as the others (a libm call would not).
//
// float:  Cephes logf (S. L. Moshier): x = m 2^k with m in [sqrt(1/2), sqrt(2)),
//         log(m) = f - f^2/2 + f^3 P(f), f = m - 1, P of degree 8; under 1 ulp on our inputs.
// double: fdlibm's log (Sun Microsystems, 1993): s = f / (2 + f),
//         log(m) = f - f^2/2 + s (f^2/2 + R(s^2)); under 1 ulp.
// Polynomials use fused multiply-adds (fma_rn), at the places written, on every backend.
// Precondition of both: x positive, finite and normal (every caller in the core has x >= 2^-126).
#pragma once

#include "scalar_lanes.h"

DEEPINIT_CORE_NAMESPACE_BEGIN

template <class F>
DEEPINIT_HD F log_f32(F x) {
  F k;
  const F f = log_reduce(x, k) - 1.0f;
  const F z = f * f;
  F p = F(7.0376836292e-2f);
  p = fma_rn(p, f, F(-1.1514610310e-1f));
  p = fma_rn(p, f, F(1.1676998740e-1f));
  p = fma_rn(p, f, F(-1.2420140846e-1f));
  p = fma_rn(p, f, F(1.4249322787e-1f));
  p = fma_rn(p, f, F(-1.6668057665e-1f));
  p = fma_rn(p, f, F(2.0000714765e-1f));
  p = fma_rn(p, f, F(-2.4999993993e-1f));
  p = fma_rn(p, f, F(3.3333331174e-1f));
  F y = f * (z * p);
  y = fma_rn(k, F(-2.12194440e-4f), y);  // ln 2 split as 0.693359375 - 2.12194440e-4
  y = fma_rn(F(-0.5f), z, y);
  return fma_rn(k, F(0.693359375f), f + y);
}

template <class D>
DEEPINIT_HD D log_f64(D x) {
  D k;
  const D f = log_reduce(x, k) - 1.0;
  const D half_f2 = 0.5 * f * f;
  const D s = f / (2.0 + f);
  const D z = s * s;
  const D w = z * z;
  const D t1 = w * fma_rn(w, fma_rn(w, D(1.531383769920937332e-01), D(2.222219843214978396e-01)),
                          D(3.999999999940941908e-01));
  const D t2 = z * fma_rn(w, fma_rn(w, fma_rn(w, D(1.479819860511658591e-01), D(1.818357216161805012e-01)),
                                     D(2.857142874366239149e-01)),
                          D(6.666666666666735130e-01));
  const D r = t2 + t1;
  // ln 2 = 6.93147180369123816490e-01 + 1.90821492927058770002e-10
  return fma_rn(k, D(6.93147180369123816490e-01),
                (fma_rn(s, half_f2 + r, k * D(1.90821492927058770002e-10)) - half_f2) + f);
}

template <class F>
DEEPINIT_HD F log_lane(F x) {
  if constexpr (is_f64_lane<F>) {
    return log_f64(x);
  } else {
    return log_f32(x);
  }
}

// log(1 + y) for y in (-1, 0]: 1 + y is exact or corrected by (y - (w - 1)) / w.
template <class F>
DEEPINIT_HD F log1p_nonpositive(F y) {
  const F w = F(1) + y;
  return log_lane(w) + (y - (w - F(1))) / w;
}

DEEPINIT_CORE_NAMESPACE_END
