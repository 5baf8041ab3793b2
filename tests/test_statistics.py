"""Distribution tests: every random fill, in float32 and float64, against its scipy law
(Kolmogorov-Smirnov), plus first moments. float16/bfloat16 values are the rounded float32
values (test_stream.py), so these laws cover them too."""

import numpy as np
import pytest
import scipy.stats
import torch

import deepinit

from testing import DEVICES, RANDOM_FILLS, RANDOM_FILL_IDS

N_TENSORS = 16  # 16 tensors of 64 x 100: 102,400 samples


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("name,fill,law", RANDOM_FILLS, ids=RANDOM_FILL_IDS)
def test_ks_against_scipy(device, dtype, name, fill, law):
    samples = np.concatenate(
        [fill(torch.empty(64, 100, dtype=dtype, device=device), seed=1000 + i).cpu().double().numpy().ravel() for i in range(N_TENSORS)]
    )
    result = scipy.stats.kstest(samples, law.cdf)
    assert result.pvalue > 1e-4, (name, result)
    mean, std = law.mean(), law.std()
    se = std / np.sqrt(samples.size)
    assert abs(samples.mean() - mean) < 5 * se
    assert abs(samples.std() / std - 1) < 0.02


@pytest.mark.parametrize("name,fill,law", RANDOM_FILLS, ids=RANDOM_FILL_IDS)
def test_a_wrong_law_is_rejected(name, fill, law):
    """The KS test above can fail: the same samples against a law 3% wider are rejected."""
    samples = np.concatenate([fill(torch.empty(64, 100), seed=1000 + i).double().numpy().ravel() for i in range(N_TENSORS)])
    wider = lambda x: law.cdf((x - law.mean()) / 1.03 + law.mean())  # noqa: E731
    assert scipy.stats.kstest(samples, wider).pvalue < 1e-4


@pytest.mark.parametrize("device", DEVICES)
def test_float32_normal_resolves_more_values_than_a_23_bit_grid(device):
    """Stream contract v2 maps all 32 bits of a word to the quantile: 10^7 draws take more
    distinct values than a 2^23-value grid (contract v1's) can hold."""
    draws = deepinit.normal_(torch.empty(10**7, device=device), seed=0)
    assert torch.unique(draws).numel() > 2**23


@pytest.mark.parametrize("device", DEVICES)
def test_float32_normal_reaches_beyond_5_3_sigma_as_often_as_the_law(device):
    """10^8 draws: the law puts 11.6 beyond 5.3 sigma (a 23-bit grid puts none there)."""
    chunk = 10**7
    beyond = sum(int((deepinit.normal_(torch.empty(chunk, device=device), seed=1, offset=k * chunk).abs() > 5.3).sum())
                 for k in range(10))
    assert 3 <= beyond <= 30
