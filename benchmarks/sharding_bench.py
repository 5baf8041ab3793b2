"""Sharded and streamed init, measured (the results pages in docs/results hold its output).

1. Windows: time per element of row blocks and column blocks of a (rows x 128) float32 table,
   against the contiguous fill of the same number of elements.
2. Ranks: per-rank throughput of a DTensor init (gloo, one thread per rank, Shard(0) and
   Shard(1)) against one process filling a tensor of the same local size with one thread.
3. Streaming: init_table_file of a table larger than half the RAM into a .npy file, against
   numpy.save of the same bytes (both write through the page cache to the same disk).

    python benchmarks/sharding_bench.py [--skip-stream] [--stream-gb 13]
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import deepinit
from deepinit.bench import measure_in_turns

FILLS = {
    "uniform_": lambda t, **k: deepinit.uniform_(t, -1, 1, seed=1, **k),
    "normal_": lambda t, **k: deepinit.normal_(t, 0, 0.02, seed=1, **k),
    "trunc_normal_(std=0.02)": lambda t, **k: deepinit.trunc_normal_(t, std=0.02, seed=1, **k),
}


def windows(rows=200_000, cols=128):
    print(f"\n## Windows of a ({rows} x {cols}) float32 table, {torch.get_num_threads()} threads\n")
    print("| fill | block | ns/element | vs contiguous |")
    print("| --- | --- | --- | --- |")
    half = torch.empty(rows // 2, cols)
    blocks = {
        f"rows [{rows // 4}, {3 * rows // 4}) x all columns": (torch.empty(rows // 2, cols), (rows // 4, 0)),
        "all rows x columns [32, 96)": (torch.empty(rows, cols // 2), (0, 32)),
        "all rows x columns [32, 64)": (torch.empty(rows, cols // 4), (0, 32)),
        # Rows that do not hold whole 8-counter registers: across the Philox lanes.
        "all rows x columns [1, 128)": (torch.empty(rows, cols - 1), (0, 1)),
        "all rows x columns [3, 50)": (torch.empty(rows, 47), (0, 3)),
        "all rows x columns [43, 86) (uneven thirds)": (torch.empty(rows, 43), (0, 43)),
        "all rows x columns [5, 21)": (torch.empty(rows, 16), (0, 5)),
    }
    for name, fill in FILLS.items():
        calls = [lambda: fill(half)] + [
            lambda t=t, s=s: fill(t, global_shape=(rows, cols), start=s) for t, s in blocks.values()
        ]
        times = measure_in_turns("cpu", calls, 7)
        base = times[0] / half.numel()
        for label, (t, _), seconds in zip(blocks, blocks.values(), times[1:]):
            per = seconds / t.numel()
            print(f"| {name} | {label} | {1e9 * per:.2f} | {per / base:.2f}x |")


def _rank_worker(rank, world, store, shape, result_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, empty

    mesh = init_device_mesh("cpu", (world,))
    lines = []
    for dim in (0, 1):
        t = empty(shape, device_mesh=mesh, placements=[Shard(dim)])
        for name, fill in FILLS.items():
            dist.barrier()
            (seconds,) = measure_in_turns("cpu", [lambda: fill(t)], 7)
            lines.append(f"{dim}\t{name}\t{seconds}\t{t._local_tensor.numel()}")
    with open(os.path.join(result_dir, f"{rank}.tsv"), "w") as f:
        f.write("\n".join(lines))
    dist.barrier()  # no rank tears the group down while a peer still uses it
    dist.destroy_process_group()


def ranks(world=2, shape=(400_000, 128)):
    print(f"\n## Per-rank throughput, {world} ranks (gloo, 1 thread each) vs 1 process (1 thread)\n")
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_rank_worker, args=(world, os.path.join(tmp, "store"), shape, tmp), nprocs=world,
                           join=True, start_method="spawn")
        results = [line.split("\t") for r in range(world) for line in open(os.path.join(tmp, f"{r}.tsv"))]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    local = torch.empty(shape[0] // world, shape[1])
    single = {name: measure_in_turns("cpu", [lambda f=fill: f(local)], 7)[0] / local.numel() for name, fill in FILLS.items()}
    torch.set_num_threads(threads)
    print("| sharding | fill | per-rank GB/s (slowest rank) | one process GB/s | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for dim in ("0", "1"):
        for name in FILLS:
            per_rank = [float(s) / int(n) for d, f, s, n in results if d == dim and f == name]
            slowest = max(per_rank)
            print(f"| Shard({dim}) | {name} | {4 / slowest / 1e9:.2f} | {4 / single[name] / 1e9:.2f} | "
                  f"{single[name] / slowest:.2f} |")


STREAM_COLS = 128
STREAM_FILE = "deepinit_stream.npy"


def _stream_writer(writer, rows, directory):
    """One timed write in a fresh process: every writer starts from the same memory state."""
    cols, path = STREAM_COLS, os.path.join(directory, STREAM_FILE)
    if writer == "numpy.save":
        array = np.empty((rows, cols), dtype=np.float32)
        array.fill(0.5)  # in memory, as numpy.save needs it (not timed)
    start = time.perf_counter()
    if writer == "numpy.save":
        np.save(path, array)
    else:
        deepinit.init_table_file(path, (rows, cols), "normal_", std=0.02, seed=1, progress=False)
    os.sync()
    print(time.perf_counter() - start)


def streaming(gigabytes, directory, rounds=2):
    cols = STREAM_COLS
    rows = int(gigabytes * 1e9) // (4 * cols)
    print(f"\n## Streaming a ({rows} x {cols}) float32 table ({rows * cols * 4 / 1e9:.1f} GB) to .npy\n")
    path = os.path.join(directory, STREAM_FILE)
    # In turns, best of `rounds`, each write in its own process and followed by os.sync(): the
    # first write to fresh blocks of a virtual disk can be much slower than later ones,
    # whichever writer happens to go first.
    best = {"deepinit.init_table_file": math.inf, "numpy.save": math.inf}
    for _ in range(rounds):
        for writer in best:
            out = subprocess.run([sys.executable, __file__, "--stream-writer", writer, "--stream-rows", str(rows),
                                  "--dir", directory], check=True, capture_output=True, text=True).stdout
            best[writer] = min(best[writer], float(out.split()[-1]))
            os.remove(path)
    gb = rows * cols * 4 / 1e9
    ours, theirs = best["deepinit.init_table_file"], best["numpy.save"]
    print(f"Each writer {rounds} times in turns, each in a fresh process and followed by os.sync(); the best time of each.\n")
    print("| writer | seconds | GB/s |")
    print("| --- | --- | --- |")
    print(f"| deepinit.init_table_file (generates and writes) | {ours:.1f} | {gb / ours:.2f} |")
    print(f"| numpy.save (writes an array already in memory) | {theirs:.1f} | {gb / theirs:.2f} |")
    print(f"\ndeepinit runs at {100 * theirs / ours:.0f}% of numpy.save's speed.")


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--skip-stream", action="store_true")
    parser.add_argument("--stream-gb", type=float, default=None, help="table size (default: half the RAM + 1 GB)")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the streamed files go")
    parser.add_argument("--stream-writer", help=argparse.SUPPRESS)
    parser.add_argument("--stream-rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_writer:
        return _stream_writer(args.stream_writer, args.stream_rows, args.dir)
    windows()
    ranks()
    if not args.skip_stream:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
        streaming(args.stream_gb or ram / 2 + 1, args.dir)


if __name__ == "__main__":
    main()
