"""TorchRec's own initialisation against init_module_ on sharded EmbeddingBagCollections: does a
table depend on the sharding plan and the world size?

For each plan (table-wise, row-wise, column-wise, table-row-wise), an EmbeddingBagCollection of 3
tables (dim 16) is sharded over 2 and then 4 processes (gloo, CPU, fused kernel), initialised by
TorchRec (torch.manual_seed(1234) on every rank, as at construction) and by
deepinit.init_module_(seed=1234), and gathered. Prints the largest difference between the
2-rank and the 4-rank tables, the largest difference from the unsharded collection initialised
the same way, and how many ranks hold bitwise identical shards.

    python benchmarks/torchrec_compare.py
"""

import os
import sys
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

TABLES = [(f"t{i}", 1000 + 300 * i, 16) for i in range(3)]
PLANS = ("table-wise", "row-wise", "column-wise", "table-row-wise")


def collection(device):
    from torchrec import EmbeddingBagCollection, EmbeddingBagConfig

    return EmbeddingBagCollection(tables=[EmbeddingBagConfig(name=n, num_embeddings=r, embedding_dim=d,
                                                             feature_names=[f"f_{n}"]) for n, r, d in TABLES],
                                  device=torch.device(device))


def plan_of(name, world):
    from torchrec.distributed.sharding_plan import column_wise, row_wise, table_row_wise, table_wise

    make = {"table-wise": lambda i: table_wise(rank=i % world, compute_kernel="fused"),
            "row-wise": lambda i: row_wise(compute_kernel="fused"),
            "column-wise": lambda i: column_wise(ranks=list(range(min(world, 4))), compute_kernel="fused"),
            "table-row-wise": lambda i: table_row_wise(host_index=0)}[name]
    return {n: make(i) for i, (n, _, _) in enumerate(TABLES)}


def worker(rank, world, store, out):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    import deepinit
    from deepinit.torchrec_tables import tables
    from torchrec.distributed.shard import shard
    from torchrec.distributed.sharding_plan import construct_module_sharding_plan
    from torchrec.distributed.types import ShardingEnv

    results = {}
    for plan_name in PLANS:
        for method in ("torchrec", "deepinit"):
            torch.manual_seed(1234)
            meta = collection("meta")
            plan = construct_module_sharding_plan(meta, plan_of(plan_name, world), world_size=world, local_size=world,
                                                  device_type="cpu")
            sharded = shard(meta, plan=plan, env=ShardingEnv.from_process_group(dist.group.WORLD),
                            device=torch.device("cpu"))
            if method == "deepinit":
                deepinit.init_module_(sharded, seed=1234)
            gathered, shards = {}, {}
            for table in tables("", sharded):
                whole = torch.zeros(table.shape, dtype=torch.float64)
                for tensor, (r, c) in table.pieces:
                    whole[r:r + tensor.shape[0], c:c + tensor.shape[1]] = tensor.detach().double()
                dist.all_reduce(whole)
                gathered[table.name] = whole.float()
                local = [t.detach().clone() for t, _ in table.pieces]
                everyone = [None] * world
                dist.all_gather_object(everyone, local)
                shards[table.name] = everyone
            results[(plan_name, method)] = (gathered, shards)
    if rank == 0:
        torch.save(results, out)
    dist.barrier()
    dist.destroy_process_group()


def run(world, tmp):
    out = os.path.join(tmp, f"world{world}.pt")
    mp.start_processes(worker, args=(world, os.path.join(tmp, f"store{world}"), out), nprocs=world, join=True,
                       start_method="spawn")
    return torch.load(out)


def identical_shards(everyone):
    """Ranks whose shards of a table equal another rank's bit for bit."""
    flat = [torch.cat([t.flatten() for t in shards]) if shards else None for shards in everyone]
    return sum(1 for i, a in enumerate(flat) if a is not None and a.numel() and
               any(j != i and b is not None and b.shape == a.shape and torch.equal(a, b) for j, b in enumerate(flat)))


def main():
    import deepinit

    torch.manual_seed(1234)
    unsharded = {"torchrec": collection("cpu")}
    unsharded["deepinit"] = deepinit.init_module_(collection("cpu"), seed=1234)
    reference = {m: {n: c.embedding_bags[n].weight.detach() for n, _, _ in TABLES} for m, c in unsharded.items()}
    with tempfile.TemporaryDirectory() as tmp:
        two, four = run(2, tmp), run(4, tmp)
    print("| plan | init | max diff, 2 vs 4 ranks | max diff vs unsharded (4 ranks) | ranks with a duplicate shard (4 ranks) |")
    print("| --- | --- | --- | --- | --- |")
    for plan_name in PLANS:
        for method in ("torchrec", "deepinit"):
            (g2, _), (g4, s4) = two[(plan_name, method)], four[(plan_name, method)]
            between = max(float((g2[n] - g4[n]).abs().max()) for n in g2)
            unsharded_diff = max(float((g4[n] - reference[method][n]).abs().max()) for n in g4)
            duplicates = max(identical_shards(s4[n]) for n in s4)
            label = "TorchRec alone" if method == "torchrec" else "deepinit.init_module_"
            print(f"| {plan_name} | {label} | {between:.3g} | {unsharded_diff:.3g} | {duplicates} |")


if __name__ == "__main__":
    sys.exit(main())
