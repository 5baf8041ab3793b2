"""The stream layer: the one path from the Python API to the fill ops.

Every random function (init.py, extra.py, modules.py, tables.py) fills through ``fill``, which
turns a call's stream arguments into the op's and nothing more: the op checks them, before it
writes anything (csrc/fill.cpp). A DTensor is filled as its local shard (or TorchRec's several
local shards), the window of its global shape that the shard covers, with the caller's seed or
generator (csrc/fill.h says how a generator gives the key, and that a window advances it as a
fill of the whole would).

This layer runs on every call, and models are mostly small parameters: it stays thin.
"""

import torch

from . import _C  # noqa: F401  (defines the ops)
from .distributed import is_dtensor, shard_window

UNIFORM = torch.ops.deepinit.uniform_.default
NORMAL = torch.ops.deepinit.normal_.default
TRUNC_NORMAL = torch.ops.deepinit.trunc_normal_.default

_U64 = 1 << 64
_I63 = 1 << 63


def u64_arg(value, name: str) -> int:
    """A seed or offset in [-2^63, 2^64), as the int64 two's complement the ops take.

    Negative values wrap modulo 2^64, as torch.manual_seed's do."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, but got {type(value).__name__}")
        value = int(value)
    if not -_I63 <= value < _U64:
        raise ValueError(f"{name} must lie in [-2**63, 2**64), but got {value}")
    return value - _U64 if value >= _I63 else value


_is_compiling = torch.compiler.is_compiling


def fill(op, tensor, params, generator=None, seed=None, offset=0, global_shape=None, start=None):
    """op(tensor, *params) with the stream arguments of a Python call; returns the tensor."""
    if type(tensor) is not torch.Tensor and is_dtensor(tensor):
        if global_shape is not None or start is not None:
            raise ValueError("deepinit: a DTensor gives its own window; do not pass global_shape= or start=")
        global_shape, pieces = shard_window(tensor)
        if len(pieces) == 1:
            _call(op, pieces[0][0], params, generator, seed, offset, global_shape, pieces[0][1])
            return tensor
        # Several shards on this rank (or none): one stream start for all of them, drawn as a
        # fill of the whole tensor would draw it.
        per_counter = 2 if tensor.dtype == torch.float64 else 4
        seed, offset = stream_start(torch.empty(0, dtype=tensor.dtype, device=tensor._local_tensor.device),
                                    -(-tensor.numel() // per_counter), generator, seed, offset)
        for local, where in pieces:
            _call(op, local, params, None, seed, offset, global_shape, where)
        return tensor
    # The common calls pass only the arguments they set, to the op's builtin itself (each keyword
    # argument and the OpOverload's own __call__ cost a fraction of a microsecond); Dynamo
    # traces the OpOverload.
    call = op if _is_compiling() else op._op
    if offset == 0 and global_shape is None and start is None:
        if seed is None:
            if generator is None:
                call(tensor, *params)
            else:
                call(tensor, *params, generator=generator)
            return tensor
        if generator is None:
            call(tensor, *params, seed=seed if type(seed) is int and 0 <= seed < _I63 else u64_arg(seed, "seed"))
            return tensor
    _call(call, tensor, params, generator, seed, offset, global_shape, start)
    return tensor


def _call(op, tensor, params, generator, seed, offset, global_shape, start):
    op(tensor, *params, seed=None if seed is None else u64_arg(seed, "seed"), offset=u64_arg(offset, "offset"),
       generator=generator, global_shape=None if global_shape is None else [int(n) for n in global_shape],
       start=None if start is None else [int(n) for n in start])


def stream_start(tensor, counters: int, generator=None, seed=None, offset=0):
    """(seed, offset) for a path that splits one stream between several fills of `tensor`'s
    device and dtype: seed= and offset= as given, else drawn from `generator` (or the device's
    default generator) by the rule the fills use, advancing it as a fill of `counters` Philox
    counters would."""
    seed, position = torch.ops.deepinit._stream_start(
        tensor, counters, seed=None if seed is None else u64_arg(seed, "seed"), offset=u64_arg(offset, "offset"),
        generator=generator,
    )
    return seed % _U64, position % _U64
