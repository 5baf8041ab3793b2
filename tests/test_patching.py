"""Existing code routed to deepinit (patch, patch_torch): by name, through torch.nn.init's helpers
(so torch.nn.init functions captured before the patch), and through Tensor.normal_ and
Tensor.uniform_; undone, nothing stays routed."""

import functools
import inspect
import sys
import types
import warnings

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn as nn
import torch.nn.init as tinit

import deepinit


def test_patch_torch_as_a_function_and_as_a_context_manager():
    original = tinit.normal_
    handle = deepinit.patch_torch()
    try:
        assert tinit.normal_ is deepinit.normal_ and tinit.kaiming_uniform_ is deepinit.kaiming_uniform_
    finally:
        handle.undo()
    assert tinit.normal_ is original
    with deepinit.patch_torch():
        with deepinit.patch_torch():  # nested patches restore in turn
            assert tinit.xavier_uniform_ is deepinit.xavier_uniform_
        assert tinit.xavier_uniform_ is deepinit.xavier_uniform_
    assert tinit.normal_ is original and tinit.xavier_uniform_ is not deepinit.xavier_uniform_


def test_patch_reaches_names_imported_from_torch_nn_init():
    import torch.nn.modules.activation as activation  # MultiheadAttention imports xavier_uniform_ by name

    before = activation.xavier_uniform_
    with deepinit.patch_torch():
        assert activation.xavier_uniform_ is deepinit.xavier_uniform_
    assert activation.xavier_uniform_ is before


def _fake_package(tmp_path, monkeypatch):
    """A stand-in for DeePMD-kit: its own init module (a torch.nn.init twin with generator=) and a
    layer module that imports the functions by name, as deepmd.pt.model.network.mlp does."""
    package = tmp_path / "fakedp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "init.py").write_text(
        "import torch\n"
        "def normal_(tensor, mean=0.0, std=1.0, generator=None):\n"
        "    with torch.no_grad():\n"
        "        return tensor.normal_(mean, std, generator=generator)\n"
        "def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):\n"
        "    with torch.no_grad():\n"
        "        return tensor.normal_(mean, std, generator=generator).clamp_(a, b)\n"
        "def helper(x):\n"
        "    return x\n")
    (package / "mlp.py").write_text(
        "import torch\n"
        "from .init import normal_, trunc_normal_, helper\n"
        "def make(seed):\n"
        "    g = torch.Generator().manual_seed(seed)\n"
        "    return normal_(torch.empty(64, 32), std=0.5, generator=g), trunc_normal_(torch.empty(16), generator=g)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module("fakedp.init"), importlib.import_module("fakedp.mlp")


def test_patch_reaches_a_modules_functions_and_every_name_imported_from_it(tmp_path, monkeypatch):
    init, mlp = _fake_package(tmp_path, monkeypatch)
    originals = (init.normal_, init.trunc_normal_, mlp.normal_, mlp.trunc_normal_, init.helper, mlp.helper)
    unpatched = mlp.make(3)
    with deepinit.patch("fakedp.init"):
        assert init.normal_ is deepinit.normal_ and mlp.normal_ is deepinit.normal_
        assert mlp.trunc_normal_ is deepinit.trunc_normal_ and mlp.helper is originals[-1]
        first, again = mlp.make(3), mlp.make(3)
        assert all(torch.equal(x, y) for x, y in zip(first, again))  # a seeded generator: the same values
        g = torch.Generator().manual_seed(3)
        assert torch.equal(first[0], deepinit.normal_(torch.empty(64, 32), std=0.5, generator=g))
    assert (init.normal_, init.trunc_normal_, mlp.normal_, mlp.trunc_normal_, init.helper, mlp.helper) == originals
    assert all(torch.equal(x, y) for x, y in zip(unpatched, mlp.make(3)))
    handle = deepinit.patch(init)
    try:
        assert mlp.normal_ is deepinit.normal_
    finally:
        handle.undo()
    assert mlp.normal_ is originals[2]


def test_patch_refuses_a_module_without_init_functions():
    import json

    with pytest.raises(ValueError, match="json"):
        deepinit.patch(json)


def _weights(make, patched, seed):
    torch.manual_seed(seed)
    if patched:
        with deepinit.patch_torch():
            return make()
    return make()


MODELS = {
    "Linear.weight": lambda: nn.Linear(300, 200).weight,
    "Linear.bias": lambda: nn.Linear(300, 2000).bias,
    "Conv2d.weight": lambda: nn.Conv2d(16, 32, 5).weight,
    "Embedding.weight": lambda: nn.Embedding(2000, 32).weight,
    "MultiheadAttention.in_proj_weight": lambda: nn.MultiheadAttention(64, 4).in_proj_weight,
    "LSTM.weight_ih_l0": lambda: nn.LSTM(64, 128).weight_ih_l0,
}


@pytest.mark.parametrize("name", MODELS)
def test_models_built_under_the_patch_have_torch_distributions(name):
    ours = _weights(MODELS[name], True, 1).detach().numpy().ravel()
    theirs = _weights(MODELS[name], False, 2).detach().numpy().ravel()
    assert not np.array_equal(ours, theirs)
    assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-4


def test_patched_construction_is_reproducible_and_consumes_the_default_generator():
    a = _weights(lambda: nn.Linear(50, 60).weight, True, 7)
    b = _weights(lambda: nn.Linear(50, 60).weight, True, 7)
    assert torch.equal(a, b)




# --- torch.nn.init functions captured before the patch, and Tensor methods ---------------------------

# (torch.nn.init function as captured, its call's arguments, deepinit's twin called alike)
CAPTURED = {
    "normal_": (tinit.normal_, dict(std=0.5), lambda t, g: deepinit.normal_(t, std=0.5, generator=g)),
    "uniform_": (tinit.uniform_, dict(a=-2.0, b=3.0), lambda t, g: deepinit.uniform_(t, -2.0, 3.0, generator=g)),
    "trunc_normal_": (tinit.trunc_normal_, dict(std=0.02), lambda t, g: deepinit.trunc_normal_(t, std=0.02, generator=g)),
    "trunc_normal_ far tail": (tinit.trunc_normal_, dict(a=5.0, b=6.0),
                               lambda t, g: deepinit.trunc_normal_(t, a=5.0, b=6.0, generator=g)),
    "kaiming_uniform_": (tinit.kaiming_uniform_, dict(a=5 ** 0.5), lambda t, g: deepinit.kaiming_uniform_(t, 5 ** 0.5,
                                                                                                       generator=g)),
    "kaiming_normal_": (tinit.kaiming_normal_, dict(mode="fan_out"),
                        lambda t, g: deepinit.kaiming_normal_(t, mode="fan_out", generator=g)),
    "xavier_uniform_": (tinit.xavier_uniform_, dict(gain=2.0), lambda t, g: deepinit.xavier_uniform_(t, 2.0, generator=g)),
    "xavier_normal_": (tinit.xavier_normal_, {}, lambda t, g: deepinit.xavier_normal_(t, generator=g)),
    "orthogonal_": (tinit.orthogonal_, {}, lambda t, g: deepinit.orthogonal_(t, generator=g)),
}


def _captured_three_ways(function, arguments):
    """The function held as code written before a patch holds it: a partial, a dict, a closure."""
    partial = functools.partial(function, **arguments)
    table = {"weight": function}

    def closure(tensor, generator):
        return function(tensor, generator=generator, **arguments)

    return [lambda t, g: partial(t, generator=g), lambda t, g: table["weight"](t, generator=g, **arguments), closure]


@pytest.mark.parametrize("name", CAPTURED)
def test_torch_init_functions_captured_before_the_patch_route_to_deepinit(name):
    function, arguments, twin = CAPTURED[name]
    expected = twin(torch.empty(12, 7), torch.Generator().manual_seed(5))
    with deepinit.patch_torch():
        for captured in _captured_three_ways(function, arguments):
            assert torch.equal(captured(torch.empty(12, 7), torch.Generator().manual_seed(5)), expected), name
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="mean is more than 2 std")  # torch's, for the far tail
        outside = function(torch.empty(12, 7), generator=torch.Generator().manual_seed(5), **arguments)
    assert not torch.equal(outside, expected)  # torch's own values again


def test_tensor_methods_route_to_deepinit_on_the_dtypes_it_fills():
    def expected(fill, dtype=torch.float32):
        return fill(torch.empty(6, 5, dtype=dtype), torch.Generator().manual_seed(2))

    with deepinit.patch_torch():
        g = lambda: torch.Generator().manual_seed(2)  # noqa: E731
        assert torch.equal(torch.empty(6, 5).normal_(1.0, 3.0, generator=g()),
                           expected(lambda t, h: deepinit.normal_(t, 1.0, 3.0, generator=h)))
        assert torch.equal(torch.empty(6, 5).uniform_(-1, 4, generator=g()),
                           expected(lambda t, h: deepinit.uniform_(t, -1.0, 4.0, generator=h)))
        assert torch.equal(torch.empty(6, 5).uniform_(**{"from": -1, "to": 4}, generator=g()),
                           expected(lambda t, h: deepinit.uniform_(t, -1.0, 4.0, generator=h)))
        parameter = nn.Parameter(torch.empty(6, 5, dtype=torch.bfloat16))
        assert parameter.data.normal_(std=0.1, generator=g()) is not None
        assert torch.equal(parameter.data, expected(lambda t, h: deepinit.normal_(t, std=0.1, generator=h),
                                                    torch.bfloat16))
        complex_values = torch.empty(4, dtype=torch.complex64).normal_(generator=g())  # no twin: torch's
        assert torch.equal(complex_values, torch.empty(4, dtype=torch.complex64).normal_(generator=g()))
        with pytest.raises(TypeError, match="from, to and generator"):
            torch.empty(3).uniform_(0, 1, 2)


def test_torch_helpers_route_to_deepinit():
    """torch.nn.init's functions look their helpers up when they run: routed, they route every
    captured copy of the functions that call them."""
    with deepinit.patch_torch():
        assert tinit._no_grad_trunc_normal_ is deepinit._no_grad_trunc_normal_
        assert tinit._no_grad_normal_ is deepinit.normal_ and tinit._no_grad_uniform_ is deepinit.uniform_


def test_undo_leaves_nothing_routed():
    originals = {name: getattr(tinit, name) for name in ("normal_", "_no_grad_normal_", "_no_grad_trunc_normal_")}
    outer = deepinit.patch_torch()
    inner = deepinit.patch_torch()
    inner.undo()
    assert torch.Tensor.normal_ is not torch._C.TensorBase.normal_  # the outer patch still routes
    assert tinit.normal_ is deepinit.normal_
    outer.undo()
    assert "normal_" not in vars(torch.Tensor) and "uniform_" not in vars(torch.Tensor)
    assert torch.Tensor.normal_ is torch._C.TensorBase.normal_
    assert all(getattr(tinit, name) is function for name, function in originals.items())
    torch.manual_seed(3)
    after = torch.empty(9).normal_()
    torch.manual_seed(3)
    assert torch.equal(after, torch.randn(9))  # torch's values: nothing routed
    outer.undo()  # a second undo does nothing
    assert torch.Tensor.normal_ is torch._C.TensorBase.normal_


# --- patch(module): every function deepinit has a twin for, by the module's own signature -------------


def _timm_like_module():
    module = types.ModuleType("timm_like_weight_init")
    exec(
        "import torch\n"
        "def trunc_normal_(tensor, mean=0., std=1., a=-2., b=2.):\n"
        "    with torch.no_grad():\n"
        "        return tensor.uniform_(a, b)\n"
        "def trunc_normal_tf_(tensor, mean=0., std=1., a=-2., b=2.):\n"
        "    return tensor\n"
        "def variance_scaling_(tensor, scale=1.0, mode='fan_in', distribution='normal'):\n"
        "    return tensor\n"
        "def lecun_normal_(tensor):\n"
        "    return tensor\n"
        "def normal_(tensor, mean, std, clip):\n"  # an argument deepinit's normal_ lacks: kept
        "    return tensor\n"
        "def helper(x):\n"
        "    return x\n", module.__dict__)
    sys.modules[module.__name__] = module
    return module


def test_patch_replaces_every_function_it_has_a_twin_for_by_the_modules_signature_and_defaults():
    module = _timm_like_module()
    try:
        original_signature = inspect.signature(module.variance_scaling_)
        with deepinit.patch(module) as handle:
            assert handle.replaced == ["lecun_normal_", "trunc_normal_", "trunc_normal_tf_", "variance_scaling_"]
            assert handle.kept == ["normal_"] and module.helper.__name__ == "helper"
            assert module.trunc_normal_ is deepinit.trunc_normal_  # the same arguments and defaults
            assert inspect.signature(module.variance_scaling_) == original_signature
            torch.manual_seed(4)
            routed = module.variance_scaling_(torch.empty(30, 20), 2.0)
            torch.manual_seed(4)
            # The module's default distribution, 'normal', not deepinit's 'truncated_normal'.
            assert torch.equal(routed, deepinit.variance_scaling_(torch.empty(30, 20), 2.0, distribution="normal"))
            torch.manual_seed(5)
            routed = module.lecun_normal_(torch.empty(30, 20))
            torch.manual_seed(5)
            assert torch.equal(routed, deepinit.lecun_normal_(torch.empty(30, 20)))
        assert inspect.signature(module.variance_scaling_) == original_signature
        assert module.trunc_normal_ is not deepinit.trunc_normal_
    finally:
        del sys.modules[module.__name__]
