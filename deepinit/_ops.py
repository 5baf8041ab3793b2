"""The torch.ops.deepinit ops as the Python layer calls them, and the fills' fake kernels.

The fill ops are made from the C++ law catalog (csrc/laws.h). Each fake runs the fill's own checks
(the C++ function behind ``torch.ops.deepinit._check_fill``) on the fake tensor's dtype, device,
sizes and strides, and writes nothing: a meta tensor, or torch.compile's fake tensors, get the
error a real tensor gets for the same call, and nothing else (the fills mutate their tensor and
return nothing, so shapes, dtypes and devices are unchanged).
"""

import torch

from . import _C  # noqa: F401  (defines the ops)

FILL_NAMES = tuple(torch.ops.deepinit._fill_names())
FILLS = {name: getattr(torch.ops.deepinit, name).default for name in FILL_NAMES}
UNIFORM = FILLS["uniform_"]
NORMAL = FILLS["normal_"]
TRUNC_NORMAL = FILLS["trunc_normal_"]
SPLIT_STREAM = torch.ops.deepinit._split_stream.default
# The dtypes the fills write, by name, as the C++ dtype traits list them (csrc/dtypes.h).
DTYPES = {name: getattr(torch, name) for name in torch.ops.deepinit._dtype_names()}
_CHECK_FILL = torch.ops.deepinit._check_fill.default


def _register_fake(name):
    arguments = FILLS[name]._schema.arguments
    defaults = [a.default_value for a in arguments[1:] if not a.kwarg_only]  # the law's parameters

    def fake(self, *params, seed=None, offset=0, generator=None, global_shape=None, start=None, rows=None):
        _CHECK_FILL(name, self.dtype, self.device, self.shape, self.stride(), [*params, *defaults[len(params):]],
                    seed=seed, offset=offset, generator=generator, global_shape=global_shape, start=start, rows=rows)

    fake.__name__ = f"{name}_fake"
    torch.library.register_fake(f"deepinit::{name}")(fake)


for _name in FILL_NAMES:
    _register_fake(_name)
