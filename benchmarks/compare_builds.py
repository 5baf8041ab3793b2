"""Two builds of deepinit timed against each other: the CPU fills, whole tensors and column windows.

For a change to the kernels: check the old commit out in a second tree (`git worktree add`),
build both in place (`python setup.py build_ext --inplace`), then

    python benchmarks/compare_builds.py BEFORE_TREE AFTER_TREE [--rounds 4] [--threads 2]

Each round runs one process per tree, in turns, so that both see the same machine; each process
times every fill 15 times on a tensor allocated and touched beforehand and reports the median.
The table gives, per fill, the best median of each tree over the rounds and their ratio.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# (label, dtype, tensor shape, call); `t` is the tensor. Windows are 10^7-element blocks of
# columns of a wider table, one of each kind the CPU kernel distinguishes.
FILLS = [
    ("uniform_", "float32", (10_000, 1000), "deepinit.uniform_(t, -1, 1, seed=1)"),
    ("normal_", "float32", (10_000, 1000), "deepinit.normal_(t, 0, 0.02, seed=1)"),
    ("trunc_normal_(std=0.02)", "float32", (10_000, 1000), "deepinit.trunc_normal_(t, std=0.02, seed=1)"),
    ("trunc_normal_(a=5, b=6)", "float32", (10_000, 1000), "deepinit.trunc_normal_(t, a=5.0, b=6.0, seed=1)"),
    ("normal_", "bfloat16", (10_000, 1000), "deepinit.normal_(t, 0, 0.02, seed=1)"),
    ("normal_", "float64", (10_000, 1000), "deepinit.normal_(t, 0, 0.02, seed=1)"),
    ("uniform_, columns 256:512 of 1024", "float32", (40_000, 256),
     "deepinit.uniform_(t, -1, 1, seed=1, global_shape=(40000, 1024), start=(0, 256))"),
    ("uniform_, columns 2:102 of 1024", "float32", (100_000, 100),
     "deepinit.uniform_(t, -1, 1, seed=1, global_shape=(100000, 1024), start=(0, 2))"),
    ("normal_, columns 2:102 of 1024", "float32", (100_000, 100),
     "deepinit.normal_(t, 0, 0.02, seed=1, global_shape=(100000, 1024), start=(0, 2))"),
    ("normal_, columns 2:402 of 1024", "float32", (25_000, 400),
     "deepinit.normal_(t, 0, 0.02, seed=1, global_shape=(25000, 1024), start=(0, 2))"),
    ("normal_, columns 2:102 of 1001", "float32", (100_000, 100),
     "deepinit.normal_(t, 0, 0.02, seed=1, global_shape=(100000, 1001), start=(0, 2))"),
]


def worker(threads):
    import torch

    import deepinit

    torch.set_num_threads(threads)
    medians = []
    for _, dtype, shape, call in FILLS:
        t = torch.zeros(shape, dtype=getattr(torch, dtype))
        fill = eval(f"lambda t: {call}", {"deepinit": deepinit})
        fill(t)
        times = []
        for _ in range(15):
            start = time.perf_counter()
            fill(t)
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times) * 1e3)
    print(json.dumps({"capability": torch.ops.deepinit._cpu_capability(), "medians": medians}))


def run(tree, threads):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    done = subprocess.run([sys.executable, __file__, "--worker", "--threads", str(threads)], env=env, check=True,
                          capture_output=True, text=True, cwd=os.path.abspath(tree))
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("before", nargs="?", help="source tree of the build before (built in place)")
    parser.add_argument("after", nargs="?", help="source tree of the build after (built in place)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.threads)
    if not (args.before and args.after):
        parser.error("give the two source trees")
    best = {"before": [float("inf")] * len(FILLS), "after": [float("inf")] * len(FILLS)}
    for _ in range(args.rounds):
        for name, tree in (("before", args.before), ("after", args.after)):
            result = run(tree, args.threads)
            best[name] = [min(a, b) for a, b in zip(best[name], result["medians"])]
    print(f"{args.threads} threads, CPU kernel {result['capability']}, best of {args.rounds} medians of 15\n")
    print("| fill | dtype | before ms | after ms | after / before |")
    print("| --- | --- | --- | --- | --- |")
    for (label, dtype, _, _), before, after in zip(FILLS, best["before"], best["after"]):
        print(f"| {label} | {dtype} | {before:.2f} | {after:.2f} | {after / before:.3f} |")


if __name__ == "__main__":
    main()
