// The fills: each maps the stream's uniform u (a lane of F) to the value stored for it.
// Backends loop over elements, draw u from the stream and call one of these; nothing else
// about a fill's values lives anywhere else.
#pragma once

#include "stream.h"
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

// Every transform maps an element's random bits (BitsOf<T> lanes: 32-bit words for float,
// 64-bit for double; stream.h) to the value stored for it.

// x = low + span * u; two roundings, no fused multiply-add.
template <class T>
struct UniformTransform : UniformParams<T> {
  template <class Bits>
  DEEPINIT_HD auto operator()(Bits r) const {
    if constexpr (std::is_same_v<T, double>) {
      const auto u = uniform_f64_from_bits(r);
      using F = std::decay_t<decltype(u)>;
      return F(this->low) + F(this->span) * u;
    } else {
      const auto u = uniform_f32_from_bits(r);
      using F = std::decay_t<decltype(u)>;
      return F(this->low) + F(this->span) * u;
    }
  }
};

// Float64 quantile fills (normal, and the truncated normal's kLinear plans) in three stages, so
// that a SIMD backend can gather the lanes that need the tail (a log and a square root) apart
// from the central ones:
//   const QuantileStage<D> s = transform.begin(r);  // p <= 1/2, q = p - 1/2, flip = +1 or -1
//   x = transform.finish(s.flip, normal_quantile_lower_f64(s.p, s.q));
// operator() is exactly that composition whenever staged() is true. mostly_central() says
// whether splitting the lanes pays (it does not when every p lies in the tail). Float fills
// (stream contract v2) leave the central piece for 0.124% of their values and run unstaged.
template <class F>
struct QuantileStage {
  F p;
  F q;
  F flip;
};

// x = fma(std, Phi^-1(u), mean). Identical, bit for bit, to TruncatedNormalTransform on (-inf, inf).
template <class T>
struct NormalTransform : NormalParams<T> {
  static constexpr bool kStages = std::is_same_v<T, double>;
  DEEPINIT_HD bool staged() const { return kStages; }
  DEEPINIT_HD bool mostly_central() const { return true; }

  template <class Bits>
  DEEPINIT_HD auto begin(Bits r) const {
    const auto u = uniform_f64_from_bits(r);
    using D = std::decay_t<decltype(u)>;
    const auto lower = u <= D(0.5);
    const D p = select(lower, u, D(1) - u);  // exact on the stream's grid, as is p - 1/2
    return QuantileStage<D>{p, p - D(0.5), select(lower, D(1), D(-1))};
  }

  template <class D>
  DEEPINIT_HD D finish(D flip, D x_lower) const {
    return fma_rn(D(this->std), flip * x_lower, D(this->mean));
  }

  template <class Bits>
  DEEPINIT_HD auto operator()(Bits r) const {
    if constexpr (kStages) {
      const auto stage = begin(r);
      return finish(stage.flip, normal_quantile_lower_f64(stage.p, stage.q));
    } else {
      const auto half = half_uniform(r);
      using F = decltype(half.p);
      const F x_lower = normal_quantile_lower_f32(half.p, half.a);
      return fma_rn(F(this->std), negate_where_top_bit(x_lower, r), F(this->mean));
    }
  }
};

// The five ways a plan computes its values (truncated_normal.h): kLinear (staged like
// NormalTransform in float64), kLinear with every value in the lower tail, kNarrow, kLog, and
// kWhole (the normal itself).
enum class TruncatedNormalForm : int { kLinear, kLinearTail, kNarrow, kLog, kWhole };

template <class T>
struct TruncatedNormalTransform {
  static constexpr bool kStages = std::is_same_v<T, double>;
  TruncatedNormalPlan<T> plan;

  DEEPINIT_HD bool staged() const { return kStages && plan.mode == TruncatedNormalMode::kLinear; }
  DEEPINIT_HD bool mostly_central() const { return !plan.tail_only; }

  DEEPINIT_HD TruncatedNormalForm form() const {
    switch (plan.mode) {
      case TruncatedNormalMode::kLinear:
        return plan.tail_only ? TruncatedNormalForm::kLinearTail : TruncatedNormalForm::kLinear;
      case TruncatedNormalMode::kNarrow:
        return TruncatedNormalForm::kNarrow;
      case TruncatedNormalMode::kWhole:
        return TruncatedNormalForm::kWhole;
      default:
        return TruncatedNormalForm::kLog;
    }
  }

  // kLinear: p <= 1/2 and q = p - 1/2 of the quantile, and which half of the interval's mass
  // the level falls in. The level is u in the plan's (possibly mirrored) frame.
  template <class Bits>
  DEEPINIT_HD auto begin(Bits r) const {
    const auto sides = levels_of(r);
    using F = decltype(sides.u);
    const F level = sides.u;
    const F rest = sides.rest;
    const F delta = F(plan.delta);
    const F q_lower = fma_rn(level, delta, F(plan.q_lower));
    const auto lower = q_lower <= F(0);
    const F p = select(lower, fma_rn(level, delta, F(plan.p_lower)), fma_rn(rest, delta, F(plan.p_upper)));
    const F q = select(lower, q_lower, fma_rn(rest, delta, F(plan.q_upper)));
    return QuantileStage<F>{p, q, select(lower, F(1), F(-1))};
  }

  template <class F>
  DEEPINIT_HD F finish(F flip, F x_lower) const {
    return clamp(fma_rn(F(plan.signed_std), flip * x_lower, F(plan.mean)));
  }

  // The value for plans of form Form (form() == Form): a backend that knows the form of a whole
  // fill can leave the other forms' code out.
  template <TruncatedNormalForm Form, class Bits>
  DEEPINIT_HD auto evaluate(Bits r) const {
    if constexpr (Form == TruncatedNormalForm::kWhole) {
      return NormalTransform<T>{{plan.mean, plan.signed_std}}(r);
    } else if constexpr (Form == TruncatedNormalForm::kLinear) {
      const auto stage = begin(r);
      if constexpr (kStages) {
        return finish(stage.flip, normal_quantile_lower_f64(stage.p, stage.q));
      } else {
        using F = decltype(stage.p);
        return finish(stage.flip, normal_quantile_lower_f32(stage.p * F(0x1p33f), stage.q * F(-0x1p33f)));
      }
    } else {
      const auto sides = levels_of(r);
      using F = decltype(sides.u);
      const F level = sides.u;
      const F rest = sides.rest;
      if constexpr (Form == TruncatedNormalForm::kLinearTail) {
        // begin() and the quantile with every lane in the lower tail: the same operations less
        // the ones whose results such lanes never use, so the same bits.
        const F p = fma_rn(level, F(plan.delta), F(plan.p_lower));
        const F r_tail = sqrt_rn(-log_lane(p));
        F x;
        if constexpr (is_f64_lane<F>) {
          x = plan.tail_piece != 0 ? normal_quantile_tail_f64_piece(r_tail, plan.tail_piece) : normal_quantile_tail(r_tail);
        } else {
          x = normal_quantile_tail(r_tail);
        }
        return clamp(fma_rn(F(plan.signed_std), x, F(plan.mean)));
      } else if constexpr (Form == TruncatedNormalForm::kNarrow) {
        const F tail_log = plan.tilt_small ? log1p_nonpositive(-(rest * F(plan.tilt_mass)))
                                           : log_lane(fma_rn(rest, F(plan.tilt_rest), level));
        return clamp(fma_rn(F(plan.scale), -tail_log, F(plan.anchor)));
      } else {
        const F log_p = F(plan.log_p_beta) + log_lane(fma_rn(rest, F(plan.mass_ratio), level));
        return clamp(fma_rn(F(plan.signed_std), normal_quantile_tail(sqrt_rn(-log_p)), F(plan.mean)));
      }
    }
  }

  template <class Bits>
  DEEPINIT_HD auto operator()(Bits r) const {
    switch (form()) {
      case TruncatedNormalForm::kLinearTail:
        return evaluate<TruncatedNormalForm::kLinearTail>(r);
      case TruncatedNormalForm::kLinear:
        return evaluate<TruncatedNormalForm::kLinear>(r);
      case TruncatedNormalForm::kNarrow:
        return evaluate<TruncatedNormalForm::kNarrow>(r);
      case TruncatedNormalForm::kWhole:
        return evaluate<TruncatedNormalForm::kWhole>(r);
      default:
        return evaluate<TruncatedNormalForm::kLog>(r);
    }
  }

 private:
  // The level u in the plan's frame (1 - u of [a, b] when the interval was mirrored) and 1 - u.
  template <class Bits>
  DEEPINIT_HD auto levels_of(Bits r) const {
    if constexpr (kStages) {
      const auto sides = uniform_sides_f64(r);
      using F = decltype(sides.u);
      return UniformSides<F>{plan.mirrored ? sides.rest : sides.u, plan.mirrored ? sides.u : sides.rest};
    } else {
      return uniform_sides_f32(r, plan.mirrored ? 0x80000000u : 0u);
    }
  }

  template <class F>
  DEEPINIT_HD F clamp(F x) const {
    x = select(x < F(plan.lo), F(plan.lo), x);
    return select(x > F(plan.hi), F(plan.hi), x);
  }
};

// A truncated normal whose plan is known to be of form Form: the same values, one form's code.
template <class T, TruncatedNormalForm Form>
struct TruncatedNormalOfForm : TruncatedNormalTransform<T> {
  template <class Bits>
  DEEPINIT_HD auto operator()(Bits r) const {
    return this->template evaluate<Form>(r);
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

// Whether a transform has stages (begin, the quantile and finish: the float64 quantile fills).
template <class Transform, class = void>
constexpr bool kHasStages = false;
template <class Transform>
constexpr bool kHasStages<Transform, std::void_t<decltype(Transform::kStages)>> = Transform::kStages;

// Whether a fill runs `transform` in stages: the central piece of Phi^-1 in every lane and the
// tails (a log, a square root and another polynomial) only for the lanes that need them, packed
// together. Pays for float64 quantile transforms whose values are mostly central (15% of a
// normal's values lie outside the central piece).
template <class Transform>
DEEPINIT_HD bool runs_staged(const Transform& transform) {
  if constexpr (kHasStages<Transform>) {
    return transform.staged() && transform.mostly_central();
  } else {
    return false;
  }
}

DEEPINIT_CORE_NAMESPACE_END
