"""Instructions per element of the CPU fills, counted by valgrind's callgrind.

Callgrind counts instructions, not seconds, so these figures repeat exactly on a noisy machine
and say where the time goes. For each fill the script runs itself under valgrind (one process
per fill, as many at once as there are cores) with one thread and the AVX2 kernel (valgrind 3.19
does not decode AVX-512), collecting only inside the CPU kernel's entry function, and prints the
instructions per element.

    python benchmarks/count_instructions.py [--n 1000000]
"""

import argparse
import math
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

KERNEL = "void deepinit::cpu::(anonymous namespace)::SimdKernels::fill<*"
# (label, dtype, call); `t` holds n elements, as a vector or, for windows, as rows of W columns.
FILLS = [
    ("uniform_", "float32", "deepinit.uniform_(t, -1, 1, seed=1)"),
    ("normal_", "float32", "deepinit.normal_(t, 0, 0.02, seed=1)"),
    ("trunc_normal_(std=0.02)", "float32", "deepinit.trunc_normal_(t, std=0.02, seed=1)"),
    ("trunc_normal_(std=1,a=5,b=6)", "float32", "deepinit.trunc_normal_(t, a=5.0, b=6.0, seed=1)"),
    ("trunc_normal_(a=1,b=1+1e-6)", "float32", "deepinit.trunc_normal_(t, a=1.0, b=1.0 + 1e-6, seed=1)"),
    ("normal_", "bfloat16", "deepinit.normal_(t, 0, 0.02, seed=1)"),
    ("uniform_", "float64", "deepinit.uniform_(t, -1, 1, seed=1)"),
    ("normal_", "float64", "deepinit.normal_(t, 0, 0.02, seed=1)"),
]
# (label, dtype, fill, window width W, table width, first column)
WINDOWS = [
    (f"{fill}, columns {first}:{first + width} of {table}", dtype, fill, width, table, first)
    for fill in ("uniform_", "normal_")
    for dtype, width, table, first in [
        ("float32", 256, 1024, 256),  # rows of whole registers
        ("float32", 100, 1024, 2),  # a column block
        ("float32", 400, 1024, 2),  # wider rows, alike
        ("float32", 100, 1001, 2),  # rows that start anywhere
        ("float64", 100, 1024, 1),  # a column block
    ]
]
ARGS = {"uniform_": "-1, 1", "normal_": "0, 0.02"}


def case(index, n):
    """(label, dtype, tensor shape, call) of case `index`."""
    if index < len(FILLS):
        label, dtype, call = FILLS[index]
        return label, dtype, (n,), call
    label, dtype, fill, width, table, first = WINDOWS[index - len(FILLS)]
    rows = n // width
    call = f"deepinit.{fill}(t, {ARGS[fill]}, seed=1, global_shape=({rows}, {table}), start=(0, {first}))"
    return label, dtype, (rows, width), call


def worker(index, n):
    import torch

    import deepinit

    torch.set_num_threads(1)
    assert torch.ops.deepinit._cpu_capability() == "avx2"
    _, dtype, shape, call = case(index, n)
    t = torch.zeros(shape, dtype=getattr(torch, dtype))  # touched before the kernel runs
    eval(call, {"deepinit": deepinit, "t": t})


def count(index, n):
    env = dict(os.environ, DEEPINIT_CPU_CAPABILITY="avx2", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={KERNEL}",
         "--callgrind-out-file=/dev/null", sys.executable, __file__, "--worker", str(index), "--n", str(n)],
        env=env, check=True, capture_output=True, text=True)
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--n", type=int, default=1_000_000, help="elements per fill")
    parser.add_argument("--match", default="", help="only the fills whose label contains this text")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        return worker(args.worker, args.n)
    indices = [i for i in range(len(FILLS) + len(WINDOWS)) if args.match in case(i, args.n)[0]]
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        counts = list(pool.map(lambda i: count(i, args.n), indices))
    print(f"Instructions per element inside {KERNEL[5:].rstrip('<*')}, n = {args.n}, 1 thread (callgrind)\n")
    print("| fill | dtype | instructions / element |")
    print("| --- | --- | --- |")
    for index, total in zip(indices, counts):
        label, dtype, shape, _ = case(index, args.n)
        print(f"| {label} | {dtype} | {total / math.prod(shape):.2f} |")


if __name__ == "__main__":
    main()
