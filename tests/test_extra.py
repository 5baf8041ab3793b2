"""The rest of torch.nn.init and the JAX / Keras / timm initialisers."""

import inspect
import math
import warnings

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.init as tinit

import deepinit


@pytest.mark.parametrize("name", ["eye_", "dirac_", "orthogonal_", "sparse_"])
def test_signatures_match_torch(name):
    ours = inspect.signature(getattr(deepinit, name)).parameters
    theirs = inspect.signature(getattr(tinit, name)).parameters
    shared = [p for p in ours.values() if p.kind != inspect.Parameter.KEYWORD_ONLY]
    assert [p.name for p in shared] == list(theirs)
    assert all(p.default == theirs[p.name].default for p in shared)


@pytest.mark.parametrize("call", [
    lambda m: m.eye_(torch.empty(3)),
    lambda m: m.dirac_(torch.empty(3, 3)),
    lambda m: m.dirac_(torch.empty(4, 3, 3), groups=3),
    lambda m: m.orthogonal_(torch.empty(3)),
    lambda m: m.sparse_(torch.empty(3, 3, 3), 0.1),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(tinit)
    with pytest.raises(Exception) as ours:
        call(deepinit)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def test_eye_and_dirac_equal_torch():
    assert torch.equal(deepinit.eye_(torch.empty(4, 6)), tinit.eye_(torch.empty(4, 6)))
    for shape, groups in (((6, 4, 3), 2), ((4, 4, 3, 3), 1), ((6, 2, 3, 3, 3), 3)):
        assert torch.equal(deepinit.dirac_(torch.empty(shape), groups), tinit.dirac_(torch.empty(shape), groups))


def test_orthogonal_is_orthogonal_and_reproducible():
    for shape in ((30, 50), (50, 30), (8, 3, 3, 3)):
        t = deepinit.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=2.0, seed=4)
        flat = t.view(shape[0], -1)
        gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
        torch.testing.assert_close(gram, 4.0 * torch.eye(gram.shape[0], dtype=torch.float64))
        assert torch.equal(t, deepinit.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=2.0, seed=4))


def test_sparse_zeros_each_column_and_is_reproducible():
    t = deepinit.sparse_(torch.empty(40, 25), 0.3, std=0.5, seed=9)
    assert all(int((t[:, c] == 0).sum()) >= math.ceil(0.3 * 40) for c in range(25))
    assert torch.equal(t, deepinit.sparse_(torch.empty(40, 25), 0.3, std=0.5, seed=9))
    torch.manual_seed(1)
    a = deepinit.sparse_(torch.empty(40, 25), 0.3)
    torch.manual_seed(1)
    assert torch.equal(a, deepinit.sparse_(torch.empty(40, 25), 0.3))


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling_has_the_target_variance(distribution, mode):
    t = deepinit.variance_scaling_(torch.empty(400, 300, dtype=torch.float64), 2.0, mode, distribution, seed=3)
    n = {"fan_in": 300, "fan_out": 400, "fan_avg": 350}[mode]
    assert abs(t.var().item() / (2.0 / n) - 1) < 0.02  # the truncated normal's std is corrected
    if distribution == "truncated_normal":
        std = math.sqrt(2.0 / n) / 0.87962566103423978
        assert t.abs().max().item() <= 2 * std
        law = scipy.stats.truncnorm(-2, 2, scale=std)
    elif distribution == "normal":
        law = scipy.stats.norm(scale=math.sqrt(2.0 / n))
    else:
        bound = math.sqrt(3 * 2.0 / n)
        law = scipy.stats.uniform(-bound, 2 * bound)
    assert scipy.stats.kstest(t.numpy().ravel(), law.cdf).pvalue > 1e-4


def test_variance_scaling_errors():
    with pytest.raises(ValueError, match="mode"):
        deepinit.variance_scaling_(torch.empty(3, 3), mode="fan_max")
    with pytest.raises(ValueError, match="distribution"):
        deepinit.variance_scaling_(torch.empty(3, 3), distribution="cauchy")
    with pytest.raises(ValueError, match="scale"):
        deepinit.variance_scaling_(torch.empty(3, 3), scale=0.0)


def test_lecun_and_trunc_normal_tf():
    a = deepinit.lecun_normal_(torch.empty(50, 80), seed=1)
    assert torch.equal(a, deepinit.variance_scaling_(torch.empty(50, 80), 1.0, "fan_in", "truncated_normal", seed=1))
    b = deepinit.lecun_uniform_(torch.empty(50, 80), seed=1)
    assert b.abs().max() <= math.sqrt(3 / 80)
    c = deepinit.trunc_normal_tf_(torch.empty(10000), mean=3.0, std=0.5, a=-1.0, b=2.0, seed=2)
    assert c.min() >= 2.5 and c.max() <= 4.0
    assert torch.equal(c, deepinit.trunc_normal_(torch.empty(10000), 3.0, 0.5, 2.5, 4.0, seed=2))


@pytest.mark.parametrize("old,new", [("uniform", "uniform_"), ("normal", "normal_"), ("constant", "constant_"),
                                     ("eye", "eye_"), ("xavier_uniform", "xavier_uniform_"),
                                     ("kaiming_normal", "kaiming_normal_"), ("orthogonal", "orthogonal_")])
def test_deprecated_aliases_warn_like_torch(old, new):
    args = {"constant": (0.5,)}.get(old, ())
    with pytest.warns(FutureWarning, match=f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new}`"):
        getattr(deepinit, old)(torch.empty(4, 4), *args)
