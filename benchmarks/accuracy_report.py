"""Truncated-normal accuracy, side by side: deepinit, the installed torch.nn.init, the seed's
method (DeePMD-kit's uniform -> erfinv -> clamp, run in the tensor's dtype) and scipy.

For each case it draws N values with each method and prints a Markdown table: sample mean and
std against the exact ones, the fraction of values equal to a bound (against what rounding the
exact law to the dtype puts there), the Kolmogorov-Smirnov distance to the exact law, and the
time per element. docs/accuracy.md holds its output.

    python benchmarks/accuracy_report.py [--n 1000000]
"""

import argparse
import math
import time
import warnings

import numpy as np
import scipy.stats
import torch
import torch.nn.init as tinit

import deepinit

INF = math.inf

# (mean, std, a, b, dtype)
CASES = [
    (0.0, 1.0, -2.0, 2.0, torch.float32),
    (0.0, 0.02, -2.0, 2.0, torch.float32),
    (0.0, 0.01, -2.0, 2.0, torch.bfloat16),
    (0.0, 1.0, -2.0, 2.0, torch.bfloat16),
    (0.0, 1.0, -2.0, 2.0, torch.float16),
    (0.0, 1.0, 5.0, 6.0, torch.float32),
    (0.0, 1.0, 8.0, 9.0, torch.float32),
    (0.0, 1.0, 12.0, 13.0, torch.float32),
    (0.0, 1.0, 30.0, 31.0, torch.float64),
    (0.0, 1.0, -INF, -6.0, torch.float32),
    (0.0, 1.0, 0.0, 1e-6, torch.float64),
    (0.0, 1.0, 1.0, 1.0 + 1e-3, torch.float32),
    (0.5, 3.0, -1.0, 100.0, torch.float16),
]


def seed_method(t, mean, std, a, b):
    """DeePMD-kit's _no_grad_trunc_normal_ (PyTorch 2.3's): uniform -> erfinv -> clamp."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = norm_cdf((a - mean) / std), norm_cdf((b - mean) / std)
    t.uniform_(2 * lo - 1, 2 * hi - 1)
    t.erfinv_()
    t.mul_(std * math.sqrt(2.0))
    t.add_(mean)
    t.clamp_(min=a, max=b)
    return t


def scipy_method(t, mean, std, a, b):
    law = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, mean, std)
    t.copy_(torch.from_numpy(law.rvs(t.numel(), random_state=np.random.default_rng(0))).view_as(t))
    return t


METHODS = {
    "deepinit": lambda t, m, s, a, b: deepinit.trunc_normal_(t, m, s, a, b, seed=1),
    f"torch {torch.__version__.split('+')[0]}": lambda t, m, s, a, b: tinit.trunc_normal_(t, m, s, a, b),
    "seed (erfinv)": seed_method,
    "scipy": scipy_method,
}


def exact_moments(law):
    """Mean and std from the quantile on a fine grid (scipy's moments fail far out)."""
    k = 1 << 20
    q = law.ppf((np.arange(k) + 0.5) / k)
    q = q[np.isfinite(q)]
    center = np.median(q)
    mean = center + np.mean(q - center)
    return mean, math.sqrt(np.mean((q - mean) ** 2))


def bound_mass(law, dtype, a, b):
    """Probability that rounding the exact law to `dtype` (and moving inside [a, b]) gives a or b."""
    def inner(bound, toward):
        v = torch.tensor(bound, dtype=torch.float64).to(dtype)
        if (float(v) < a) or (float(v) > b):
            v = torch.nextafter(v, torch.tensor(toward, dtype=dtype))
        return v

    lo, hi = inner(a, INF), inner(b, -INF)
    mass = 0.0
    if math.isfinite(a):
        mass += law.cdf((float(lo) + float(torch.nextafter(lo, hi))) / 2)
    if math.isfinite(b):
        mass += law.sf((float(hi) + float(torch.nextafter(hi, lo))) / 2)
    return mass, float(lo), float(hi)


def run(n):
    print("| case | dtype | method | mean | std | at bounds | KS distance | ns/element |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    torch.manual_seed(0)
    for mean, std, a, b, dtype in CASES:
        law = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, mean, std)
        true_mean, true_std = exact_moments(law)
        expected_bounds, lo, hi = bound_mass(law, dtype, a, b)
        case = f"N({mean}, {std}²) on [{a:g}, {b:g}]"
        dname = str(dtype).replace("torch.", "")
        print(f"| {case} | {dname} | exact | {true_mean:.6g} | {true_std:.4g} | {expected_bounds:.2e} | 0 | |")
        for name, method in METHODS.items():
            t = torch.empty(n, dtype=dtype)
            try:
                method(t, mean, std, a, b)  # warm-up, and the memory is touched
                start = time.perf_counter()
                method(t, mean, std, a, b)
                seconds = time.perf_counter() - start
            except Exception as e:  # a method that fails on a case is reported as such
                print(f"| | | {name} | fails: {type(e).__name__}: {str(e).splitlines()[0][:60]} | | | | |")
                continue
            x = t.double().numpy()
            finite = np.isfinite(x)
            at_bounds = np.mean((x == lo) | (x == hi))
            ks = scipy.stats.kstest(x[finite], law.cdf).statistic if finite.any() else float("nan")
            mean_s = f"{x[finite].mean():.6g}" + ("" if finite.all() else f" ({(~finite).sum()} NaN/inf)")
            print(f"| | | {name} | {mean_s} | {x[finite].std():.4g} | {at_bounds:.2e} | {ks:.2e} | "
                  f"{1e9 * seconds / n:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--n", type=int, default=1_000_000, help="values per method and case")
    args = parser.parse_args()
    print(f"{args.n} values per method and case; torch {torch.__version__}, {torch.get_num_threads()} threads.\n")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # torch's "mean is more than 2 std from [a, b]", NumPy on NaN
        run(args.n)


if __name__ == "__main__":
    main()
