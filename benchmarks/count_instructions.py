"""Instructions per element of the CPU fills, counted by valgrind's callgrind.

Callgrind counts instructions, not seconds, so these figures repeat exactly on a noisy machine
and say where the time goes. For each fill the script runs itself under valgrind (one process
per fill, as many at once as there are cores) with one thread and the AVX2 kernel (valgrind 3.19
does not decode AVX-512), collecting only inside the CPU kernel's entry function, and prints the
instructions per element.

    python benchmarks/count_instructions.py [--n 1000000]
"""

import argparse
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

KERNEL = "deepinit::cpu::fill_contiguous_avx2(*"
# (label, dtype, call)
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


def worker(index, n):
    import torch

    import deepinit

    torch.set_num_threads(1)
    assert torch.ops.deepinit._cpu_capability() == "avx2"
    _, dtype, call = FILLS[index]
    t = torch.zeros(n, dtype=getattr(torch, dtype))  # touched before the kernel runs
    eval(call, {"deepinit": deepinit, "t": t})


def count(index, n):
    env = dict(os.environ, DEEPINIT_CPU_CAPABILITY="avx2", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={KERNEL}",
         "--callgrind-out-file=/dev/null", sys.executable, __file__, "--worker", str(index), "--n", str(n)],
        env=env, check=True, capture_output=True, text=True)
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="elements per fill")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        return worker(args.worker, args.n)
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        counts = list(pool.map(lambda i: count(i, args.n), range(len(FILLS))))
    print(f"Instructions per element inside {KERNEL[:-2]}, n = {args.n}, 1 thread (callgrind)\n")
    print("| fill | dtype | instructions / element |")
    print("| --- | --- | --- |")
    for (label, dtype, _), total in zip(FILLS, counts):
        print(f"| {label} | {dtype} | {total / args.n:.2f} |")


if __name__ == "__main__":
    main()
