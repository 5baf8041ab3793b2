"""DTensor init with real torch.distributed (gloo, on the CPU, 2 and 4 processes): every rank fills
its shard with no communication, and full_tensor() equals the single-process init bit for bit,
for Shard(0), Shard(1), uneven shards, Replicate and a 2-D mesh."""

import os
import sys
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import deepinit
from testing import RANDOM_FILLS, RANDOM_NAMES, call_random

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")

FILLS = {name: fill for name, fill, _ in RANDOM_FILLS}  # every function of the catalog that takes a window


def _layouts(world):
    from torch.distributed.tensor import Replicate, Shard

    layouts = [
        ((world,), [Shard(0)], (37, 13)),   # uneven rows
        ((world,), [Shard(1)], (11, 22)),   # uneven columns
        ((world,), [Replicate()], (9, 5)),
        ((world,), [Shard(0)], (2, 7)),     # fewer rows than ranks: empty shards
    ]
    if world == 4:
        layouts += [((2, 2), [Shard(0), Shard(1)], (10, 9)), ((2, 2), [Replicate(), Shard(0)], (15, 3)),
                    ((2, 2), [Shard(1), Shard(1)], (6, 17))]
    return layouts


def _worker(rank, world, store_path):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank, world_size=world)
    try:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.tensor import empty as dtensor_empty

        meshes = {}  # one mesh (and one set of gloo groups) per shape
        for mesh_shape, placements, shape in _layouts(world):
            if mesh_shape not in meshes:
                meshes[mesh_shape] = init_device_mesh("cpu", mesh_shape)
            mesh = meshes[mesh_shape]
            for name, fill in FILLS.items():
                for dtype in (torch.float32, torch.bfloat16):
                    sharded = dtensor_empty(shape, dtype=dtype, device_mesh=mesh, placements=placements)
                    assert fill(sharded, seed=1234, offset=7) is sharded
                    whole = fill(torch.empty(shape, dtype=dtype), seed=1234, offset=7)
                    full = sharded.full_tensor()
                    assert torch.equal(full, whole), (mesh_shape, placements, shape, name, dtype)
        # Generators: every random function, given a generator in the same state on every rank,
        # fills the DTensor as the unsharded call would and leaves the generator in its state.
        for mesh_shape, placements, shape in _layouts(world):
            mesh = meshes[mesh_shape]
            for name in RANDOM_NAMES:
                sharded = dtensor_empty(shape, device_mesh=mesh, placements=placements)
                g, h = torch.Generator().manual_seed(123), torch.Generator().manual_seed(123)
                assert call_random(name, sharded, generator=g) is sharded
                whole = call_random(name, torch.empty(shape), generator=h)
                assert torch.equal(sharded.full_tensor(), whole), (mesh_shape, placements, shape, name)
                assert torch.equal(g.get_state(), h.get_state()), (mesh_shape, placements, shape, name)
        # The default generator likewise; check_same_key agrees with what a fill takes.
        mesh = meshes[(world,)]
        from torch.distributed.tensor import Shard

        torch.manual_seed(99)
        sharded = dtensor_empty((23, 5), device_mesh=mesh, placements=[Shard(0)])
        deepinit.normal_(sharded)
        after = torch.get_rng_state()
        torch.manual_seed(99)
        assert torch.equal(sharded.full_tensor(), deepinit.normal_(torch.empty(23, 5)))
        assert torch.equal(torch.get_rng_state(), after)
        torch.manual_seed(99)
        key = deepinit.distributed.check_same_key()
        torch.manual_seed(99)
        assert torch.equal(deepinit.normal_(torch.empty(23, 5), seed=key), sharded.full_tensor())
        _model_worker(mesh)
        _own_init_worker(mesh, rank)
        # Every rank done with every group before any tears one down: gloo has aborted a rank
        # ("terminate called without an active exception") when a peer left first.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _model_worker(mesh):
    """A model built on the meta device, its parameters sharded, then init_module_: every
    parameter equals the single-process init_module_ of the same model."""
    import torch.nn as nn
    from torch.distributed.tensor import Shard, distribute_module, distribute_tensor

    def build():
        return nn.Sequential(nn.Embedding(50, 12), nn.Linear(12, 30), nn.LayerNorm(30), nn.Linear(30, 7))

    def shard_rows(name, module, device_mesh):
        for key, param in list(module.named_parameters(recurse=False)):
            module.register_parameter(key, nn.Parameter(distribute_tensor(param, device_mesh, [Shard(0)])))

    with torch.device("meta"):
        sharded = build()
    sharded = distribute_module(sharded.to_empty(device="cpu"), mesh, shard_rows)
    deepinit.init_module_(sharded, seed=2024)
    reference = deepinit.init_module_(build(), seed=2024)
    for (name, p), (_, q) in zip(sharded.named_parameters(), reference.named_parameters()):
        assert torch.equal(p.full_tensor(), q), name


def _own_init_worker(mesh, rank):
    """A model that initialises itself (tests/models.py) built on the meta device and sharded with
    FSDP2 (uneven shards on 4 ranks), then init_module_(init=), ranks seeded differently: every
    parameter and buffer equals the single-process init. The same code under patch_torch() alone,
    every rank seeded alike, equals the single-process run from that seed."""
    from torch.distributed.fsdp import fully_shard

    from models import Model

    def sharded_model():
        with torch.device("meta"):
            model = Model(dim=18)
        for block in model.blocks.values():
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
        return model.to_empty(device="cpu")

    def gathered(model):
        return {name: t.full_tensor() if deepinit.distributed.is_dtensor(t) else t
                for name, t in [*model.named_parameters(), *model.named_buffers()]}

    torch.manual_seed(1000 + rank)
    keyed = gathered(deepinit.init_module_(sharded_model(), 77, init=lambda m: m.init_weights()))
    reference = deepinit.init_module_(Model(dim=18), 77, init=lambda m: m.init_weights())
    for name, t in [*reference.named_parameters(), *reference.named_buffers()]:
        assert torch.equal(keyed[name], t), name
    routed = sharded_model()
    torch.manual_seed(5)
    with deepinit.patch_torch(), torch.no_grad():
        routed.init_weights()
    single = Model(dim=18)
    torch.manual_seed(5)
    with deepinit.patch_torch(), torch.no_grad():
        single.init_weights()
    routed = gathered(routed)
    for name, t in [*single.named_parameters(), *single.named_buffers()]:
        assert torch.equal(routed[name], t), name
    # A view of a DTensor parameter that is not the whole of it has no name alike on every rank.
    with pytest.raises(ValueError, match="view of DTensor head.weight"):
        deepinit.init_module_(sharded_model(), 77, init=lambda m: m.head.weight.t().normal_(), strict=False)


def _run_workers(world):
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_worker, args=(world, os.path.join(tmp, "store")), nprocs=world, join=True,
                           start_method="spawn")


@pytest.mark.parametrize("world", [2, 4])
def test_sharded_init_equals_single_process_init(world):
    try:
        _run_workers(world)
    except mp.ProcessExitedException as error:
        # Now and then (about 1 run in 10 on a loaded 2-core machine, torch 2.13 and 2.14) gloo
        # aborts a rank with "terminate called without an active exception". A failed check
        # raises in the worker instead (ProcessRaisedException), and a crash of deepinit's own
        # would repeat: one more run tells them apart.
        if error.signal_name != "SIGABRT":
            raise
        _run_workers(world)


def test_window_arguments_are_refused_on_a_dtensor():
    """A DTensor gives its own window; checked in a one-process group."""
    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group("gloo", init_method=f"file://{os.path.join(tmp, 's')}", rank=0, world_size=1)
        try:
            from torch.distributed.device_mesh import init_device_mesh
            from torch.distributed.tensor import Shard, empty

            t = empty((4, 4), device_mesh=init_device_mesh("cpu", (1,)), placements=[Shard(0)])
            with pytest.raises(ValueError, match="own window"):
                deepinit.normal_(t, seed=1, global_shape=(4, 4), start=(0, 0))
        finally:
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
