"""The torch.ops.deepinit ops: opcheck on every op and device, torch.compile without graph
breaks, meta tensors."""

import pytest
import torch
from torch.library import opcheck

import deepinit
from testing import AOT_TRACES_GENERATORS, DEVICES, FLOAT_DTYPES, OP_IDS, OPS


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("op,params", OPS, ids=OP_IDS)
@pytest.mark.parametrize("stream", ["seed", "default", "generator"])
def test_opcheck(device, dtype, op, params, stream):
    t = torch.empty(33, 17, dtype=dtype, device=device)
    kwargs = {
        "seed": {"seed": 7, "offset": 3},
        "default": {},
        "generator": {"generator": torch.Generator(device=device).manual_seed(3)},
    }[stream]
    test_utils = torch.library._OPCHECK_DEFAULT_UTILS
    if stream == "generator" and not AOT_TRACES_GENERATORS:
        test_utils = tuple(u for u in test_utils if u != "test_aot_dispatch_dynamic")
    opcheck(op, (t, *params), kwargs, test_utils=test_utils)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,params", OPS, ids=OP_IDS)
def test_ops_are_callable_directly(device, op, params):
    t = torch.zeros(1000, device=device)
    assert op(t, *params, seed=1) is None
    assert torch.all(t != 0)


def test_compile_fullgraph_with_seed():
    def init(w, b):
        deepinit.kaiming_uniform_(w, a=5 ** 0.5, seed=3)
        deepinit.trunc_normal_(b, std=0.02, seed=4, offset=w.numel())
        return w.sum() + b.sum()

    compiled = torch.compile(init, fullgraph=True, backend="aot_eager")
    w1, b1 = torch.empty(32, 16), torch.empty(32)
    w2, b2 = torch.empty(32, 16), torch.empty(32)
    assert torch.equal(compiled(w1, b1), init(w2, b2))
    assert torch.equal(w1, w2) and torch.equal(b1, b2)


def test_compile_fullgraph_with_default_generator():
    def init(w):
        deepinit.normal_(w, 0.0, 0.02)
        return w * 2

    compiled = torch.compile(init, fullgraph=True, backend="aot_eager")
    torch.manual_seed(0)
    a = compiled(torch.empty(64))
    torch.manual_seed(0)
    b = init(torch.empty(64))
    assert torch.equal(a, b)


def test_compile_inductor_fullgraph():
    def init(w):
        deepinit.xavier_normal_(w, seed=1)
        return w + 1

    compiled = torch.compile(init, fullgraph=True)
    assert torch.equal(compiled(torch.empty(8, 8)), init(torch.empty(8, 8)))


def test_meta_device_module_init():
    with torch.device("meta"):
        w = torch.empty(1000, 1000)
    assert deepinit.trunc_normal_(w, std=0.02) is w and w.is_meta
