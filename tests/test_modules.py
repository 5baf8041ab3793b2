"""Reproducible whole-model init (init_module_): reset methods, or the model's own init code (init=),
every fill keyed by (seed, the tensor's name)."""

import functools

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn as nn
import torch.nn.init as tinit

import deepinit
from models import Model
from testing import DEVICES


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


# --- init=: the model's own init code, keyed --------------------------------------------------------

def _own_init(model, seed=21, **kwargs):
    return deepinit.init_module_(model, seed, init=lambda m: m.init_weights(**kwargs))


def _tensors(model):
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def test_init_runs_the_models_own_code_with_every_fill_keyed_by_name():
    torch.manual_seed(1)
    first = _own_init(Model())
    second = Model()
    torch.manual_seed(2)
    state = torch.get_rng_state()
    _own_init(second)
    assert torch.equal(torch.get_rng_state(), state)  # no generator was drawn from
    a, b = _tensors(first), _tensors(second)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    reversed_order = _tensors(_own_init(Model(), reverse=True))
    assert all(torch.equal(a[k], reversed_order[k]) for k in a)  # not the order of the calls
    other_seed = _tensors(_own_init(Model(), seed=22))
    assert not torch.equal(a["blocks.0.qkv.weight"], other_seed["blocks.0.qkv.weight"])


def test_init_keeps_the_models_own_laws():
    model = _own_init(Model(dim=64))
    weight = model.blocks["1"].qkv.weight
    thirds = weight.view(3, 64, 64)
    assert not torch.equal(thirds[0], thirds[1])  # three temporaries, three streams
    # torch.nn.init.trunc_normal_(std=.02) truncates at a=-2, b=2: a normal, in effect.
    assert scipy.stats.kstest(weight.detach().ravel().numpy(), scipy.stats.norm(0, 0.02).cdf).pvalue > 1e-3
    assert abs(model.blocks["1"].proj.weight.std().item() - 0.01) < 0.001
    assert torch.all(model.blocks["1"].norm.weight == 1) and torch.all(model.head.bias == 0)
    gate = model.blocks["1"].gate
    assert gate.min() >= 0.5 and gate.max() <= 1.5 and gate.std() > 0.2
    expected = deepinit.normal_(torch.empty(50, 64), std=0.5, seed=deepinit.parameter_key(21, "embed.weight"))
    assert torch.equal(model.embed.weight, expected)


def test_a_stage_that_holds_some_blocks_gets_the_whole_models_values():
    whole = _tensors(_own_init(Model()))
    stage = _tensors(_own_init(Model(blocks=(2,))))
    assert set(stage) < set(whole) and all(torch.equal(stage[k], whole[k]) for k in stage)


@pytest.mark.parametrize("device", DEVICES)
def test_init_on_the_meta_device_then_to_empty_equals_the_eager_init(device):
    eager = _tensors(_own_init(Model().to(device)))
    with torch.device("meta"):
        deferred = Model()
    deferred = _tensors(_own_init(deferred.to_empty(device=device)))
    assert all(torch.equal(eager[k], deferred[k]) for k in eager)


def test_init_that_leaves_a_parameter_untouched_is_reported_by_name():
    class Partial(Model):
        def init_weights(self):
            tinit.normal_(self.embed.weight)

    with pytest.raises(ValueError, match=r"init=, rule or fill initialised \['blocks.0.norm.weight'") as info:
        deepinit.init_module_(Partial(), 1, init=lambda m: m.init_weights())
    assert "\n" not in str(info.value)
    deepinit.init_module_(Partial(), 1, init=lambda m: m.init_weights(), strict=False)


def test_a_parameter_without_a_reset_method_is_reported_naming_init():
    with pytest.raises(ValueError, match=r"blocks.0.norm.weight.*init=lambda m: m.init_weights\(\)"):
        deepinit.init_module_(Model(), seed=1)


@pytest.mark.parametrize("name,init,text", [
    ("a tensor that is not the model's", lambda m: torch.empty(3).normal_(),
     "init= filled a tensor of shape (3,), float32, on cpu that is neither a parameter"),
    ("torch.randn", lambda m: m.head.weight.copy_(torch.randn(5, 16)), "init= called torch.randn, whose values come"),
    ("Tensor.bernoulli_", lambda m: m.head.weight.bernoulli_(0.5), "init= called Tensor.bernoulli_"),
])
def test_init_refuses_random_values_no_key_stands_for(name, init, text):
    with pytest.raises(ValueError) as info:
        deepinit.init_module_(Model(), 1, init=init, strict=False)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_randn_like_of_a_parameter_is_keyed_as_a_tensor_made_from_it():
    def init(model):
        model.head.weight.copy_(torch.randn_like(model.head.weight) * 0.1)
        model.embed.weight.copy_(torch.rand_like(model.embed.weight))

    first = deepinit.init_module_(Model(), 3, init=init, strict=False)
    torch.manual_seed(99)
    second = deepinit.init_module_(Model(), 3, init=init, strict=False)
    assert torch.equal(first.head.weight, second.head.weight) and torch.equal(first.embed.weight, second.embed.weight)
    assert abs(first.head.weight.std().item() - 0.1) < 0.03 and first.embed.weight.min() >= 0


def test_init_must_be_callable():
    with pytest.raises(TypeError, match="init= must be callable.*but got str"):
        deepinit.init_module_(Model(), 1, init="init_weights")


def test_rules_apply_after_init():
    model = deepinit.init_module_(Model(), 4, init=lambda m: m.init_weights(), rules={"*.bias": deepinit.ones_})
    assert torch.all(model.head.bias == 1) and torch.all(model.blocks["0"].qkv.bias == 1)


def test_a_buffer_the_init_replaces_is_named_anew_and_the_old_one_names_nothing():
    from deepinit.keyed import _storage

    class Cached(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(3))
            self.register_buffer("cache", torch.empty(1000))

        def init_weights(self):
            self.weight.data.fill_(1.0)
            old = _storage(self.cache)
            self.cache = torch.empty(1000)  # the old buffer is gone
            self.cache.normal_()  # the new one has the name
            # A tensor that takes the old buffer's storage has no name.
            stray = next((t for t in (torch.empty(1000) for _ in range(100)) if _storage(t) == old), None)
            if stray is None:
                pytest.skip("no tensor took the old buffer's storage")
            stray.normal_()

    with pytest.raises(ValueError, match="neither a parameter"):
        deepinit.init_module_(Cached(), 5, init=lambda m: m.init_weights())


class Tied(nn.Module):
    """A head tied to the embedding, re-tied by its init as torchtitan's Decoder does (to_empty
    unties them)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight

    def init_weights(self):
        self.embed.weight = self.head.weight
        tinit.normal_(self.head.weight, std=0.1)


def test_a_tied_weight_is_named_by_its_first_name_however_the_model_was_made():
    eager = deepinit.init_module_(Tied(), 8, init=lambda m: m.init_weights())
    with torch.device("meta"):
        deferred = Tied()
    deferred = deepinit.init_module_(deferred.to_empty(device="cpu"), 8, init=lambda m: m.init_weights())
    assert deferred.embed.weight is deferred.head.weight and torch.equal(deferred.head.weight, eager.head.weight)
    expected = deepinit.normal_(torch.empty(10, 4), std=0.1, seed=deepinit.parameter_key(8, "embed.weight"))
    assert torch.equal(eager.head.weight, expected)
