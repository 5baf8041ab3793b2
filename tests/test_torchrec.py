"""TorchRec: init_module_ on a sharded model fills every local shard of every table by its global
position, so that each gathered table equals init_module_ of the unsharded collection, for
table-wise, row-wise, column-wise, table-row-wise and mixed plans, fused and dense kernels,
ShardedTensor and DTensor state dicts, EmbeddingBagCollection and EmbeddingCollection, on 2 and
4 processes (gloo, CPU); and one forward pass equals the unsharded collection's. The same through
DistributedModelParallel with a plan from EmbeddingShardingPlanner (data-parallel, table-wise,
column-wise and table-column-wise tables, as the planner offers them on a CPU) or with dense
kernels, with ShardedTensor and DTensor state dicts. Skipped
without TorchRec (pip install fbgemm-gpu-cpu and torchrec, README's CI notes)."""

import functools
import os
import sys
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import deepinit

torchrec = pytest.importorskip("torchrec", reason="TorchRec is not installed")

TABLES = [(f"t{i}", 40 + 13 * i, 16) for i in range(4)]  # (name, rows, dim)


def _configs(kind, init_max=None):
    from torchrec import EmbeddingBagConfig, EmbeddingConfig

    config = EmbeddingBagConfig if kind == "ebc" else EmbeddingConfig
    return [config(name=n, num_embeddings=r, embedding_dim=d, feature_names=[f"f_{n}"],
                   **({"weight_init_max": init_max, "weight_init_min": -init_max} if init_max and n == "t1" else {}))
            for n, r, d in TABLES]


def _collection(kind, device, init_max=None):
    from torchrec import EmbeddingBagCollection, EmbeddingCollection

    make = EmbeddingBagCollection if kind == "ebc" else EmbeddingCollection
    return make(tables=_configs(kind, init_max), device=torch.device(device))


def _plans(world, kernel, kind="ebc"):
    from torchrec.distributed.sharding_plan import column_wise, row_wise, table_row_wise, table_wise

    last = world - 1
    # EmbeddingCollection has no table-row-wise sharding: its mixed plan puts that table whole on rank 0.
    twrw = table_row_wise(host_index=0) if kind == "ebc" else table_wise(rank=0, compute_kernel=kernel)
    return {
        "table-wise": {n: table_wise(rank=i % world, compute_kernel=kernel) for i, (n, _, _) in enumerate(TABLES)},
        "row-wise": {n: row_wise(compute_kernel=kernel) for n, _, _ in TABLES},
        "column-wise": {n: column_wise(ranks=list(range(min(world, 4))), compute_kernel=kernel) for n, _, _ in TABLES},
        # TorchRec picks table-row-wise's kernel itself.
        "table-row-wise": {n: table_row_wise(host_index=0) for n, _, _ in TABLES},
        "mixed": {"t0": table_wise(rank=last, compute_kernel=kernel), "t1": row_wise(compute_kernel=kernel),
                  "t2": column_wise(ranks=[0, last], compute_kernel=kernel),
                  "t3": twrw},
    }


def _gather(table_pieces, shape):
    """The whole table from every rank's pieces (a sum over ranks, divided by how many hold each
    element: data-parallel copies count once)."""
    whole = torch.zeros(shape, dtype=torch.float64)
    count = torch.zeros(shape, dtype=torch.float64)
    for tensor, (r, c) in table_pieces:
        whole[r:r + tensor.shape[0], c:c + tensor.shape[1]] += tensor.detach().to(torch.float64)
        count[r:r + tensor.shape[0], c:c + tensor.shape[1]] += 1
    dist.all_reduce(whole)
    dist.all_reduce(count)
    assert torch.all(count > 0), "a part of the table is on no rank"
    return (whole / count).to(torch.float32)


def _features(kind):
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    torch.manual_seed(0)
    keys = [f"f_{n}" for n, _, _ in TABLES]
    lengths = torch.tensor([1, 2, 0, 3, 1, 1, 2, 1], dtype=torch.int64)  # 4 tables x batch 2
    values = torch.cat([torch.randint(0, TABLES[i // 2][1], (int(lengths[i]),)) for i in range(len(lengths))])
    return KeyedJaggedTensor.from_lengths_sync(keys=keys, values=values, lengths=lengths)


def _check(kind, plan_name, generators, kernel, output_dtensor, world):
    from torchrec.distributed.shard import shard
    from torchrec.distributed.sharding_plan import construct_module_sharding_plan
    from torchrec.distributed.types import ShardingEnv

    from deepinit.torchrec_tables import tables

    meta = _collection(kind, "meta", init_max=0.3)
    plan = construct_module_sharding_plan(meta, generators, world_size=world, local_size=world, device_type="cpu")
    env = ShardingEnv.from_process_group(dist.group.WORLD)
    env.output_dtensor = output_dtensor
    sharded = shard(meta, plan=plan, env=env, device=torch.device("cpu"))
    assert deepinit.init_module_(sharded, seed=2024) is sharded
    reference = deepinit.init_module_(_collection(kind, "cpu", init_max=0.3), seed=2024)
    case = (kind, plan_name, kernel, output_dtensor, world)
    whole = {t.name: t for t in tables("", reference)}
    for table in tables("", sharded):
        assert torch.equal(_gather(table.pieces, table.shape), whole[table.name].pieces[0][0].detach()), (table.name, case)
    if output_dtensor:
        # A deepinit function called on a table's DTensor (over TorchRec's LocalShardsWrapper).
        attribute = "embedding_bags" if kind == "ebc" else "embeddings"
        dtensor = sharded.state_dict()[f"{attribute}.t1.weight"]
        deepinit.normal_(dtensor, std=0.5, seed=9)
        expected = deepinit.normal_(torch.empty(whole["t1"].shape), std=0.5, seed=9)
        table = next(t for t in tables("", sharded) if t.name == "t1")
        assert torch.equal(_gather(table.pieces, table.shape), expected), case
        deepinit.init_module_(sharded, seed=2024)
    # A forward pass: the sharded collection and the unsharded one agree on the same features.
    # (TorchRec 1.9.2's dense EmbeddingCollection kernel crashes in a CPU forward under gloo.)
    if kind == "ec" and kernel == "dense":
        return
    features = _features(kind)
    ours, theirs = sharded(features), reference(features)
    ours = ours.wait() if hasattr(ours, "wait") else ours
    # By feature: sharded outputs may list the features in another order.
    ours, theirs = (ours.to_dict(), theirs.to_dict()) if kind == "ebc" else (ours, theirs)
    for key in theirs:
        mine = ours[key] if kind == "ebc" else ours[key].values()
        expected = theirs[key] if kind == "ebc" else theirs[key].values()
        torch.testing.assert_close(mine, expected, rtol=1e-5, atol=1e-6, msg=f"{key} {case}")


class _Model(torch.nn.Module):
    """A small recommendation model as TorchRec users build it: tables and a dense layer."""

    def __init__(self, device):
        super().__init__()
        self.ebc = _collection("ebc", device, init_max=0.3)
        self.dense = torch.nn.Linear(len(TABLES) * TABLES[0][2], 4, device=device)

    def forward(self, features):
        return self.dense(self.ebc(features).values())


# The sharding types TorchRec's planner offers on a CPU, one table each.
PLANNER_TYPES = ["data_parallel", "table_wise", "column_wise", "table_column_wise"]


def _check_distributed_model_parallel(world, plan_from="planner", output_dtensor=False):
    """DistributedModelParallel as a user builds it: with a plan from EmbeddingShardingPlanner (its
    fused kernels), or with a mixed plan of fused or dense kernels (the planner offers no dense
    kernel on a CPU); with a state dict of ShardedTensors or DTensors. (With the planner's plan,
    TorchRec 1.9.2 fails to build its own DTensors: DTensor.from_local of a rank's empty shard.)"""
    from torchrec.distributed.embeddingbag import EmbeddingBagCollectionSharder
    from torchrec.distributed.model_parallel import DistributedModelParallel
    from torchrec.distributed.planner import EmbeddingShardingPlanner, ParameterConstraints, Topology
    from torchrec.distributed.sharding_plan import construct_module_sharding_plan
    from torchrec.distributed.types import ShardingEnv, ShardingPlan

    from deepinit.torchrec_tables import collections, tables

    model = _Model("meta")
    if plan_from == "planner":
        constraints = {n: ParameterConstraints(sharding_types=[kind]) for (n, _, _), kind in zip(TABLES, PLANNER_TYPES)}
        planner = EmbeddingShardingPlanner(topology=Topology(world_size=world, compute_device="cpu"),
                                           constraints=constraints, debug=False)
        plan = planner.collective_plan(model, [EmbeddingBagCollectionSharder()], dist.group.WORLD)
        chosen = {n: plan.plan["ebc"][n].sharding_type for n, _, _ in TABLES}
        assert chosen == {n: kind for (n, _, _), kind in zip(TABLES, PLANNER_TYPES)}, chosen
    else:
        plan = ShardingPlan({"ebc": construct_module_sharding_plan(model.ebc, _plans(world, plan_from)["mixed"],
                                                                   world_size=world, local_size=world,
                                                                   device_type="cpu")})
    env = ShardingEnv.from_process_group(dist.group.WORLD)
    env.output_dtensor = output_dtensor
    dmp = DistributedModelParallel(model, env=env, device=torch.device("cpu"), plan=plan)
    if output_dtensor:
        from torch.distributed.tensor import DTensor

        state = dmp.state_dict()
        assert any(isinstance(v, DTensor) for k, v in state.items() if "ebc" in k), list(state)
    assert deepinit.init_module_(dmp, seed=2024) is dmp
    reference = deepinit.init_module_(_collection("ebc", "cpu", init_max=0.3), seed=2024)
    whole = {t.name: t for t in tables("", reference)}
    ((prefix, sharded, _),) = collections(dmp)
    for table in tables(prefix, sharded):
        assert torch.equal(_gather(table.pieces, table.shape), whole[table.name].pieces[0][0].detach()), table.name
    # The dense layer: a module's own reset under the patch, the same on every rank (DDP).
    weight = dict(dmp.named_parameters())[next(n for n, _ in dmp.named_parameters() if n.endswith("dense.weight"))]
    gathered = [torch.empty_like(weight) for _ in range(world)]
    dist.all_gather(gathered, weight.detach().contiguous())
    assert all(torch.equal(g, gathered[0]) for g in gathered) and weight.abs().max() > 0


def _worker(rank, world, store, cases):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        for kind, plan_name, kernel, output_dtensor in cases:
            _check(kind, plan_name, _plans(world, kernel, kind)[plan_name], kernel, output_dtensor, world)
        for plan_from, output_dtensor in DMP_CASES:
            _check_distributed_model_parallel(world, plan_from, output_dtensor)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # Every check passed: leave without the interpreter's finalization, where threads of the gloo
    # work that DistributedDataParallel and TorchRec's own groups started can still abort the
    # process ("terminate called without an active exception").
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


CASES = [(kind, plan, kernel, False) for kind in ("ebc", "ec") for plan in ("table-wise", "row-wise", "column-wise",
                                                                              "mixed") for kernel in ("fused", "dense")]
CASES += [("ebc", "table-row-wise", "default", False)]
CASES += [("ebc", plan, "fused", True) for plan in ("row-wise", "mixed")]
DMP_CASES = [("planner", False), ("fused", True), ("dense", False), ("dense", True)]


@pytest.mark.parametrize("world", [2, 4])
def test_sharded_tables_equal_the_unsharded_init_for_every_plan(world):
    # One group of processes runs every case: TorchRec's imports cost most of a run.
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_worker, args=(world, os.path.join(tmp, "store"), CASES), nprocs=world, join=True,
                           start_method="spawn")


def test_unsharded_tables_follow_torchrecs_law_and_rules():
    ebc = deepinit.init_module_(_collection("ebc", "cpu", init_max=0.3), seed=1, rules={
        "t2": functools.partial(deepinit.trunc_normal_, std=0.02, a=-0.04, b=0.04)})
    bound = (1 / 40) ** 0.5
    t0 = ebc.embedding_bags["t0"].weight
    assert t0.abs().max() <= bound and t0.abs().max() > 0.9 * bound  # uniform +-sqrt(1 / rows)
    assert ebc.embedding_bags["t1"].weight.abs().max() > 0.25  # the config's own bounds, +-0.3
    assert ebc.embedding_bags["t2"].weight.abs().max() <= 0.04  # the rule
    again = deepinit.init_module_(_collection("ebc", "cpu", init_max=0.3), seed=1, rules={
        "t2": functools.partial(deepinit.trunc_normal_, std=0.02, a=-0.04, b=0.04)})
    assert all(torch.equal(a, b) for a, b in zip(ebc.parameters(), again.parameters()))
