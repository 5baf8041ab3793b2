"""Tensors of more than 2^31 elements: 64-bit indexing end to end (marked slow; CI runs them)."""

import pytest
import torch

import deepinit


@pytest.mark.slow
def test_cpu_float16_tensor_of_more_than_2_31_elements():
    n = 2**31 + 4099  # 4.3 GB of float16
    t = torch.empty(n, dtype=torch.float16)
    deepinit.trunc_normal_(t, std=0.02, seed=3)
    for start in (0, 2**31 - 2048, n - 5000):  # the head, across 2^31, the tail
        piece = deepinit.trunc_normal_(torch.empty(4096 if start < n - 5000 else 5000, dtype=torch.float16),
                                       std=0.02, seed=3, offset=start)
        assert torch.equal(t[start:start + piece.numel()], piece)
    assert bool(torch.isfinite(t[::65537]).all()) and t[::65537].abs().max().item() <= 2.0
