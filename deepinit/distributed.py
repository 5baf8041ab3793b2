"""Sharded init: every deepinit initialiser accepts a ``torch.distributed.tensor.DTensor``.

Each rank fills its own shard, with no communication, as the window of the logical tensor that
the shard covers (docs/sharding.md): element (i, j, ...) of the logical tensor gets the value that
depends only on (seed, offset, its logical index), so ``full_tensor()`` equals the
single-process init with the same seed, bit for bit, for any mesh and any placements
(``Shard(d)`` of any dim, uneven shards, ``Replicate``, meshes of several dims).

With ``seed=`` no collective is needed. With ``generator=`` or the default generator, each rank
takes the key from its own generator by the same rule as an unsharded fill of the whole tensor,
and advances it alike: ``full_tensor()`` equals that fill, and the generator ends in the same
state, when every rank's generator starts in the same state. Seed every rank alike
(``torch.manual_seed(k)`` on all ranks, the usual practice before building a sharded model), or
pass ``seed=``. ``check_same_key`` verifies it with one all-gather, for those who want to be sure.
"""

import torch


def is_dtensor(tensor) -> bool:
    if type(tensor).__name__ != "DTensor":  # avoids importing torch.distributed for plain tensors
        return False
    from torch.distributed.tensor import DTensor

    return isinstance(tensor, DTensor)


def shard_window(tensor):
    """(global shape, [(local tensor, global start), ...]) of a DTensor: its local shard, or each
    of the shards that TorchRec's LocalShardsWrapper holds on this rank (possibly none)."""
    from torch.distributed.tensor import Partial
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    if any(isinstance(p, Partial) for p in tensor.placements):
        raise ValueError(f"deepinit: cannot initialise a DTensor with Partial placements ({tensor.placements})")
    local = tensor._local_tensor  # the shard's own storage: filling it fills the DTensor
    if hasattr(local, "local_offsets") and hasattr(local, "local_shards"):  # torchrec's LocalShardsWrapper
        return tuple(tensor.shape), [(t, tuple(o)) for t, o in zip(local.local_shards(), local.local_offsets())]
    shape, start = compute_local_shape_and_global_offset(tensor.shape, tensor.device_mesh, tensor.placements)
    if tuple(shape) != tuple(local.shape):
        raise RuntimeError(f"deepinit: local shard has shape {tuple(local.shape)}, expected {tuple(shape)}")
    return tuple(tensor.shape), [(local, tuple(start))]


def fill_whole_then_shard(tensor, fill):
    """Fills a DTensor through `fill` of its whole logical tensor, for functions whose values
    need all of it at once (orthogonal_: a QR; sparse_: a sort down each column): every rank
    computes the whole, as the unsharded call would (drawing from its generator alike), and keeps
    its shard. Each rank holds the whole tensor while it does."""
    shape, pieces = shard_window(tensor)
    whole = fill(torch.empty(shape, dtype=tensor.dtype, device=tensor._local_tensor.device))
    with torch.no_grad():
        for local, start in pieces:
            local.copy_(whole[tuple(slice(s, s + n) for s, n in zip(start, local.shape))])
    return tensor


def check_same_key(generator=None, device="cpu", group=None) -> int:
    """Raises unless every rank of `group` takes the same stream start from its generator (or
    the default generator of `device`); returns the key. On the CPU it consumes a draw on every
    rank, as a fill does; on CUDA it reads the generator's seed and position without moving it."""
    import torch.distributed as dist

    from ._stream import stream_start

    key, position = stream_start(torch.empty(0, device=device), 0, generator)
    mine = torch.tensor([key - (1 << 64) if key >= (1 << 63) else key, position - (1 << 64) if position >= (1 << 63) else position], dtype=torch.int64)
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
    dist.all_gather(everyone, mine, group=group)
    if any(not torch.equal(k, mine) for k in everyone):
        raise RuntimeError(f"deepinit: ranks drew different stream starts {[k.tolist() for k in everyone]}: seed them alike")
    return key
