"""Sharded init: every deepinit initialiser accepts a ``torch.distributed.tensor.DTensor``.

Each rank fills its own shard, with no communication, as the window of the logical tensor that
the shard covers (docs/sharding.md): element (i, j, ...) of the logical tensor gets the value that
depends only on (seed, offset, its logical index), so ``full_tensor()`` equals the
single-process init with the same seed, bit for bit, for any mesh and any placements
(``Shard(d)`` of any dim, uneven shards, ``Replicate``, meshes of several dims).

With ``seed=`` no collective is needed. With ``generator=`` or the default generator, each rank
draws the key from its own generator, so ranks agree when their generators are in the same
state: seed every rank alike (``torch.manual_seed(k)`` on all ranks, the usual practice before
building a sharded model), or pass ``seed=``. ``check_same_key`` verifies it with one
all-gather, for those who want to be sure.
"""

import torch


def is_dtensor(tensor) -> bool:
    if type(tensor).__name__ != "DTensor":  # avoids importing torch.distributed for plain tensors
        return False
    from torch.distributed.tensor import DTensor

    return isinstance(tensor, DTensor)


def shard_window(tensor):
    """(local tensor, global shape, global start of the local shard) of a DTensor."""
    from torch.distributed.tensor import Partial
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    if any(isinstance(p, Partial) for p in tensor.placements):
        raise ValueError(f"deepinit: cannot initialise a DTensor with Partial placements ({tensor.placements})")
    local = tensor._local_tensor  # the shard's own storage: filling it fills the DTensor
    shape, start = compute_local_shape_and_global_offset(tensor.shape, tensor.device_mesh, tensor.placements)
    if tuple(shape) != tuple(local.shape):
        raise RuntimeError(f"deepinit: local shard has shape {tuple(local.shape)}, expected {tuple(shape)}")
    return local, tuple(tensor.shape), tuple(start)


def draw_key(generator, device) -> int:
    """A 64-bit stream key drawn from `generator` (or the default generator of `device`)."""
    words = torch.empty(2, dtype=torch.int64, device=device).random_(0, 2**32, generator=generator)
    low, high = (int(w) for w in words.cpu())
    return (high << 32) | low


def fill_dtensor(op, tensor, params, generator, seed, offset, global_shape, start):
    from .init import _fill

    if global_shape is not None or start is not None:
        raise ValueError("deepinit: a DTensor gives its own window; do not pass global_shape= or start=")
    if seed is not None and generator is not None:
        raise ValueError("pass either seed= or generator=, not both")
    local, shape, begin = shard_window(tensor)
    if seed is None:
        if offset != 0:
            raise ValueError("offset= needs seed=: with a generator the stream position comes from the generator")
        seed = draw_key(generator, local.device)
    _fill(op, local, params, None, seed, offset, shape, begin)
    return tensor


def check_same_key(generator=None, device="cpu", group=None) -> int:
    """Draws the next key as a fill would, on every rank of `group`, and raises unless all ranks
    drew the same. Consumes the draw on every rank, like a fill."""
    import torch.distributed as dist

    key = draw_key(generator, device)
    mine = torch.tensor([key - (1 << 64) if key >= (1 << 63) else key], dtype=torch.int64)
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
    dist.all_gather(everyone, mine, group=group)
    if any(int(k) != int(mine) for k in everyone):
        raise RuntimeError(f"deepinit: ranks drew different keys {[int(k) for k in everyone]}: seed them alike")
    return key
