"""Fit the float32 inverse normal CDF of stream contract v2 and write csrc/core/normal_quantile_f32_table.h.

The float32 quantile Phi^-1(p), p <= 1/2, is evaluated from p and a = 1/2 - p, each given
times 2^33 (stream.h's half uniform), in float32 with fused multiply-adds at the places written,
in the same order on every backend (normal_quantile.h):

    central, p >= P_CENTRAL:  l = log2(4 p (1 - p)) <= 0,  x = (2^33 a) * Q(l),  Q a polynomial in
        l (Horner) whose coefficients carry the factor 2^-33 and the signs (x < 0, l < 0); the
        log from y = 4p(1-p) = 2^k (1 + f), 1 + f in [sqrt(1/2), sqrt(2)): l = k + f S(f)
    tail piece j, r = sqrt(-log p) in [r_j, r_j+1]:  x = -T_j(t),  t = (r - mid_j) * inv_half_j

P, S and the T_j are relative (S: absolute) minimax fits (Lawson's iteratively reweighted least
squares) against scipy.special.ndtri / ndtri_exp in float64; their coefficients are rounded to
float32 from the highest degree down, each rounding followed by a refit of the lower ones, so
that the rounded polynomial is as good as the fit allows. Past the last tail piece the core
switches to an asymptotic expansion (normal_quantile.h).

P_CENTRAL is where 4p(1-p) = e^-6: 0.124% of the stream's uniforms (both tails) leave the
central piece, rarely enough that SIMD registers and GPU warps almost never run the tail.

The coefficients are data, not code: rerun this script and commit its output to change them.
Usage: python tools/fit_normal_quantile.py > csrc/core/normal_quantile_f32_table.h
"""

import numpy as np
from scipy.special import ndtri, ndtri_exp

W_CENTRAL = 6.0  # the central piece: -log(4p(1-p)) up to this
P_CENTRAL = float(np.float32(np.exp(-W_CENTRAL) / (2 * (1 + np.sqrt(-np.expm1(-W_CENTRAL))))))
V_FIT = float(-np.log2(4 * P_CENTRAL * (1 - P_CENTRAL))) + 0.01  # a margin for the rounding of v
CENTRAL_DEGREE = 10
LOG_DEGREE = 7
# Tail pieces in r = sqrt(-log p); the first starts where the central piece ends.
TAIL_DEGREE = 9
TAIL_BREAKS = [float(np.sqrt(-np.log(P_CENTRAL))), 4.1, 9.5, 27.0]
SAMPLES = 30000


def _weighted_fit(columns, y, scale, iterations):
    """Coefficients minimising max |columns @ c - y| * scale (Lawson's IRLS)."""
    weights = np.full(len(y), 1.0 / len(y))
    for _ in range(iterations):
        root = np.sqrt(weights) * scale
        coef, *_ = np.linalg.lstsq(columns * root[:, None], y * root, rcond=None)
        err = np.abs(columns @ coef - y) * scale
        weights = weights * err + 1e-300
        weights /= weights.sum()
    return coef, float(err.max())


def fit_rounded(x, y, degree, relative=True, iterations=400):
    """Polynomial in x, coefficients rounded to float32 from the top degree down, each rounding
    followed by a refit of the rest; returns the float32 coefficients and the max error of
    the rounded polynomial in float64 (relative or absolute)."""
    vander = np.vander(x, degree + 1, increasing=True)
    scale = 1.0 / np.abs(y) if relative else np.ones_like(y)
    fixed = {}
    for k in range(degree, -1, -1):
        free = [j for j in range(degree + 1) if j not in fixed]
        rest = y - sum(c * vander[:, j] for j, c in fixed.items())
        coef, _ = _weighted_fit(vander[:, free], rest, scale, iterations)
        fixed[k] = np.float32(coef[free.index(k)])
    c32 = np.array([fixed[j] for j in range(degree + 1)], dtype=np.float32)
    err = float(np.max(np.abs(vander @ c32.astype(np.float64) - y) * scale))
    return c32, err


def fit_central():
    """Q(l) = 2^-33 Phi^-1(p) / a on l = log2(4p(1-p)) in [-V_FIT, 0]: fitted as P(v) = -Q(-v) on
    v's float32 grid, as the kernels compute it. (Scaling by a power of two and flipping signs are
    exact: the rounded coefficients of Q are those of the fit times -2^-33 (-1)^k.)"""
    v = np.unique(np.concatenate([np.linspace(1e-7, V_FIT, SAMPLES),
                                  V_FIT / 2 - V_FIT / 2 * np.cos(np.linspace(0, np.pi, SAMPLES))]))
    v = np.unique(v.astype(np.float32)).astype(np.float64)
    v = v[v > 0]
    w = v * np.log(2)
    s = np.sqrt(-np.expm1(-w))  # 2a
    p = np.exp(-w) / (2 * (1 + s))  # (1 - s) / 2 without cancellation
    coef, err = fit_rounded(v, ndtri(p) / -(s / 2), CENTRAL_DEGREE)
    signs = np.array([-(-1.0) ** k for k in range(len(coef))], dtype=np.float32)
    return (coef * signs * np.float32(2.0**-33)).astype(np.float32), err


def fit_log():
    """S(f) with log2(1 + f) = f S(f) on the reduced mantissa range, absolute error of the log."""
    f = np.linspace(np.sqrt(0.5) - 1, np.sqrt(2) - 1, SAMPLES)
    f = f[np.abs(f) > 1e-6]
    target = np.log1p(f) / np.log(2) / f
    vander = np.vander(f, LOG_DEGREE + 1, increasing=True)
    fixed = {}
    for k in range(LOG_DEGREE, -1, -1):
        free = [j for j in range(LOG_DEGREE + 1) if j not in fixed]
        rest = target - sum(c * vander[:, j] for j, c in fixed.items())
        coef, _ = _weighted_fit(vander[:, free], rest, np.abs(f), 400)
        fixed[k] = np.float32(coef[free.index(k)])
    c32 = np.array([fixed[j] for j in range(LOG_DEGREE + 1)], dtype=np.float32)
    err = float(np.max(np.abs(vander @ c32.astype(np.float64) - target) * np.abs(f)))
    return c32, err


def fit_tails():
    pieces = []
    for r_lo, r_hi in zip(TAIL_BREAKS[:-1], TAIL_BREAKS[1:]):
        r = np.linspace(r_lo, r_hi, SAMPLES)
        mid, half = np.float32((r_lo + r_hi) / 2), np.float32((r_hi - r_lo) / 2)
        inv_half = np.float32(1 / half)
        t = (r - np.float64(mid)) * np.float64(inv_half)
        coef, err = fit_rounded(t, -ndtri_exp(-r * r), TAIL_DEGREE)
        pieces.append((r_lo, r_hi, mid, inv_half, coef, err))
    return pieces


def f32(x):
    return f"{float(np.float32(x)):.9e}f"


def horner(name, x, coefficients):
    """A table of the coefficients (constant memory on the GPU, whose entries are instructions'
    operands) and a function of float lanes that evaluates the polynomial by Horner's rule."""
    table = f"k{''.join(w.capitalize() for w in name.split('_'))}"
    init = "{" + ", ".join(f32(c) for c in coefficients) + "}"
    n = len(coefficients)
    macro = f"DEEPINIT_{name.upper()}"
    lines = [f"#define {macro} {init}", f"DEEPINIT_DEFINE_TABLE(float, {table}, {n}, {macro})",
             "template <class F>", f"DEEPINIT_HD F {name}(F {x}) {{",
             f"  const float* c = DEEPINIT_TABLE_DATA({table});", f"  F p = F(c[{n - 1}]);",
             "#if defined(__CUDA_ARCH__) || defined(__clang__)", "#pragma unroll",
             "#elif defined(__GNUC__)", f"#pragma GCC unroll {n}", "#endif",
             f"  for (int k = {n - 2}; k >= 0; --k) {{", f"    p = fma_rn(p, {x}, F(c[k]));", "  }",
             "  return p;", "}"]
    return "\n".join(lines)


def main():
    central, central_err = fit_central()
    log, log_err = fit_log()
    tails = fit_tails()
    print("// Generated by tools/fit_normal_quantile.py: do not edit by hand.")
    print("// Float32 inverse normal CDF of stream contract v2; normal_quantile.h says how it is evaluated.")
    print("#pragma once")
    print()
    print('#include "scalar_lanes.h"')
    print()
    print("DEEPINIT_CORE_NAMESPACE_BEGIN")
    print()
    print(f"// Central piece: p >= kQuantileF32CentralP, x = (2^33 a) Q(l), l = log2(4p(1-p)) >= {-V_FIT:.4f}.")
    print(f"constexpr float kQuantileF32CentralP = {f32(P_CENTRAL)};")
    print()
    print(f"// Q(l), Horner in l; max relative error after rounding, in float64: {central_err:.2e}.")
    print(horner("quantile_f32_central_polynomial", "l", central))
    print()
    print(f"// S(f) with log2(1 + f) = f S(f), 1 + f in [sqrt(1/2), sqrt(2)); max absolute error of the")
    print(f"// log, in float64: {log_err:.2e}.")
    print(horner("quantile_f32_log2_polynomial", "f", log))
    print()
    print(f"constexpr int kQuantileF32Degree = {TAIL_DEGREE};")
    print("// r = sqrt(-log p) at which tail pieces 2 and 3 start (piece 1 starts at the central piece's end).")
    for i, b in enumerate(TAIL_BREAKS[1:-1]):
        print(f"constexpr float kQuantileF32Piece{i + 2}Start = {f32(b)};")
    print("// r past which both precisions use the asymptotic expansion (normal_quantile.h).")
    print(f"constexpr double kQuantileDeepTail = {TAIL_BREAKS[-1]!r};")
    print()
    print("// Max relative error of each tail piece after rounding, in float64:")
    for r_lo, r_hi, *_, err in tails:
        print(f"//   r in [{r_lo:.4f}, {r_hi:.4f}]: {err:.2e}")
    print("// Row-major [row][piece]: rows mid, inv_half, then coefficients of t^0..t^DEGREE;")
    print("// pieces: tail 1..3, padded to 8 so a row is one 8-lane table lookup (index = piece - 1).")
    rows = [("mid", [p[2] for p in tails]), ("inv_half", [p[3] for p in tails])]
    rows += [(f"c{k}", [p[4][k] for p in tails]) for k in range(TAIL_DEGREE + 1)]
    print(f"constexpr int kQuantileF32Rows = {len(rows)};")
    print("#define DEEPINIT_QUANTILE_F32_TABLE \\")
    print("  {  \\")
    for name, vals in rows:
        vals = list(vals) + [0.0] * (8 - len(vals))
        print("    " + ", ".join(f32(v) for v in vals) + f",  /* {name} */ \\")
    print("  }")
    print("DEEPINIT_DEFINE_TABLE(float, kQuantileF32Table, kQuantileF32Rows * 8, DEEPINIT_QUANTILE_F32_TABLE)")
    print()
    print("DEEPINIT_CORE_NAMESPACE_END")


if __name__ == "__main__":
    main()
