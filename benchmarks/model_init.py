"""torchtitan's llama3 initialised by its own init_weights(), with torch and with deepinit
(init_module_(model, seed, init=lambda m: m.init_weights())): time and peak resident memory per
rank, each init in a fresh process (or set of gloo ranks) of its own. The model is built on the
meta device and moved with to_empty first, as torchtitan's trainer does; the time is that of the
init alone. Needs torchtitan 0.3.0 (and what it imports: triton).

    python benchmarks/model_init.py                                   # the two runs below
    python benchmarks/model_init.py --run 1B:float32:1 --run 3B:bfloat16:4 --threads 2

A run is FLAVOR:DTYPE:RANKS; with more than one rank the model is sharded with FSDP2
(torchtitan's parallelize_llama, data_parallel_shard_degree = RANKS) over gloo on the CPU, and the
threads are shared among the ranks.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

DEFAULT_RUNS = ["1B:float32:1", "3B:bfloat16:4"]
SEED = 2026


def _build(flavor, dtype, ranks):
    """The llama3 model of `flavor` in `dtype`, on the meta device; sharded with FSDP2 over `ranks`."""
    import types

    import torch
    from torchtitan.models.llama3 import model_registry, parallelize_llama

    config = model_registry(flavor).model
    if ranks > 1:
        import torchtitan.distributed.parallel_dims as parallel_dims
        from torchtitan.config import CompileConfig, ParallelismConfig, TrainingConfig

        parallel_dims.device_type = "cpu"  # torchtitan assumes CUDA
        parallelism = ParallelismConfig(data_parallel_shard_degree=ranks)
        config.update_from_config(config=types.SimpleNamespace(parallelism=parallelism))
    default = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        with torch.device("meta"):
            model = config.build()
    finally:
        torch.set_default_dtype(default)
    if ranks > 1:
        dims = parallel_dims.ParallelDims(dp_replicate=1, dp_shard=ranks, cp=1, tp=1, pp=1, ep=1, world_size=ranks,
                                          spmd_backend=parallelism.spmd_backend)
        model = parallelize_llama(model, parallel_dims=dims, training=TrainingConfig(), parallelism=parallelism,
                                  compile_config=CompileConfig(), ac_config=None, dump_folder=tempfile.gettempdir())
    return model


def _one_rank(flavor, dtype, ranks, rank, library, threads, store):
    """One rank's run: build, to_empty, init; prints {"seconds", "peak_gib", "parameters"} as JSON."""
    import torch

    torch.set_num_threads(threads)
    if ranks > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=ranks)
    model = _build(flavor, dtype, ranks)
    parameters = sum(p.numel() for p in model.parameters())
    model.to_empty(device="cpu")
    torch.manual_seed(rank)
    began = time.perf_counter()
    if library == "deepinit":
        import deepinit

        deepinit.init_module_(model, SEED, init=lambda m: m.init_weights())
    else:
        with torch.no_grad():
            model.init_weights()
    seconds = time.perf_counter() - began
    if ranks > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_gib": peak, "parameters": parameters}))


def measure(flavor, dtype, ranks, library, threads):
    """The slowest rank's init time, the largest peak RSS of a rank, and the parameter count."""
    store = tempfile.mktemp()
    per_rank = max(1, threads // ranks)
    processes = [subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(
        [flavor, dtype, ranks, rank, library, per_rank, store])], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": str(per_rank)}) for rank in range(ranks)]
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{library} {flavor} rank failed (exit {process.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    if os.path.exists(store):
        os.remove(store)
    return max(r["seconds"] for r in results), max(r["peak_gib"] for r in results), results[0]["parameters"]


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--run", action="append", metavar="FLAVOR:DTYPE:RANKS",
                        help=f"a run (repeatable; default: {' and '.join(DEFAULT_RUNS)})")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads in all (default: all)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _one_rank(*json.loads(args.worker))
        return
    from importlib.metadata import version

    print(f"torch {version('torch')}, torchtitan {version('torchtitan')}, {args.threads} threads in all; each init in "
          "fresh processes; the time of the init alone (the slowest rank's), the peak RSS of the largest rank\n")
    print("| llama3 | parameters | dtype | ranks | torch.nn.init s | deepinit s | speedup | torch peak RSS GiB/rank "
          "| deepinit peak RSS GiB/rank |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for run in args.run or DEFAULT_RUNS:
        flavor, dtype, ranks = run.split(":")
        ranks = int(ranks)
        theirs, theirs_peak, parameters = measure(flavor, dtype, ranks, "torch", args.threads)
        ours, ours_peak, _ = measure(flavor, dtype, ranks, "deepinit", args.threads)
        print(f"| {flavor} | {parameters / 1e9:.2f} B | {dtype} | {ranks}{' (FSDP2)' if ranks > 1 else ''} | "
              f"{theirs:.2f} | {ours:.2f} | {theirs / ours:.1f}x | {theirs_peak:.2f} | {ours_peak:.2f} |", flush=True)


if __name__ == "__main__":
    main()
