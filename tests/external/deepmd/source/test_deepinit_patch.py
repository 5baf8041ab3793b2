"""The patch took: DeePMD-kit's layers call deepinit's functions, and a seeded layer's
parameters are reproducible and come from deepinit."""

import os

import pytest
import torch

pytestmark = pytest.mark.skipif(os.environ.get("DEEPINIT_PATCH", "1") != "1", reason="run without deepinit")


def test_deepmd_layers_call_deepinit():
    import deepinit
    from deepmd.pt.model.descriptor import repformer_layer
    from deepmd.pt.model.network import init, layernorm, mlp

    assert init.normal_ is deepinit.normal_ and init.trunc_normal_ is deepinit.trunc_normal_
    assert mlp.normal_ is deepinit.normal_ and layernorm.normal_ is deepinit.normal_
    assert repformer_layer.normal_ is deepinit.normal_


def test_a_seeded_layer_is_reproducible_and_drawn_by_deepinit(monkeypatch):
    import deepinit
    from deepmd.pt.model.network import mlp
    from deepmd.pt.utils import env

    calls = []
    original = deepinit.normal_
    monkeypatch.setattr(mlp, "normal_", lambda *a, **k: calls.append(1) or original(*a, **k))
    first = mlp.MLPLayer(64, 32, precision="float64", seed=7)
    second = mlp.MLPLayer(64, 32, precision="float64", seed=7)
    assert calls and torch.equal(first.matrix, second.matrix)
    assert first.matrix.device == env.DEVICE
