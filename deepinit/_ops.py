"""Fake (meta) kernels of the torch.ops.deepinit fills, for torch.compile and meta tensors.

The fills mutate their tensor in place and return nothing, so a fake has nothing to compute:
shapes, dtypes and devices are unchanged. Argument checks run in the real kernels (csrc/fill.cpp).
"""

import torch

from . import _C  # noqa: F401  (defines the ops that the fakes below attach to)


@torch.library.register_fake("deepinit::uniform_")
def _uniform_fake(self, low=0.0, high=1.0, *, seed=None, offset=0, generator=None, global_shape=None, start=None):
    return None


@torch.library.register_fake("deepinit::normal_")
def _normal_fake(self, mean=0.0, std=1.0, *, seed=None, offset=0, generator=None, global_shape=None, start=None):
    return None


@torch.library.register_fake("deepinit::trunc_normal_")
def _trunc_normal_fake(
    self, mean=0.0, std=1.0, a=-2.0, b=2.0, *, seed=None, offset=0, generator=None, global_shape=None, start=None
):
    return None
