// The truncated normal as an exact inverse CDF: element x is the u-quantile of N(mean, std^2)
// restricted to [a, b], with one uniform per element and no rejection.
//
// The host turns (mean, std, a, b) into a plan once per call, in double precision. Working in
// standard units alpha = (a - mean) / std, beta = (b - mean) / std, it first mirrors the
// interval when most of it lies above the mean (so that the probabilities it stores are small
// where they matter), then picks one of four exact formulations:
//
//   kWhole   float, an interval that leaves out less than 2^-64 of the mass on either side (the
//            whole line; [-2, 2] with std 0.02): the normal itself, the same bits as normal_.
//   kLinear  p = Phi(alpha) + u (Phi(beta) - Phi(alpha)), with the upper half mirrored through
//            1 - u; x = Phi^-1(p). Used while these probabilities are normal numbers.
//   kLog     p underflows: log p = log Phi(beta) + log(u + (1 - u) Phi(alpha)/Phi(beta)),
//            x = tail quantile of sqrt(-log p). (The sum has no cancellation; 1 - u is exact.)
//   kNarrow  the interval is so narrow (or so far out) that the density is exp(lambda y) on it
//            to within rounding: x is the exponential quantile measured from the bound that
//            holds the mass, x = anchor + scale * -log(1 - (1 - u) G), G = 1 - exp(-lambda w),
//            evaluated as -log1p(-(1 - u) G) for G < 1/2 and as -log(u + (1 - u) (1 - G))
//            otherwise, so neither form cancels. This keeps full relative precision where
//            kLinear would quantize p.
//
// (u above is the level in the mirrored frame: 1 - u when the interval was mirrored, so that
// every x is the u-quantile of the distribution on [a, b] as the stream contract says. The
// 32-bit fills carry u as its lower side and which side it is, stream.h's half_uniform: the
// lower side exact, the upper rounded once.)
//
// Every x is finally clamped to [lo, hi], the bounds rounded inward to the output dtype.
#pragma once

#include "normal_quantile.h"

namespace deepinit {
namespace core {

// The plan is the law's parameters: plain data, which jobs carry across instruction sets.
enum class TruncatedNormalMode : int { kLinear = 0, kLog = 1, kNarrow = 2, kWhole = 3 };

template <class T>
struct TruncatedNormalPlan {
  TruncatedNormalMode mode;
  bool mirrored;  // the plan works on [-b, -a]: level u there is level 1 - u of [a, b]
  T mean;
  T signed_std;  // -std when the interval was mirrored
  T lo, hi;      // clamp bounds, representable in the output dtype
  // kLinear: lower-half and mirrored upper-half probabilities, and those minus 1/2.
  T p_lower, q_lower, p_upper, q_upper, delta;
  bool tail_only;  // kLinear with every p below the central region, with a margin for rounding
  int tail_piece;  // tail_only float64 plans: 1 or 2 if every p's r lies in that tail piece, else 0
  // kLog: log Phi(beta) and Phi(alpha) / Phi(beta)
  T log_p_beta, mass_ratio;
  // kNarrow: x = anchor + scale * L, L from G = tilt_mass or from 1 - G = tilt_rest
  bool tilt_small;  // G < 1/2: L = -log1p(-(1 - u) G), else L = -log(u + (1 - u) (1 - G))
  T anchor, scale, tilt_mass, tilt_rest;
};

}  // namespace core
}  // namespace deepinit

DEEPINIT_CORE_NAMESPACE_BEGIN

// Compute-type limits of the formulations (see plan_truncated_normal).
template <class T>
struct TruncatedNormalLimits;
template <>
struct TruncatedNormalLimits<float> {
  static constexpr double kNarrowWidth = 0x1p-8;   // dropped curvature moves x by <= w^3/8 < 0.13 ulp
  static constexpr double kCollapseTail = 512.0;   // beyond, all mass lies within 17/|beta| of beta
  static constexpr double kMinLinearMass = 0x1p-90;   // u * delta stays a normal float (u >= 2^-33)
};
template <>
struct TruncatedNormalLimits<double> {
  static constexpr double kNarrowWidth = 0x1p-15;
  static constexpr double kCollapseTail = 131072.0;
  static constexpr double kMinLinearMass = 0x1p-968;
};

namespace host {

constexpr double kInvSqrt2 = 0.70710678118654752440;

inline double normal_cdf(double x) { return 0.5 * std::erfc(-x * kInvSqrt2); }

// log Phi(x), accurate for any x <= 0: erfc while it is a normal number, then the asymptotic
// series log Phi(-z) = -z^2/2 - log z - log(2 pi)/2 + log S(z).
inline double log_normal_cdf(double x) {
  if (x > -30.0) {
    return std::log(normal_cdf(x));
  }
  const double w = 1.0 / (x * x);
  double series = 0.0;
  double term = 1.0;
  for (int k = 1; k <= 9; ++k) {
    term *= -(2 * k - 1) * w;
    series += term;
  }
  return -0.5 * x * x - std::log(-x) - 0.91893853320467274178 + std::log1p(series);
}

}  // namespace host

namespace host {

// kNarrow: density exp(lambda y) toward beta (y the standardised value, beta >= alpha after the
// mirror); from beta, x = beta - L((1-u) G) / lambda, L(t) = -log1p(-t), G = 1 - exp(-lambda
// width). `anchor` is beta's bound in x, `scale` std toward it.
template <class T>
void plan_tilted(TruncatedNormalPlan<T>& plan, double lambda, double width, double anchor, double scale) {
  double tilt_mass = -std::expm1(-lambda * width);  // G, 1 for an infinite width
  double reciprocal_rate;                           // width / L(G), which is 1/lambda
  if (lambda * width > 40.0) {
    tilt_mass = 1.0;
    reciprocal_rate = 1.0 / lambda;
  } else {
    // A flat density (lambda ~ 0) gives x = beta - (1-u) width through the same formula.
    tilt_mass = std::fmax(tilt_mass, 0x1p-60);
    reciprocal_rate = width / -std::log1p(-tilt_mass);
  }
  plan.mode = TruncatedNormalMode::kNarrow;
  plan.anchor = static_cast<T>(anchor);
  plan.scale = static_cast<T>(scale * reciprocal_rate);
  plan.tilt_small = tilt_mass < 0.5;
  plan.tilt_mass = static_cast<T>(tilt_mass);
  plan.tilt_rest = static_cast<T>(tilt_mass == 1.0 ? 0.0 : std::exp(-lambda * width));
}

// kLinear: the quantile of p_alpha + u delta, delta the mass in [alpha, beta].
template <class T>
void plan_linear(TruncatedNormalPlan<T>& plan, double alpha, double beta, double p_alpha, double delta) {
  plan.mode = TruncatedNormalMode::kLinear;
  plan.p_lower = static_cast<T>(p_alpha);
  plan.q_lower = static_cast<T>(0.5 * std::erf(alpha * kInvSqrt2));
  plan.p_upper = static_cast<T>(normal_cdf(-beta));
  plan.q_upper = static_cast<T>(-0.5 * std::erf(beta * kInvSqrt2));
  plan.delta = static_cast<T>(delta);
  const double central_start = std::is_same_v<T, double> ? 0.5 - kQuantileF64CentralLimit
                                                         : static_cast<double>(kQuantileF32CentralP);
  plan.tail_only = p_alpha + delta < 0.99 * central_start;
  if (std::is_same_v<T, double> && plan.tail_only) {
    // r = sqrt(-log p) falls as p grows; the pieces meet at r = 5. A relative margin of 1e-9
    // covers the rounding of p, of the log and of the square root in the kernels.
    const double r_max = p_alpha > 0.0 ? std::sqrt(-std::log(p_alpha)) : HUGE_VAL;
    const double r_min = std::sqrt(-std::log(p_alpha + delta));
    plan.tail_piece = r_max < 5.0 * (1.0 - 1e-9) ? 1 : r_min > 5.0 * (1.0 + 1e-9) ? 2 : 0;
  }
}

}  // namespace host

// Requires std > 0, finite mean and std, a < b (either may be infinite), and
// lo <= hi: the bounds already rounded inward to the output dtype.
template <class T>
TruncatedNormalPlan<T> plan_truncated_normal(double mean, double std, double a, double b, double lo, double hi) {
  using Limits = TruncatedNormalLimits<T>;
  double alpha = (a - mean) / std;
  double beta = (b - mean) / std;
  // Mirror so that the mass sits at or below the mean: alpha + beta <= 0 afterwards.
  const bool mirrored = alpha + beta > 0.0;  // false for (-inf, inf)
  if (mirrored) {
    const double t = alpha;
    alpha = -beta;
    beta = -t;
  }
  const double width = beta - alpha;

  TruncatedNormalPlan<T> plan{};
  plan.mirrored = mirrored;
  plan.mean = static_cast<T>(mean);
  plan.signed_std = static_cast<T>(mirrored ? -std : std);
  plan.lo = static_cast<T>(lo);
  plan.hi = static_cast<T>(hi);
  // Float plans whose interval leaves out less than 2^-64 of the mass on either side are the
  // normal: every stream p (>= 2^-33) moves by less than a relative 2^-30 under the truncation,
  // and no value (|x| <= 6.4 std) reaches a bound. (In float64, kLinear on the whole line is the
  // normal bit for bit already.)
  if (std::is_same_v<T, float> && host::normal_cdf(alpha) < 0x1p-64 && host::normal_cdf(-beta) < 0x1p-64) {
    plan.mode = TruncatedNormalMode::kWhole;
    plan.mirrored = false;
    plan.signed_std = static_cast<T>(std);
    return plan;
  }

  const bool narrow = width <= Limits::kNarrowWidth;
  if (narrow || beta <= -Limits::kCollapseTail) {
    host::plan_tilted(plan, narrow ? -0.5 * (alpha + beta) : -beta, width, mirrored ? a : b, mirrored ? std : -std);
    return plan;
  }

  const double p_alpha = host::normal_cdf(alpha);
  const double delta = beta <= 0.0 ? host::normal_cdf(beta) - p_alpha
                                   : 0.5 * (std::erf(beta * host::kInvSqrt2) - std::erf(alpha * host::kInvSqrt2));
  if (delta >= Limits::kMinLinearMass) {
    host::plan_linear(plan, alpha, beta, p_alpha, delta);
    return plan;
  }

  // Both bounds deep in the lower tail (beta < -10.8 in float, < -37 in double).
  const double log_p_beta = host::log_normal_cdf(beta);
  plan.mode = TruncatedNormalMode::kLog;
  plan.log_p_beta = static_cast<T>(log_p_beta);
  plan.mass_ratio = static_cast<T>(std::exp(host::log_normal_cdf(alpha) - log_p_beta));
  return plan;
}

DEEPINIT_CORE_NAMESPACE_END
