"""The Python API against torch.nn.init and the seed page: signatures, defaults, return values,
errors, warnings, gains, generators and the seed=/offset= extension."""

import inspect
import math
import warnings

import pytest
import torch
import torch.nn.init as tinit

import deepinit
from deepinit.functions import FUNCTIONS, names
from testing import DEVICES, FLOAT_DTYPES, RANDOM_FILLS, RANDOM_FILL_IDS

SEED_PAGE = names(seed_page=True)
RANDOM = names(torch_twin=True, window=True)


def test_the_catalog_is_the_api():
    assert SEED_PAGE == ["_no_grad_trunc_normal_", "calculate_gain", "zeros_", "ones_", "constant_", "normal_",
                         "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_"]
    assert set(names(torch_twin=True)) == {n for n in dir(tinit) if n.endswith("_") and not n.startswith("_")} | {
        "calculate_gain"}
    for name in deepinit.__all__:
        assert hasattr(deepinit, name), name
    for f in FUNCTIONS:
        assert getattr(deepinit, f.name) is f.function


def test_every_seed_function_and_uniform_exists():
    for name in SEED_PAGE + ["uniform_"]:
        assert callable(getattr(deepinit, name)), name


@pytest.mark.parametrize("name", names(torch_twin=True))
def test_signature_matches_torch(name):
    ours = inspect.signature(getattr(deepinit, name)).parameters
    theirs = inspect.signature(getattr(tinit, name)).parameters
    shared = [p for p in ours.values() if p.kind != inspect.Parameter.KEYWORD_ONLY]
    assert [p.name for p in shared] == list(theirs)
    for p in shared:
        assert p.default == theirs[p.name].default, (name, p.name)
    if name in RANDOM:
        assert ours["seed"].kind == ours["offset"].kind == inspect.Parameter.KEYWORD_ONLY
        assert ours["seed"].default is None and ours["offset"].default == 0


def test_no_grad_trunc_normal_signature_matches_the_seed():
    params = inspect.signature(deepinit._no_grad_trunc_normal_).parameters
    assert list(params)[:6] == ["tensor", "mean", "std", "a", "b", "generator"]
    assert params["generator"].default is None


@pytest.mark.parametrize(
    "nonlinearity,param",
    [
        ("linear", None),
        ("conv1d", None),
        ("conv2d", None),
        ("conv3d", None),
        ("conv_transpose1d", None),
        ("conv_transpose2d", None),
        ("conv_transpose3d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", 3),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(nonlinearity, param):
    ours = deepinit.calculate_gain(nonlinearity, param)
    assert ours == tinit.calculate_gain(nonlinearity, param)
    assert type(ours) is type(tinit.calculate_gain(nonlinearity, param))


def _same_error(call_ours, call_torch):
    with pytest.raises(Exception) as theirs:
        call_torch()
    with pytest.raises(Exception) as ours:
        call_ours()
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "name,args,kwargs",
    [
        ("calculate_gain", ("softplus",), {}),
        ("calculate_gain", ("leaky_relu", True), {}),
        ("calculate_gain", ("leaky_relu", "0.1"), {}),
        ("kaiming_uniform_", (torch.empty(5),), {}),
        ("kaiming_normal_", (torch.empty(5),), {}),
        ("xavier_uniform_", (torch.empty(5),), {}),
        ("xavier_normal_", (torch.empty(()),), {}),
        ("kaiming_uniform_", (torch.empty(3, 4),), {"mode": "fan_avg"}),
        ("kaiming_normal_", (torch.empty(3, 4),), {"nonlinearity": "softplus"}),
        ("kaiming_uniform_", (torch.empty(3, 4),), {"a": "x"}),
    ],
)
def test_errors_match_torch(name, args, kwargs):
    _same_error(lambda: getattr(deepinit, name)(*args, **kwargs), lambda: getattr(tinit, name)(*args, **kwargs))


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_zero_element_tensors_warn_like_torch(name):
    t = torch.empty(0, 3)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert getattr(deepinit, name)(t) is t


def test_trunc_normal_rejects_non_positive_std_with_value_error():
    for std in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="std must be positive"):
            deepinit.trunc_normal_(torch.empty(3), std=std)


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_"])
def test_zero_fan_raises_value_error(name):
    with pytest.raises(ZeroDivisionError):
        getattr(tinit, name)(torch.empty(0, 0))
    with pytest.raises(ValueError, match="fan_in \\+ fan_out > 0"):
        getattr(deepinit, name)(torch.empty(0, 0))


def test_trunc_normal_far_from_mean_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = deepinit.trunc_normal_(torch.empty(1000), mean=0.0, std=1.0, a=5.0, b=6.0, seed=1)
    assert torch.all((t >= 5.0) & (t <= 6.0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,fill", [(n, f) for n, f, _ in RANDOM_FILLS], ids=RANDOM_FILL_IDS)
def test_returns_the_same_tensor_and_keeps_requires_grad(device, name, fill):
    w = torch.empty(64, 100, device=device, requires_grad=True)
    out = fill(w, seed=0)
    assert out is w and w.requires_grad and w.grad_fn is None


@pytest.mark.parametrize("name", ["zeros_", "ones_", "constant_"])
@pytest.mark.parametrize("dtype", [torch.int32, torch.bool, torch.complex64, torch.float16])
def test_constant_fills_take_any_dtype(name, dtype):
    args = (torch.empty(4, 5, dtype=dtype),) + ((1,) if name == "constant_" else ())
    expected = getattr(tinit, name)(args[0].clone(), *args[1:])
    assert torch.equal(getattr(deepinit, name)(*args), expected)


@pytest.mark.parametrize("name", RANDOM)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int8, torch.bool, torch.complex64])
def test_random_fills_reject_other_dtypes_by_name(name, dtype):
    t = torch.zeros(8, 8, dtype=dtype)
    with pytest.raises(RuntimeError, match=f"dtype {dtype}"):
        getattr(deepinit, name)(t, seed=0)
    assert torch.equal(t, torch.zeros(8, 8, dtype=dtype))


@pytest.mark.parametrize("name", RANDOM)
def test_meta_tensors_are_a_no_op(name):
    t = torch.empty(16, 8, device="meta")
    assert getattr(deepinit, name)(t) is t


@pytest.mark.parametrize("name,fill", [(n, f) for n, f, _ in RANDOM_FILLS], ids=RANDOM_FILL_IDS)
def test_manual_seed_makes_sequences_reproducible(name, fill):
    def sequence():
        return [fill(torch.empty(64, 100)).clone() for _ in range(3)]

    torch.manual_seed(1234)
    first = sequence()
    torch.manual_seed(1234)
    second = sequence()
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    # Consecutive calls never reuse a stream.
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])


@pytest.mark.parametrize("name,fill", [(n, f) for n, f, _ in RANDOM_FILLS], ids=RANDOM_FILL_IDS)
def test_generator_seeded_like_the_default_gives_the_same_values(name, fill):
    torch.manual_seed(42)
    from_default = fill(torch.empty(64, 100))
    g = torch.Generator().manual_seed(42)
    from_generator = fill(torch.empty(64, 100), generator=g)
    assert torch.equal(from_default, from_generator)
    assert not torch.equal(from_generator, fill(torch.empty(64, 100), generator=g))


def test_explicit_seed_consumes_no_generator():
    state = torch.get_rng_state()
    deepinit.normal_(torch.empty(100), seed=5)
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("bad,error", [(-(2**63) - 1, ValueError), (2**64, ValueError), (True, TypeError), (1.5, TypeError)])
@pytest.mark.parametrize("argument", ["seed", "offset"])
def test_seed_and_offset_must_be_64_bit_ints(bad, error, argument):
    kwargs = {"seed": 1, argument: bad}
    with pytest.raises(error, match=argument):
        deepinit.normal_(torch.empty(3), **kwargs)


def test_negative_seeds_wrap_like_torch_manual_seed():
    a = deepinit.normal_(torch.empty(10), seed=-1)
    b = deepinit.normal_(torch.empty(10), seed=2**64 - 1)
    assert torch.equal(a, b)


def test_seed_and_generator_together_are_refused():
    with pytest.raises(ValueError, match="either seed= or generator="):
        deepinit.uniform_(torch.empty(3), generator=torch.Generator(), seed=1)
    with pytest.raises(ValueError, match="either seed= or generator="):
        torch.ops.deepinit.uniform_(torch.empty(3), seed=1, generator=torch.Generator())


def test_offset_needs_seed():
    with pytest.raises(ValueError, match="offset= needs seed="):
        deepinit.normal_(torch.empty(3), offset=5)
    with pytest.raises(ValueError, match="offset= needs seed="):
        torch.ops.deepinit.normal_(torch.empty(3), offset=5)


def test_kaiming_and_xavier_scale_like_torch():
    torch.manual_seed(0)
    w = torch.empty(256, 1024)
    bound = math.sqrt(3.0) * math.sqrt(2.0) / math.sqrt(1024)
    deepinit.kaiming_uniform_(w, nonlinearity="relu", seed=1)
    assert w.abs().max() <= bound and w.abs().max() > 0.999 * bound
    deepinit.xavier_uniform_(w, gain=0.5, seed=1)
    a = 0.5 * math.sqrt(6.0 / (256 + 1024))
    assert w.abs().max() <= a and w.abs().max() > 0.999 * a


def test_fills_bump_the_version_counter_like_in_place_ops():
    """A fill is an in-place op: autograd must refuse a backward pass through an overwritten tensor."""
    a = torch.ones(3, requires_grad=True)
    b = a * 1
    loss = (b * b).sum()
    version = b._version
    deepinit.normal_(b, seed=1)
    assert b._version == version + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_fills_record_no_history_without_no_grad():
    b = torch.ones(3, requires_grad=True) * 2
    torch.ops.deepinit.normal_(b, seed=1)  # the op itself, outside no_grad
    assert type(b.grad_fn).__name__ == "MulBackward0"


@pytest.mark.parametrize("generator,tensor,serves", [
    ("cuda", "cuda:0", True),   # torch.Generator("cuda") has no index: it serves every CUDA device
    ("cuda", "cuda:3", True),
    ("cuda:0", "cuda:0", True),
    ("cuda:1", "cuda:0", False),
    ("cpu", "cuda:0", False),
    ("cuda", "cpu", False),
    ("cpu", "cpu", True),
])
def test_which_generators_serve_which_devices(generator, tensor, serves):
    assert torch.ops.deepinit._generator_serves(torch.device(generator), torch.device(tensor)) is serves


def test_an_empty_window_still_draws_as_the_whole_fill():
    """A rank whose shard is empty keeps its generator in step with the other ranks."""
    g, h = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    deepinit.normal_(torch.empty(0, 5), generator=g, global_shape=(4, 5), start=(4, 0))
    deepinit.normal_(torch.empty(4, 5), generator=h)
    assert torch.equal(g.get_state(), h.get_state())


def test_sparse_with_a_generator_is_sparse_with_the_stream_the_generator_gives():
    g, h = torch.Generator().manual_seed(8), torch.Generator().manual_seed(8)
    from_generator = deepinit.sparse_(torch.empty(30, 20), 0.2, generator=g)
    seed, offset = deepinit._stream.split_stream(torch.empty(0), 0, generator=h)
    assert offset == 0
    assert torch.equal(from_generator, deepinit.sparse_(torch.empty(30, 20), 0.2, seed=seed, offset=offset))
    assert torch.equal(g.get_state(), h.get_state())
