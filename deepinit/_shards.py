"""The shards of a DTensor as windows of its logical tensor: what the stream layer fills on each
rank (deepinit.distributed documents the guarantees)."""

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
