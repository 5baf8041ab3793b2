"""Shared tables for the tests: devices, dtypes, the random fills and their scipy laws."""

import numpy as np
import pytest
import scipy.stats
import torch

import deepinit
from deepinit.functions import BY_NAME, names

HAS_CUDA = torch.cuda.is_available()

# Every device a test runs on; CUDA entries skip on machines without a GPU.
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")),
]



def _aot_traces_generators():
    """Whether AOT autograd can trace an op that takes a torch.Generator (torch 2.11's make_fx
    cannot: "argument of type: <class 'torch._C.Generator'>"; 2.13's can)."""
    from torch.fx.experimental.proxy_tensor import make_fx

    generator = torch.Generator().manual_seed(0)
    try:
        make_fx(lambda t: torch.ops.aten.uniform_.default(t, 0.0, 1.0, generator=generator))(torch.empty(1))
    except NotImplementedError:
        return False
    return True


AOT_TRACES_GENERATORS = _aot_traces_generators()

FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def compute_dtype(dtype):
    """The precision a fill is computed in for a tensor dtype (stream contract v1)."""
    return "float64" if dtype == torch.float64 else "float32"


def cpu_capabilities():
    """The CPU kernels this machine can run (the first is the default)."""
    torch.ops.deepinit._cpu_capability()
    found = []
    for name in ("avx512vl", "avx2", "scalar"):
        try:
            previous = torch.ops.deepinit._set_cpu_capability(name)
        except RuntimeError:
            continue
        torch.ops.deepinit._set_cpu_capability(previous)
        found.append(name)
    return found


# Each random fill as (name, call(tensor, **stream), scipy law of the values) on a 2-D tensor
# of shape (64, 100): fan_in 100, fan_out 64.
FAN_IN, FAN_OUT = 100, 64
SHAPE = (FAN_OUT, FAN_IN)


def _law_kaiming_uniform():
    bound = np.sqrt(3.0) * np.sqrt(2.0 / (1 + 0.01**2)) / np.sqrt(FAN_IN)
    return scipy.stats.uniform(-bound, 2 * bound)


def _law_xavier_uniform():
    a = np.sqrt(6.0 / (FAN_IN + FAN_OUT))
    return scipy.stats.uniform(-a, 2 * a)


RANDOM_FILLS = [
    ("uniform_", lambda t, **s: deepinit.uniform_(t, -0.5, 2.0, **s), scipy.stats.uniform(-0.5, 2.5)),
    ("normal_", lambda t, **s: deepinit.normal_(t, 0.3, 1.7, **s), scipy.stats.norm(0.3, 1.7)),
    ("trunc_normal_", lambda t, **s: deepinit.trunc_normal_(t, **s), scipy.stats.truncnorm(-2, 2)),
    (
        "trunc_normal_std0.02",
        lambda t, **s: deepinit.trunc_normal_(t, std=0.02, **s),
        scipy.stats.truncnorm(-100, 100, scale=0.02),
    ),
    ("kaiming_uniform_", lambda t, **s: deepinit.kaiming_uniform_(t, **s), _law_kaiming_uniform()),
    (
        "kaiming_normal_",
        lambda t, **s: deepinit.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", **s),
        scipy.stats.norm(0, np.sqrt(2.0) / np.sqrt(FAN_OUT)),
    ),
    ("xavier_uniform_", lambda t, **s: deepinit.xavier_uniform_(t, **s), _law_xavier_uniform()),
    (
        "xavier_normal_",
        lambda t, **s: deepinit.xavier_normal_(t, gain=2.0, **s),
        scipy.stats.norm(0, 2.0 * np.sqrt(2.0 / (FAN_IN + FAN_OUT))),
    ),
]
RANDOM_FILL_IDS = [name for name, *_ in RANDOM_FILLS]


# Every random function of deepinit's catalog, and a call of each with its defaults (plus the
# arguments it needs).
RANDOM_NAMES = names(random=True)
_NEEDED_ARGS = {"_no_grad_trunc_normal_": (0.0, 0.5, -0.3, 0.8), "sparse_": (0.3,)}


def call_random(name, tensor, **stream):
    return BY_NAME[name].function(tensor, *_NEEDED_ARGS.get(name, ()), **stream)
