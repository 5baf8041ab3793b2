"""Every invalid call raises a clear error that names the argument, before anything is written:
afterwards the tensor is bit-identical to what it was and no generator has moved."""

import math

import numpy as np
import pytest
import torch

import deepinit
from testing import DEVICES

NAN, INF = math.nan, math.inf


def _quantized():
    with pytest.warns(UserWarning):
        return torch.quantize_per_tensor(torch.zeros(4, 4), 0.1, 0, torch.qint8)


def _nested():
    return torch.nested.nested_tensor([torch.zeros(2, 3), torch.zeros(4, 3)], layout=torch.jagged)


# (description, call(tensor), tensor factory, exception type, text the message must contain)
CASES = [
    ("integer dtype", lambda t: deepinit.normal_(t), lambda d: torch.zeros(4, 4, dtype=torch.int32, device=d), RuntimeError, "dtype torch.int32"),
    ("bool dtype", lambda t: deepinit.uniform_(t), lambda d: torch.zeros(4, 4, dtype=torch.bool, device=d), RuntimeError, "dtype torch.bool"),
    ("complex dtype", lambda t: deepinit.trunc_normal_(t), lambda d: torch.zeros(4, 4, dtype=torch.complex64, device=d), RuntimeError, "dtype torch.complex64"),
    ("NaN mean", lambda t: deepinit.normal_(t, NAN), None, RuntimeError, "mean must be finite"),
    ("inf mean", lambda t: deepinit.trunc_normal_(t, INF), None, RuntimeError, "mean must be finite"),
    ("NaN std", lambda t: deepinit.normal_(t, 0.0, NAN), None, RuntimeError, "std must be finite"),
    ("inf std", lambda t: deepinit.normal_(t, 0.0, INF), None, RuntimeError, "std must be finite"),
    ("negative std", lambda t: deepinit.normal_(t, 0.0, -1.0), None, RuntimeError, "std must be >= 0"),
    ("non-positive std (trunc)", lambda t: deepinit.trunc_normal_(t, std=0.0), None, ValueError, "std must be positive"),
    ("NaN low", lambda t: deepinit.uniform_(t, NAN, 1.0), None, RuntimeError, "low must be finite"),
    ("inf high", lambda t: deepinit.uniform_(t, 0.0, INF), None, RuntimeError, "high must be finite"),
    ("low > high", lambda t: deepinit.uniform_(t, 1.0, 0.0), None, RuntimeError, "low must not exceed high"),
    ("span overflows float32", lambda t: deepinit.uniform_(t, -3e38, 3e38), None, RuntimeError, "overflows float32"),
    ("NaN bound", lambda t: deepinit.trunc_normal_(t, a=NAN), None, RuntimeError, "must not be NaN"),
    ("a == b", lambda t: deepinit.trunc_normal_(t, a=1.0, b=1.0), None, RuntimeError, "a must be less than b"),
    ("a > b", lambda t: deepinit.trunc_normal_(t, a=2.0, b=-2.0), None, RuntimeError, "a must be less than b"),
    ("no float16 value in [a, b]", lambda t: deepinit.trunc_normal_(t, a=1.0001, b=1.0002), lambda d: torch.zeros(4, 4, dtype=torch.float16, device=d), RuntimeError, "no torch.float16 value lies in [a, b]"),
    ("no bfloat16 value above float max", lambda t: deepinit.trunc_normal_(t, a=1e39, b=INF), lambda d: torch.zeros(4, 4, dtype=torch.bfloat16, device=d), RuntimeError, "no torch.bfloat16 value"),
    ("NaN gain (xavier)", lambda t: deepinit.xavier_uniform_(t, gain=NAN), None, ValueError, "gain must be finite"),
    ("inf gain (xavier)", lambda t: deepinit.xavier_normal_(t, gain=INF), None, ValueError, "gain must be finite"),
    ("NaN negative slope (kaiming)", lambda t: deepinit.kaiming_uniform_(t, a=NAN), None, ValueError, "a=nan"),
    ("unsupported mode", lambda t: deepinit.kaiming_normal_(t, mode="fan_avg"), None, ValueError, "Mode fan_avg not supported"),
    ("unsupported nonlinearity", lambda t: deepinit.kaiming_uniform_(t, nonlinearity="gelu"), None, ValueError, "Unsupported nonlinearity gelu"),
    ("bool negative slope", lambda t: deepinit.kaiming_uniform_(t, a=True), None, ValueError, "negative_slope True not a valid number"),
    ("str negative slope", lambda t: deepinit.kaiming_normal_(t, a="0.1"), None, ValueError, "negative_slope 0.1 not a valid number"),
    ("expanded tensor", lambda t: deepinit.normal_(t.expand(3, 4, 4)), None, RuntimeError, "share memory"),
    ("stride-0 view", lambda t: deepinit.uniform_(t[:1].expand(4, 4)), None, RuntimeError, "share memory"),
    ("sparse tensor", lambda t: deepinit.normal_(t), lambda d: torch.zeros(4, 4, device=d).to_sparse(), NotImplementedError, "sparse_coo"),
    ("seed above 64 bits", lambda t: deepinit.normal_(t, seed=2**64), None, ValueError, "seed must lie in"),
    ("seed below -2^63", lambda t: deepinit.normal_(t, seed=-(2**63) - 1), None, ValueError, "seed must lie in"),
    ("offset above 64 bits", lambda t: deepinit.uniform_(t, seed=1, offset=2**64), None, ValueError, "offset must lie in"),
    ("float seed", lambda t: deepinit.uniform_(t, seed=1.0), None, TypeError, "seed must be an int"),
    ("offset without seed", lambda t: deepinit.normal_(t, offset=3), None, ValueError, "offset= needs seed="),
    ("seed and generator", lambda t: deepinit.normal_(t, seed=3, generator=torch.Generator(t.device)), None, ValueError, "either seed= or generator="),
    ("fan of a 1-D tensor", lambda t: deepinit.xavier_uniform_(t[0]), None, ValueError, "fewer than 2 dimensions"),
    ("zero fan", lambda t: deepinit.xavier_normal_(t[:0, :0]), None, ValueError, "fan_in + fan_out > 0"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,call,make,error,text", CASES, ids=[c[0] for c in CASES])
def test_invalid_call_raises_and_leaves_everything_untouched(device, name, call, make, error, text):
    tensor = make(device) if make else torch.full((4, 4), 7.0, device=device)
    before = tensor.clone()
    cpu_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state() if device == "cuda" else None
    with pytest.raises(error, match=text.replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")):
        call(tensor)
    if tensor.layout == torch.strided:
        assert torch.equal(tensor, before)
    else:
        assert torch.equal(tensor.to_dense(), before.to_dense())
    assert torch.equal(torch.get_rng_state(), cpu_state)
    if cuda_state is not None:
        assert torch.equal(torch.cuda.get_rng_state(), cuda_state)


def test_quantized_and_nested_tensors_are_refused_by_name():
    for tensor, kind in ((_quantized(), "quantized"), (_nested(), "nested")):
        with pytest.raises(NotImplementedError, match=f"tensor must be a dense .* {kind}"):
            deepinit.normal_(tensor)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA generator")
def test_cpu_tensor_with_cuda_generator_is_refused():
    t = torch.full((4, 4), 7.0)
    with pytest.raises(RuntimeError, match="generator"):
        deepinit.normal_(t, generator=torch.Generator(device="cuda"))
    assert torch.all(t == 7.0)


@pytest.mark.parametrize("op,args", [
    (torch.ops.deepinit.uniform_, (0.0, NAN)),
    (torch.ops.deepinit.normal_, (NAN, 1.0)),
    (torch.ops.deepinit.trunc_normal_, (0.0, 1.0, 3.0, -3.0)),
])
def test_ops_validate_too(op, args):
    t = torch.full((5,), 7.0)
    with pytest.raises(RuntimeError):
        op(t, *args, seed=1)
    assert torch.all(t == 7.0)


# Meta tensors go through the ops' fakes (deepinit/_ops.py), which run the kernels' own checks.
META_CASES = [c for c in CASES if c[0] not in ("sparse tensor", "seed and generator")] + [
    ("window of another rank", lambda t: deepinit.normal_(t, seed=1, global_shape=(4, 4, 4), start=(0, 0, 0)), None,
     RuntimeError, "one entry per dim"),
    ("window past the end", lambda t: deepinit.normal_(t, seed=1, global_shape=(6, 6), start=(3, 0)), None,
     RuntimeError, "does not fit"),
    ("window without start", lambda t: deepinit.normal_(t, seed=1, global_shape=(6, 6)), None, ValueError,
     "needs both"),
]


@pytest.mark.parametrize("name,call,make,error,text", META_CASES, ids=[c[0] for c in META_CASES])
def test_meta_tensors_raise_what_real_ones_raise(name, call, make, error, text):
    def raised(device):
        tensor = make(device) if make else torch.full((4, 4), 7.0, device=device)
        with pytest.raises(error) as info:
            call(tensor)
        return type(info.value), str(info.value).split("\nException raised from")[0]

    assert raised("meta") == raised("cpu")
    assert text in raised("meta")[1]


# Arguments of the wrong kind fail in the op's binding with a five-line message; deepinit answers
# in one line that names what was given.
KIND_CASES = [
    ("a list as the tensor", lambda: deepinit.normal_([1.0, 2.0]), TypeError, "tensor must be a torch.Tensor, but got list"),
    ("a NumPy array as the tensor", lambda: deepinit.kaiming_uniform_(np.zeros((3, 3))), TypeError,
     "tensor must be a torch.Tensor, but got numpy.ndarray"),
    ("a NumPy array to a function without fans", lambda: deepinit.trunc_normal_(np.zeros(3)), TypeError,
     "but got numpy.ndarray"),
    ("rows= as a list", lambda: deepinit.normal_(torch.empty(2, 3), seed=1, global_shape=(10, 3), rows=[5, 6]),
     TypeError, "rows= must be a tensor of int64 ids, but got list"),
    ("a size beyond int64", lambda: deepinit.normal_(torch.empty(2, 2), seed=1, global_shape=(2**64, 2), start=(0, 0)),
     ValueError, "global_shape= holds 18446744073709551616"),
    ("a start that is not an int", lambda: deepinit.uniform_(torch.empty(2, 2), seed=1, global_shape=(4, 4),
                                                             start=(0, "a")), TypeError, "start= must hold ints"),
]


@pytest.mark.parametrize("name,call,error,text", KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_arguments_of_the_wrong_kind_are_one_line(name, call, error, text):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert text in message and "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained traceback
