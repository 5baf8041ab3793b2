"""TorchRec's own initialisation against deepinit.init_module_ at scale: a DistributedModelParallel
over 4 processes (gloo, CPU, one thread each) holding tables of --gib GiB float32 in all, sharded
row-wise with the fused kernel. Per rank: the time to build the DMP (allocation, FBGEMM's and
TorchRec's own init), the time of TorchRec's init alone run again (reset_parameters of the sharded
collection), the time of deepinit.init_module_, and the peak resident memory after each step.
Then 1000 random rows of every table, gathered, against the same rows of the unsharded init
computed alone (rows=).

    python benchmarks/torchrec_scale.py [--gib 8] [--ranks 4] [--tables 4] [--dim 128]
"""

import argparse
import os
import resource
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def peak_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def worker(rank, world, store, args, out):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    import deepinit
    from deepinit.torchrec_tables import collections, tables
    from torchrec import EmbeddingBagCollection, EmbeddingBagConfig
    from torchrec.distributed.model_parallel import DistributedModelParallel
    from torchrec.distributed.sharding_plan import construct_module_sharding_plan, row_wise
    from torchrec.distributed.types import ShardingEnv, ShardingPlan

    rows = int(args.gib * 2**30 / 4 / args.dim / args.tables)
    configs = [EmbeddingBagConfig(name=f"t{i}", num_embeddings=rows, embedding_dim=args.dim, feature_names=[f"f{i}"])
               for i in range(args.tables)]

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ebc = EmbeddingBagCollection(tables=configs, device=torch.device("meta"))

    model = Model()
    plan = ShardingPlan({"ebc": construct_module_sharding_plan(
        model.ebc, {c.name: row_wise(compute_kernel="fused") for c in configs}, world_size=world, local_size=world,
        device_type="cpu")})
    figures = {"start": peak_gib()}
    dist.barrier()
    t = time.perf_counter()
    dmp = DistributedModelParallel(model, env=ShardingEnv.from_process_group(dist.group.WORLD),
                                   device=torch.device("cpu"), plan=plan)
    figures["build"] = time.perf_counter() - t
    figures["build_peak"] = peak_gib()
    ((prefix, sharded, _),) = collections(dmp)
    dist.barrier()
    t = time.perf_counter()
    sharded.reset_parameters()
    figures["torchrec"] = time.perf_counter() - t
    figures["torchrec_peak"] = peak_gib()
    dist.barrier()
    t = time.perf_counter()
    deepinit.init_module_(dmp, seed=2024)
    figures["deepinit"] = time.perf_counter() - t
    figures["deepinit_peak"] = peak_gib()
    figures["local_gib"] = sum(p.numel() * 4 for table in tables(prefix, sharded) for p, _ in table.pieces) / 2**30
    # 1000 random rows of each table, gathered from the shards, against the same rows of the
    # unsharded init computed alone (rows=).
    from deepinit import parameter_key
    from deepinit.torchrec_tables import default_rule, key_name

    ids = torch.randint(0, rows, (1000,), generator=torch.Generator().manual_seed(0))
    figures["rows_equal"] = True
    for table in tables(prefix, sharded):
        picked = torch.zeros(len(ids), args.dim)
        for piece, (r, c) in table.pieces:
            inside = (ids >= r) & (ids < r + piece.shape[0])
            picked[inside, c:c + piece.shape[1]] = piece.detach()[ids[inside] - r]
        dist.all_reduce(picked)
        expected = default_rule(table.config)(torch.empty(len(ids), args.dim), seed=parameter_key(2024, key_name(table.name)),
                                              global_shape=table.shape, rows=ids)
        figures["rows_equal"] &= torch.equal(picked, expected)
    everyone = [None] * world
    dist.all_gather_object(everyone, figures)
    if rank == 0:
        torch.save(everyone, out)
    dist.barrier()
    dist.destroy_process_group()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=8.0)
    parser.add_argument("--ranks", type=int, default=4)
    parser.add_argument("--tables", type=int, default=4)
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "figures.pt")
        mp.start_processes(worker, args=(args.ranks, os.path.join(tmp, "store"), args, out), nprocs=args.ranks,
                           join=True, start_method="spawn")
        figures = torch.load(out)
    print("| rank | local tables (GiB) | peak before (GiB) | build DMP (s) | peak after build (GiB) | "
          "TorchRec's init (s) | peak after (GiB) | deepinit.init_module_ (s) | peak after (GiB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for rank, f in enumerate(figures):
        print(f"| {rank} | {f['local_gib']:.2f} | {f['start']:.2f} | {f['build']:.2f} | {f['build_peak']:.2f} | "
              f"{f['torchrec']:.2f} | {f['torchrec_peak']:.2f} | {f['deepinit']:.2f} | {f['deepinit_peak']:.2f} |")
    equal = all(f["rows_equal"] for f in figures)
    print(f"\n1000 random rows of each table, gathered, equal the unsharded init's: {equal}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
