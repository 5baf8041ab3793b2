// The fills: each maps the stream's uniform u (a lane of F) to the value stored for it.
// Backends loop over elements, draw u from the stream and call one of these; nothing else
// about a fill's values lives anywhere else.
#pragma once

#include "truncated_normal.h"

namespace deepinit {
namespace core {

// Each law's parameters, computed on the host once per fill, as plain data: a job carries them to
// whichever kernel runs (compiled for another instruction set, or for the GPU), which makes the
// law's transform of them (transform_of).
template <class T>
struct UniformParams {
  T low;
  T span;  // high - low, rounded once to T
};

template <class T>
struct NormalParams {
  T mean;
  T std;
};

// The truncated normal's are its plan, TruncatedNormalPlan<T> (truncated_normal.h).

// Every law, by its parameters: the backends instantiate their kernels for each.
template <template <class> class... Params>
struct LawList {};
using Laws = LawList<UniformParams, NormalParams, TruncatedNormalPlan>;

}  // namespace core
}  // namespace deepinit

DEEPINIT_CORE_NAMESPACE_BEGIN

// x = low + span * u; two roundings, no fused multiply-add.
template <class T>
struct UniformTransform : UniformParams<T> {
  template <class F>
  DEEPINIT_HD F operator()(F u) const {
    return F(this->low) + F(this->span) * u;
  }
};

// Quantile fills (normal, and the truncated normal's kLinear plans) in three stages, so that a
// SIMD backend can gather the lanes that need the tail (a log and a square root) apart from the
// central ones:
//   const QuantileStage<F> s = transform.begin(u);  // p <= 1/2, q = p - 1/2, flip = +1 or -1
//   x = transform.finish(s.flip, normal_quantile_lower(s.p, s.q));
// operator() is exactly that composition whenever staged() is true. mostly_central() says
// whether splitting the lanes pays (it does not when every p lies in the tail).
template <class F>
struct QuantileStage {
  F p;
  F q;
  F flip;
};

// x = fma(std, Phi^-1(u), mean). Identical, bit for bit, to TruncatedNormalTransform on (-inf, inf).
template <class T>
struct NormalTransform : NormalParams<T> {
  DEEPINIT_HD bool staged() const { return true; }
  DEEPINIT_HD bool mostly_central() const { return true; }

  template <class F>
  DEEPINIT_HD QuantileStage<F> begin(F u) const {
    const auto lower = u <= F(0.5);
    const F p = select(lower, u, F(1) - u);  // exact on the stream's grid, as is p - 1/2
    return {p, p - F(0.5), select(lower, F(1), F(-1))};
  }

  template <class F>
  DEEPINIT_HD F finish(F flip, F x_lower) const {
    return fma_rn(F(this->std), flip * x_lower, F(this->mean));
  }

  template <class F>
  DEEPINIT_HD F operator()(F u) const {
    const QuantileStage<F> stage = begin(u);
    return finish(stage.flip, normal_quantile_lower(stage.p, stage.q));
  }
};

// The four ways a plan computes its values (truncated_normal.h): kLinear staged like
// NormalTransform, kLinear with every value in the lower tail, kNarrow and kLog.
enum class TruncatedNormalForm : int { kLinear, kLinearTail, kNarrow, kLog };

template <class T>
struct TruncatedNormalTransform {
  TruncatedNormalPlan<T> plan;

  DEEPINIT_HD bool staged() const { return plan.mode == TruncatedNormalMode::kLinear; }
  DEEPINIT_HD bool mostly_central() const { return !plan.tail_only; }

  DEEPINIT_HD TruncatedNormalForm form() const {
    switch (plan.mode) {
      case TruncatedNormalMode::kLinear:
        return plan.tail_only ? TruncatedNormalForm::kLinearTail : TruncatedNormalForm::kLinear;
      case TruncatedNormalMode::kNarrow:
        return TruncatedNormalForm::kNarrow;
      default:
        return TruncatedNormalForm::kLog;
    }
  }

  // kLinear only. The level in the plan's (possibly mirrored) frame and 1 minus it are exact.
  template <class F>
  DEEPINIT_HD QuantileStage<F> begin(F u) const {
    const F level = plan.mirrored ? F(1) - u : u;
    const F rest = plan.mirrored ? u : F(1) - u;
    const F delta = F(plan.delta);
    const F q_lower = fma_rn(level, delta, F(plan.q_lower));
    const auto lower = q_lower <= F(0);
    const F p = select(lower, fma_rn(level, delta, F(plan.p_lower)), fma_rn(rest, delta, F(plan.p_upper)));
    const F q = select(lower, q_lower, fma_rn(rest, delta, F(plan.q_upper)));
    return {p, q, select(lower, F(1), F(-1))};
  }

  template <class F>
  DEEPINIT_HD F finish(F flip, F x_lower) const {
    return clamp(fma_rn(F(plan.signed_std), flip * x_lower, F(plan.mean)));
  }

  // The value for plans of form Form (form() == Form): a backend that knows the form of a whole
  // fill can leave the other forms' code out.
  template <TruncatedNormalForm Form, class F>
  DEEPINIT_HD F evaluate(F u) const {
    if constexpr (Form == TruncatedNormalForm::kLinearTail) {
      // begin() and normal_quantile_lower with every lane in the lower tail: the same
      // operations less the ones whose results such lanes never use, so the same bits.
      const F level = plan.mirrored ? F(1) - u : u;
      const F p = fma_rn(level, F(plan.delta), F(plan.p_lower));
      const F r = sqrt_rn(-log_lane(p));
      F x;
      if constexpr (is_f64_lane<F>) {
        x = plan.tail_piece != 0 ? normal_quantile_tail_f64_piece(r, plan.tail_piece) : normal_quantile_tail(r);
      } else {
        x = normal_quantile_tail(r);
      }
      return clamp(fma_rn(F(plan.signed_std), x, F(plan.mean)));
    } else if constexpr (Form == TruncatedNormalForm::kLinear) {
      const QuantileStage<F> stage = begin(u);
      return finish(stage.flip, normal_quantile_lower(stage.p, stage.q));
    } else {
      const F level = plan.mirrored ? F(1) - u : u;
      const F rest = plan.mirrored ? u : F(1) - u;
      if constexpr (Form == TruncatedNormalForm::kNarrow) {
        const F tail_log = plan.tilt_small ? log1p_nonpositive(-(rest * F(plan.tilt_mass)))
                                           : log_lane(fma_rn(rest, F(plan.tilt_rest), level));
        return clamp(fma_rn(F(plan.scale), -tail_log, F(plan.anchor)));
      } else {
        const F log_p = F(plan.log_p_beta) + log_lane(fma_rn(rest, F(plan.mass_ratio), level));
        return clamp(fma_rn(F(plan.signed_std), normal_quantile_tail(sqrt_rn(-log_p)), F(plan.mean)));
      }
    }
  }

  template <class F>
  DEEPINIT_HD F operator()(F u) const {
    switch (form()) {
      case TruncatedNormalForm::kLinearTail:
        return evaluate<TruncatedNormalForm::kLinearTail>(u);
      case TruncatedNormalForm::kLinear:
        return evaluate<TruncatedNormalForm::kLinear>(u);
      case TruncatedNormalForm::kNarrow:
        return evaluate<TruncatedNormalForm::kNarrow>(u);
      default:
        return evaluate<TruncatedNormalForm::kLog>(u);
    }
  }

 private:
  template <class F>
  DEEPINIT_HD F clamp(F x) const {
    x = select(x < F(plan.lo), F(plan.lo), x);
    return select(x > F(plan.hi), F(plan.hi), x);
  }
};

// A truncated normal whose plan is known to be of form Form: the same values, one form's code.
template <class T, TruncatedNormalForm Form>
struct TruncatedNormalOfForm : TruncatedNormalTransform<T> {
  template <class F>
  DEEPINIT_HD F operator()(F u) const {
    return this->template evaluate<Form>(u);
  }
};

// The transform of a law's parameters.
template <class T>
DEEPINIT_HD UniformTransform<T> transform_of(const UniformParams<T>& params) {
  return {params};
}
template <class T>
DEEPINIT_HD NormalTransform<T> transform_of(const NormalParams<T>& params) {
  return {params};
}
template <class T>
DEEPINIT_HD TruncatedNormalTransform<T> transform_of(const TruncatedNormalPlan<T>& plan) {
  return {plan};
}

// Whether a transform has stages (begin, normal_quantile_lower and finish: the quantile fills).
template <class Transform, class = void>
constexpr bool kHasStages = false;
template <class Transform>
constexpr bool kHasStages<Transform, std::void_t<decltype(&Transform::staged)>> = true;

// Whether a fill runs `transform` in stages: the central piece of Phi^-1 in every lane and the
// tails (a log, a square root and another polynomial) only for the lanes that need them, packed
// together. Pays for quantile transforms whose values are mostly central.
template <class Transform>
DEEPINIT_HD bool runs_staged(const Transform& transform) {
  if constexpr (kHasStages<Transform>) {
    return transform.staged() && transform.mostly_central();
  } else {
    return false;
  }
}

DEEPINIT_CORE_NAMESPACE_END
