// The fills: each maps the stream's uniform u (a lane of F) to the value stored for it.
// Backends loop over elements, draw u from the stream and call one of these; nothing else
// about a fill's values lives anywhere else.
#pragma once

#include "truncated_normal.h"

DEEPINIT_CORE_NAMESPACE_BEGIN

// x = low + span * u, span = high - low rounded once to T; two roundings, no fused multiply-add.
template <class T>
struct UniformTransform {
  T low;
  T span;

  template <class F>
  DEEPINIT_HD F operator()(F u) const {
    return F(low) + F(span) * u;
  }
};

// x = fma(std, Phi^-1(u), mean). Identical, bit for bit, to TruncatedNormalTransform on (-inf, inf).
template <class T>
struct NormalTransform {
  T mean;
  T std;

  template <class F>
  DEEPINIT_HD F operator()(F u) const {
    return fma_rn(F(std), normal_quantile(u), F(mean));
  }
};

template <class T>
struct TruncatedNormalTransform {
  TruncatedNormalPlan<T> plan;

  template <class F>
  DEEPINIT_HD F operator()(F u) const {
    // The level in the plan's (possibly mirrored) frame, and 1 minus it; both exact.
    const F level = plan.mirrored ? F(1) - u : u;
    const F rest = plan.mirrored ? u : F(1) - u;
    F x;
    if (plan.mode == TruncatedNormalMode::kNarrow) {
      const F tail_log = plan.tilt_small ? log1p_nonpositive(-(rest * F(plan.tilt_mass)))
                                         : log_lane(fma_rn(rest, F(plan.tilt_rest), level));
      x = fma_rn(F(plan.scale), -tail_log, F(plan.anchor));
    } else {
      F standard;
      if (plan.mode == TruncatedNormalMode::kLinear) {
        const F delta = F(plan.delta);
        const F q_lower = fma_rn(level, delta, F(plan.q_lower));
        const auto lower = q_lower <= F(0);
        const F p = select(lower, fma_rn(level, delta, F(plan.p_lower)), fma_rn(rest, delta, F(plan.p_upper)));
        const F q = select(lower, q_lower, fma_rn(rest, delta, F(plan.q_upper)));
        const F x_lower = normal_quantile_lower(p, q);
        standard = select(lower, x_lower, -x_lower);
      } else {
        const F log_p = F(plan.log_p_beta) + log_lane(fma_rn(rest, F(plan.mass_ratio), level));
        standard = normal_quantile_tail(sqrt_rn(-log_p));
      }
      x = fma_rn(F(plan.signed_std), standard, F(plan.mean));
    }
    x = select(x < F(plan.lo), F(plan.lo), x);
    return select(x > F(plan.hi), F(plan.hi), x);
  }
};

DEEPINIT_CORE_NAMESPACE_END
