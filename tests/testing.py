"""Shared tables for the tests: devices, dtypes, the random fills and their scipy laws."""

import numpy as np
import pytest
import scipy.stats
import torch

import deepinit
from deepinit._ops import DTYPES, FILL_NAMES, FILLS
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

FLOAT_DTYPES = list(DTYPES.values())  # every dtype the fills write (csrc/dtypes.h)
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


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
_TRUNCATED_STD = 0.87962566103423978  # the std of N(0, 1) truncated to [-2, 2]


def _uniform(bound):
    return scipy.stats.uniform(-bound, 2 * bound)


def _normal(std):
    return scipy.stats.norm(0, std)


# One oracle for every random function of the catalog that fills any block of a logical tensor
# (deepinit/functions.py): a call with arguments of its own, and the scipy law of the values it
# gives a SHAPE tensor. The generic tests (values, threads, chunks, views, windows, devices,
# statistics) run on every one; a function added to the catalog without an oracle here fails the
# tests at import.
ORACLES = {
    "_no_grad_trunc_normal_": (lambda t, **s: deepinit._no_grad_trunc_normal_(t, 0.0, 0.5, -0.3, 0.8, **s),
                               scipy.stats.truncnorm(-0.6, 1.6, scale=0.5)),
    "normal_": (lambda t, **s: deepinit.normal_(t, 0.3, 1.7, **s), scipy.stats.norm(0.3, 1.7)),
    "trunc_normal_": (lambda t, **s: deepinit.trunc_normal_(t, **s), scipy.stats.truncnorm(-2, 2)),
    "kaiming_uniform_": (lambda t, **s: deepinit.kaiming_uniform_(t, **s),
                         _uniform(np.sqrt(3.0) * np.sqrt(2.0 / (1 + 0.01**2)) / np.sqrt(FAN_IN))),
    "kaiming_normal_": (lambda t, **s: deepinit.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", **s),
                        _normal(np.sqrt(2.0) / np.sqrt(FAN_OUT))),
    "xavier_uniform_": (lambda t, **s: deepinit.xavier_uniform_(t, **s), _uniform(np.sqrt(6.0 / (FAN_IN + FAN_OUT)))),
    "xavier_normal_": (lambda t, **s: deepinit.xavier_normal_(t, gain=2.0, **s),
                       _normal(2.0 * np.sqrt(2.0 / (FAN_IN + FAN_OUT)))),
    "uniform_": (lambda t, **s: deepinit.uniform_(t, -0.5, 2.0, **s), scipy.stats.uniform(-0.5, 2.5)),
    "variance_scaling_": (lambda t, **s: deepinit.variance_scaling_(t, 2.0, "fan_avg", **s),
                          scipy.stats.truncnorm(-2, 2, scale=np.sqrt(2.0 / ((FAN_IN + FAN_OUT) / 2)) / _TRUNCATED_STD)),
    "lecun_normal_": (lambda t, **s: deepinit.lecun_normal_(t, **s),
                      scipy.stats.truncnorm(-2, 2, scale=np.sqrt(1.0 / FAN_IN) / _TRUNCATED_STD)),
    "lecun_uniform_": (lambda t, **s: deepinit.lecun_uniform_(t, **s), _uniform(np.sqrt(3.0 / FAN_IN))),
    "trunc_normal_tf_": (lambda t, **s: deepinit.trunc_normal_tf_(t, 0.1, 2.0, -1.0, 1.5, **s),
                         scipy.stats.truncnorm(-1.0, 1.5, loc=0.1, scale=2.0)),
}
_WITHOUT_ORACLE = [name for name in names(random=True, window=True) if name not in ORACLES]
if _WITHOUT_ORACLE:
    raise AssertionError(f"tests/testing.py: no oracle (a call and its scipy law) for {_WITHOUT_ORACLE}")
RANDOM_FILLS = [(name, *ORACLES[name]) for name in names(random=True, window=True)] + [
    # The default truncated normal's interval leaves out less than 2^-64 of the mass: its own form.
    ("trunc_normal_std0.02", lambda t, **s: deepinit.trunc_normal_(t, std=0.02, **s),
     scipy.stats.truncnorm(-100, 100, scale=0.02)),
]
RANDOM_FILL_IDS = [name for name, *_ in RANDOM_FILLS]
# One fill per law of the C++ catalog (csrc/laws.h), through the public function of its name.
OP_FILLS = [fill for fill in RANDOM_FILLS if fill[0] in FILL_NAMES]
if len(OP_FILLS) != len(FILL_NAMES):
    raise AssertionError(f"tests/testing.py: a law of the C++ catalog has no public function of its name: {FILL_NAMES}")
OP_FILL_IDS = [name for name, *_ in OP_FILLS]
# Every fill op of the law catalog (csrc/laws.h), as (op, its schema's default arguments).
OPS = [(getattr(torch.ops.deepinit, name), tuple(a.default_value for a in FILLS[name]._schema.arguments[1:]
                                                 if not a.kwarg_only)) for name in FILL_NAMES]
OP_IDS = list(FILL_NAMES)


# Every random function of deepinit's catalog, and a call of each with its defaults (plus the
# arguments it needs).
RANDOM_NAMES = names(random=True)
_NEEDED_ARGS = {"_no_grad_trunc_normal_": (0.0, 0.5, -0.3, 0.8), "sparse_": (0.3,)}


def call_random(name, tensor, **stream):
    return BY_NAME[name].function(tensor, *_NEEDED_ARGS.get(name, ()), **stream)
