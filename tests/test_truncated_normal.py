"""trunc_normal_ is the exact inverse CDF: each value against the float64 quantile of the same
uniform (log-space scipy, independent of csrc/), the law (KS against scipy.stats.truncnorm),
the moments, the bounds, and the mass that reduced precision puts on the bounds."""

import numpy as np
import pytest
import scipy.stats
import torch
from scipy.special import log_ndtr, ndtri_exp

import deepinit
import reference
from testing import DEVICES

INF = float("inf")

# (mean, std, a, b): straddling the mean, one-sided, far tails, narrow intervals.
CASES = [
    (0.0, 1.0, -2.0, 2.0),
    (0.0, 0.02, -2.0, 2.0),
    (0.5, 3.0, -1.0, 100.0),
    (0.0, 1.0, -INF, 0.0),
    (0.0, 1.0, 1.0, INF),
    (0.0, 1.0, -0.5, 10.0),
    (0.0, 1.0, 5.0, 6.0),
    (0.0, 1.0, -6.0, -5.0),
    (0.0, 1.0, 8.0, 9.0),
    (0.0, 1.0, 12.0, 13.0),
    (0.0, 1.0, 20.0, 21.0),
    (0.0, 1.0, 30.0, 31.0),
    (0.0, 1.0, -INF, -30.0),
    (0.0, 1.0, 40.0, INF),
    (1.0, 2.0, 1.0, 1.0 + 2e-6),
    (0.0, 1.0, 3.0, 3.0 + 1e-6),
    (0.0, 1.0, -1.44, -1.44 + 1e-6),
    (0.0, 1.0, -2e-3, 2e-3),
    (0.0, 1.0, 0.7, 0.7 + 3e-3),
    (0.0, 1.0, 1000.0, INF),
    (-3.0, 0.5, -INF, -200.0),
]
CASE_IDS = [f"m{m}_s{s}_[{a},{b}]" for m, s, a, b in CASES]


def exact_quantile(u, mean, std, a, b):
    """The u-quantile of N(mean, std^2) on [a, b], in float64 log space (scipy), u in (0, 1)."""
    u = np.asarray(u, dtype=np.float64)
    alpha, beta = (a - mean) / std, (b - mean) / std
    mirror = alpha + beta > 0
    if mirror:
        alpha, beta, u = -beta, -alpha, 1.0 - u
    la, lb = log_ndtr(alpha), log_ndtr(beta)
    log_delta = lb + np.log1p(-np.exp(la - lb))
    log_p = np.logaddexp(la, np.log(u) + log_delta)
    log_q = np.logaddexp(log_ndtr(-beta), np.log1p(-u) + log_delta)  # log(1 - p)
    z = np.where(log_p <= np.log(0.5), ndtri_exp(np.minimum(log_p, np.log(0.5))), -ndtri_exp(np.minimum(log_q, np.log(0.5))))
    if mirror:
        z = -z
    return mean + std * z


def _fill(device, dtype, n, case, seed):
    mean, std, a, b = case
    t = torch.empty(n, dtype=dtype, device=device)
    return deepinit.trunc_normal_(t, mean, std, a, b, seed=seed).cpu()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_each_value_is_the_exact_quantile(device, case):
    mean, std, a, b = case
    n = 100_000
    for dtype in (torch.float32, torch.float64):
        x = _fill(device, dtype, n, case, seed=3).double().numpy()
        u = reference.quantile_uniform(n, 3, 0, "float64" if dtype == torch.float64 else "float32")
        exact = exact_quantile(u, *case)
        assert np.all(np.isfinite(x))
        assert np.all((x >= a) & (x <= b))
        scale = np.maximum(np.abs(exact), std)
        if dtype == torch.float32:
            error = np.abs(x - exact) / np.spacing(scale.astype(np.float32)).astype(np.float64)
            assert error.max() <= 8.0, (case, error.max(), u[error.argmax()])
        else:
            error = np.abs(x - exact) / scale
            assert error.max() <= 1e-12, (case, error.max(), u[error.argmax()])


def _resolved_by(dtype, case):
    """Whether the dtype has many values across the law's spread (else KS sees a step function)."""
    law = scipy.stats.truncnorm((case[2] - case[0]) / case[1], (case[3] - case[0]) / case[1], case[0], case[1])
    spread = law.ppf(0.9) - law.ppf(0.1)
    return spread > 1e4 * np.spacing(np.float32(max(abs(law.ppf(0.5)), case[1])))


def exact_moments(case):
    """Mean and std of the law, from its quantile on a fine midpoint grid (scipy's own moments
    are NaN or wrong for intervals this narrow or this far out)."""
    k = 1 << 20
    q = exact_quantile((np.arange(k) + 0.5) / k, *case)
    center = q[k // 2]
    mean = center + np.mean(q - center)
    return mean, np.sqrt(np.mean((q - mean) ** 2))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_law_and_moments(device, case):
    mean, std, a, b = case
    law = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, mean, std)
    law_mean, law_std = exact_moments(case)
    for dtype in (torch.float32, torch.float64):
        if dtype == torch.float32 and not _resolved_by(dtype, case):
            continue
        x = _fill(device, dtype, 200_000, case, seed=8).double().numpy()
        assert scipy.stats.kstest(x, law.cdf).pvalue > 1e-4, (case, dtype)
        se = law_std / np.sqrt(x.size)
        assert abs(np.mean(x - law_mean)) < 6 * se, (case, dtype, x.mean(), law_mean)
        assert abs(np.sqrt(np.mean((x - law_mean) ** 2)) / law_std - 1) < 0.02, (case, dtype)


HALF_CASES = [
    (0.0, 1.0, -2.0, 2.0),
    (0.0, 0.01, -2.0, 2.0),
    (0.0, 0.01, -0.02, 0.02),
    (0.0, 1.0, 5.0, 6.0),
    (0.0, 1.0, -INF, -3.0),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("case", HALF_CASES, ids=[f"{c}" for c in HALF_CASES])
def test_half_precision_is_the_rounded_quantile_without_excess_mass_at_the_bounds(device, dtype, case):
    mean, std, a, b = case
    n = 200_000
    x = _fill(device, dtype, n, case, seed=5)
    exact = exact_quantile(reference.quantile_uniform(n, 5, 0, "float32"), *case)
    lo = torch.tensor(a, dtype=torch.float64).to(dtype)
    lo = lo if float(lo) >= a else torch.nextafter(lo, torch.tensor(INF, dtype=dtype))
    hi = torch.tensor(b, dtype=torch.float64).to(dtype)
    hi = hi if float(hi) <= b else torch.nextafter(hi, torch.tensor(-INF, dtype=dtype))
    rounded = torch.from_numpy(exact).to(dtype).clamp(lo, hi)  # the correctly rounded quantile, moved inside
    mismatch = (x != rounded).double().mean().item()
    assert mismatch < 1e-3  # only where float32 compute lands on the other side of a rounding midpoint
    step = torch.finfo(dtype).eps * torch.maximum(rounded.abs().double(), torch.tensor(std))
    assert torch.all((x.double() - rounded.double()).abs() <= step)
    # Mass on each bound equals the mass that rounding the exact law puts there.
    law = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, mean, std)
    for bound, inner in ((lo, torch.nextafter(lo, hi)), (hi, torch.nextafter(hi, lo))):
        midpoint = (float(bound) + float(inner)) / 2
        expected = abs(law.cdf(midpoint) - (0.0 if bound is lo else 1.0))
        observed = (x == bound).double().mean().item()
        assert abs(observed - expected) <= 5 * np.sqrt(expected / n) + 2 / n, (float(bound), observed, expected)


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_small_std_keeps_its_std(device):
    """PyTorch #145498: bf16, std 0.01 gave std 0.127 and 391 of 100k values at -2."""
    x = deepinit.trunc_normal_(torch.empty(100_000, dtype=torch.bfloat16, device=device), std=0.01, seed=1).float()
    assert abs(x.std().item() / 0.01 - 1) < 0.02
    assert (x == -2).sum().item() == 0 and (x == 2).sum().item() == 0
