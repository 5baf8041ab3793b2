"""Property-based tests (hypothesis): any shape (0-size, 0-dim, up to 6-D), any layout (permuted,
sliced with steps, channels-last), any dtype, parameters and offsets near the 2^64 wrap. Values
are finite and inside their bounds, equal the contiguous fill of the same logical shape, and
are the same when computed again."""

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepinit
from deepinit._ops import FILL_NAMES
from testing import FLOAT_DTYPES

DTYPES = FLOAT_DTYPES


@st.composite
def views(draw):
    """A tensor that is a view of a larger zero tensor, with its own logical shape."""
    ndim = draw(st.integers(0, 6))
    shape = draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim))
    dtype = draw(st.sampled_from(DTYPES))
    # Room for slicing with steps: each dim of the base is step * size (+ a start offset).
    steps = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
    starts = draw(st.lists(st.integers(0, 2), min_size=ndim, max_size=ndim))
    base = torch.zeros([st_ + step * max(size, 1) for size, step, st_ in zip(shape, steps, starts)], dtype=dtype)
    view = base[tuple(slice(s0, s0 + step * size, step) for size, step, s0 in zip(shape, steps, starts))]
    if ndim >= 2 and draw(st.booleans()):
        order = draw(st.permutations(range(ndim)))
        view = view.permute(*order)
    if ndim == 4 and draw(st.booleans()):
        view = view.contiguous(memory_format=torch.channels_last)
    return view


finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


def _truncated(mean, std, a, width, open_side):
    b = a + width
    return (mean, std, -math.inf if open_side == "lower" else a, math.inf if open_side == "upper" else b)


# For every law of the C++ catalog: its arguments drawn, and the interval its values lie in. A
# law without one here fails at import.
LAW_ARGUMENTS = {
    "uniform_": (st.tuples(finite, st.floats(0, 100)).map(lambda p: (p[0], p[0] + p[1])), lambda p: p),
    "normal_": (st.tuples(finite, st.floats(0, 10)), lambda p: (-math.inf, math.inf)),
    "trunc_normal_": (st.tuples(finite, st.floats(1e-3, 10), finite, st.floats(1e-3, 60),
                                st.sampled_from([None, "lower", "upper"])).map(lambda p: _truncated(*p)),
                      lambda p: p[2:]),
}
if set(LAW_ARGUMENTS) != set(FILL_NAMES):
    raise AssertionError(f"tests/test_properties.py: arguments for every law of {FILL_NAMES}, not {list(LAW_ARGUMENTS)}")
FILLS = st.one_of(*(st.tuples(st.just(name), LAW_ARGUMENTS[name][0]) for name in FILL_NAMES))
OFFSETS = st.one_of(st.integers(0, 2**20), st.integers(2**64 - 2**12, 2**64 - 1))


def _fill(tensor, spec, seed, offset):
    """The law's own function (its name's), with the drawn arguments; and its values' interval."""
    name, parameters = spec
    interval = LAW_ARGUMENTS[name][1](parameters)
    return getattr(deepinit, name)(tensor, *parameters, seed=seed, offset=offset), interval


def _outside(x, low, high, dtype):
    """Values outside [low, high], allowing the rounding of a bound to the dtype (or to float32,
    the compute type of the narrower dtypes), underflow included."""
    info = torch.finfo(dtype if dtype == torch.float64 else torch.float32)
    eps = max(torch.finfo(dtype).eps, info.eps)
    tiny = max(torch.finfo(dtype).tiny, info.tiny)
    slack_low = abs(low) * eps + tiny if math.isfinite(low) else 0.0
    slack_high = abs(high) * eps + tiny if math.isfinite(high) else 0.0
    return (x < low - slack_low) | (x > high + slack_high)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(view=views(), spec=FILLS, seed=st.integers(0, 2**64 - 1), offset=OFFSETS)
def test_any_view_equals_the_contiguous_fill_and_stays_in_bounds(view, spec, seed, offset):
    try:
        filled, (low, high) = _fill(view, spec, seed, offset)
    except RuntimeError as e:  # a truncation interval with no value of a 16-bit dtype in it
        assert "value lies in [a, b]" in str(e)
        return
    assert filled is view
    x = filled.double()
    assert torch.all(torch.isfinite(x))
    assert not torch.any(_outside(x, low, high, view.dtype))
    contiguous, _ = _fill(torch.empty(view.shape, dtype=view.dtype), spec, seed, offset)
    assert torch.equal(filled, contiguous)
    again, _ = _fill(torch.empty(view.shape, dtype=view.dtype), spec, seed, offset)
    assert torch.equal(again, contiguous)
