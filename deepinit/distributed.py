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

from ._shards import is_dtensor
from ._stream import split_stream

__all__ = ["check_same_key", "is_dtensor"]


def check_same_key(generator=None, device="cpu", group=None) -> int:
    """Raises unless every rank of `group` takes the same stream start from its generator (or
    the default generator of `device`); returns the key. On the CPU it consumes a draw on every
    rank, as a fill does; on CUDA it reads the generator's seed and position without moving it."""
    import torch.distributed as dist

    key, position = split_stream(torch.empty(0, device=device), 0, generator=generator)
    mine = torch.tensor([key, position], dtype=torch.int64)
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
    dist.all_gather(everyone, mine, group=group)
    if any(not torch.equal(k, mine) for k in everyone):
        raise RuntimeError(f"deepinit: ranks drew different stream starts {[k.tolist() for k in everyone]}: seed them alike")
    return key % (1 << 64)
