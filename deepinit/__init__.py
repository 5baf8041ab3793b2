"""deepinit: fused, counter-based, exactly reproducible tensor initialisation for PyTorch.

``import deepinit`` registers the ops ``torch.ops.deepinit.{uniform_,normal_,trunc_normal_}`` and
exposes the initialisers of DeePMD-kit's ``deepmd.pt.model.network.init`` (see deepinit.init).
"""

import torch  # noqa: F401  (loads libtorch before the extension)

from . import _C  # noqa: F401  (registers torch.ops.deepinit)
from . import _ops  # noqa: F401
from .init import (
    _no_grad_trunc_normal_,
    calculate_gain,
    constant_,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    ones_,
    trunc_normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)

__version__ = "0.1.0"

__all__ = [
    "_no_grad_trunc_normal_",
    "calculate_gain",
    "zeros_",
    "ones_",
    "constant_",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
    "xavier_normal_",
]
