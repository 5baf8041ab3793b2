"""Model construction time with torch.nn.init and under deepinit.patch_torch() (the results
pages in docs/results hold its output). Construction allocates fresh memory, so these times
include first-touch page faults, which deepinit's parallel fill spreads over the threads.

    python benchmarks/patch_bench.py [--repeats 3]
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn

import deepinit

MODELS = {
    "nn.Embedding(10**7, 64)": lambda: nn.Embedding(10**7, 64),
    "12 x nn.TransformerEncoderLayer(1024, 16, 4096)": lambda: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(1024, 16, dim_feedforward=4096), num_layers=12, enable_nested_tensor=False
    ),
    "nn.Linear(8192, 8192)": lambda: nn.Linear(8192, 8192),
}


def seconds(build, patched, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        if patched:
            with deepinit.patch_torch():
                model = build()
        else:
            model = build()
        times.append(time.perf_counter() - start)
        del model
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU kernel "
          f"{torch.ops.deepinit._cpu_capability()}; medians of {args.repeats} constructions\n")
    print("| model | parameters | torch.nn.init s | patch_torch() s | speedup |")
    print("| --- | --- | --- | --- | --- |")
    for name, build in MODELS.items():
        params = sum(p.numel() for p in build().parameters())
        theirs = seconds(build, False, args.repeats)
        ours = seconds(build, True, args.repeats)
        print(f"| {name} | {params / 1e6:.1f} M | {theirs:.2f} | {ours:.2f} | {theirs / ours:.1f}x |")


if __name__ == "__main__":
    main()
