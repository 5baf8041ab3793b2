"""One switch for existing models (patch, patch_torch) and reproducible whole-model init (init_module_)."""

import functools

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn as nn
import torch.nn.init as tinit

import deepinit
from testing import DEVICES


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


class Net(nn.Module):
    def __init__(self, extra=False):
        super().__init__()
        if extra:
            self.added = nn.Linear(8, 8)  # registered first: the others must not care
        self.embed = nn.Embedding(100, 16)
        self.encoder = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32)
        self.head = nn.Linear(16, 3)


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_init_module_is_keyed_by_name():
    a = _state(deepinit.init_module_(Net(), seed=5))
    b = _state(deepinit.init_module_(Net(), seed=5))
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = _state(deepinit.init_module_(Net(extra=True), seed=5))  # a layer added (and built first)
    assert all(torch.equal(a[k], c[k]) for k in a)
    d = _state(deepinit.init_module_(Net(), seed=6))
    assert not torch.equal(a["head.weight"], d["head.weight"])


def test_init_module_reproduces_each_modules_own_distributions():
    net = deepinit.init_module_(Net(), seed=1)
    bound = 1 / 16 ** 0.5  # nn.Linear: kaiming_uniform_(a=sqrt(5)) -> U(-1/sqrt(fan_in), ...)
    assert net.head.weight.abs().max() <= bound and net.head.weight.abs().max() > 0.8 * bound
    assert torch.all(net.encoder.self_attn.in_proj_bias == 0)  # MultiheadAttention's own reset
    assert abs(net.embed.weight.std().item() - 1) < 0.1  # nn.Embedding: N(0, 1)
    assert torch.all(net.encoder.norm1.weight == 1)


@pytest.mark.parametrize("device", DEVICES)
def test_deferred_init_equals_eager_init(device):
    eager = deepinit.init_module_(Net().to(device), seed=11)
    with torch.device("meta"):
        deferred = Net()
    deferred = deepinit.init_module_(deferred.to_empty(device=device), seed=11)
    for (k, v), (k2, v2) in zip(eager.state_dict().items(), deferred.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k


def test_rules_by_type_and_by_name():
    rules = {
        nn.Embedding: functools.partial(deepinit.normal_, std=0.02),
        "*.bias": deepinit.zeros_,
        "head.weight": functools.partial(deepinit.trunc_normal_, std=0.01, a=-0.02, b=0.02),
    }
    net = deepinit.init_module_(Net(), seed=2, rules=rules)
    assert abs(net.embed.weight.std().item() - 0.02) < 0.003
    assert all(torch.all(p == 0) for n, p in net.named_parameters() if n.endswith(".bias"))
    assert net.head.weight.abs().max() <= 0.02
    again = deepinit.init_module_(Net(), seed=2, rules=rules)
    assert torch.equal(net.head.weight, again.head.weight) and torch.equal(net.embed.weight, again.embed.weight)


def test_parameters_without_a_reset_or_rule_are_reported():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.randn(4))
            self.proj = nn.Linear(4, 4)

    with pytest.raises(ValueError, match="scale"):
        deepinit.init_module_(Custom(), seed=1)
    net = deepinit.init_module_(Custom(), seed=1, rules={"scale": deepinit.ones_})
    assert torch.all(net.scale == 1)


def test_meta_parameters_are_refused():
    with torch.device("meta"):
        net = Net()
    with pytest.raises(ValueError, match="to_empty"):
        deepinit.init_module_(net, seed=1)


def test_a_reset_method_that_needs_arguments_is_not_a_modules_own_reset():
    """TorchRec's DistributedModelParallel has _reset_parameters(self, module): init_module_ must
    not call it as the wrapper's own reset, and still initialise what it wraps."""

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(30, 20)

        def _reset_parameters(self, module):
            raise AssertionError("not a reset of the wrapper itself")

    model = Wrapper()
    deepinit.init_module_(model, seed=5)
    expected = nn.Linear(30, 20)
    deepinit.init_module_(expected, seed=5)
    assert not torch.equal(model.inner.weight, expected.weight)  # keyed by name: inner.weight vs weight
    again = Wrapper()
    deepinit.init_module_(again, seed=5)
    assert torch.equal(model.inner.weight, again.inner.weight)
