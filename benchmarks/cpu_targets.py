"""The CPU performance targets, each measured as a ratio in one run.

Float32 at 10^7 and 10^8 elements and as a (1,000,000 x 128) table; deepinit, torch.nn.init and
fill_ are timed in turns (deepinit.bench.measure_in_turns), medians. Prints one Markdown table
of target, measured figure and verdict; the results pages in docs/results hold its output.

    python benchmarks/cpu_targets.py [--sizes 1e7,1e8,1000000x128] [--repeats 7]
"""

import argparse
import math

import torch
import torch.nn.init as tinit

import deepinit
from deepinit.bench import measure_in_turns

UNIFORMS = {
    "uniform_": (lambda t: deepinit.uniform_(t, -1, 1), lambda t: tinit.uniform_(t, -1, 1)),
    "kaiming_uniform_": (deepinit.kaiming_uniform_, tinit.kaiming_uniform_),
    "xavier_uniform_": (deepinit.xavier_uniform_, tinit.xavier_uniform_),
}
NORMALS = {
    "normal_": (lambda t: deepinit.normal_(t, 0, 0.02), lambda t: tinit.normal_(t, 0, 0.02)),
    "kaiming_normal_": (deepinit.kaiming_normal_, tinit.kaiming_normal_),
    "xavier_normal_": (deepinit.xavier_normal_, tinit.xavier_normal_),
}
# name: (times torch, share of fill_ or None, deepinit, torch)
TRUNCATED = {
    "trunc_normal_(std=0.02)": (5, 0.28, lambda t: deepinit.trunc_normal_(t, std=0.02),
                                lambda t: tinit.trunc_normal_(t, std=0.02)),
    "trunc_normal_(std=1,a=-2,b=2)": (40, None, lambda t: deepinit.trunc_normal_(t), lambda t: tinit.trunc_normal_(t)),
    "trunc_normal_(std=1,a=5,b=6)": (
        500, None, lambda t: deepinit.trunc_normal_(t, a=5.0, b=6.0), lambda t: tinit.trunc_normal_(t, a=5.0, b=6.0)),
}
# Far tails and narrow intervals against trunc_normal_(std=1, a=-2, b=2), per element.
HARD_CASES = {
    "[5, 6]": (0.0, 1.0, 5.0, 6.0),
    "[8, 9]": (0.0, 1.0, 8.0, 9.0),
    "[12, 13] (log-space plan in float32)": (0.0, 1.0, 12.0, 13.0),
    "[20, 21]": (0.0, 1.0, 20.0, 21.0),
    "[-inf, -30]": (0.0, 1.0, -math.inf, -30.0),
    "[1, 1 + 1e-6]": (0.0, 1.0, 1.0, 1.0 + 1e-6),
    "[0, 1e-6]": (0.0, 1.0, 0.0, 1e-6),
    "[3, 3 + 1e-3]": (0.0, 1.0, 3.0, 3.0 + 1e-3),
}


def shape_of(text):
    """"1e7" is a (10^4, 1000) matrix (Kaiming and Xavier need 2 dims); "AxB" is as written."""
    if "x" in text:
        return tuple(int(s) for s in text.split("x"))
    return (int(float(text)) // 1000, 1000)


def row(target, measured, ok):
    print(f"| {target} | {measured} | {'met' if ok else '**not met**'} |")


def speed_targets(shape, repeats):
    t = torch.zeros(shape)
    n = t.numel()
    label = "x".join(map(str, shape)) if shape[1] != 1000 else f"{n:.0e}".replace("+0", "")
    for name, (ours, theirs) in UNIFORMS.items():
        a, b, fill = measure_in_turns("cpu", [lambda: ours(t), lambda: theirs(t), lambda: t.fill_(1.0)], repeats)
        row(f"{name} {label}: >= 5x torch", f"{b / a:.1f}x ({1e3 * a:.1f} vs {1e3 * b:.1f} ms)", b / a >= 5)
        share_of_fill(f"{name} {label}", n, a, fill, 0.5)
    for name, (ours, theirs) in NORMALS.items():
        a, b, fill = measure_in_turns("cpu", [lambda: ours(t), lambda: theirs(t), lambda: t.fill_(1.0)], repeats)
        row(f"{name} {label}: >= 7x torch", f"{b / a:.1f}x ({1e3 * a:.1f} vs {1e3 * b:.1f} ms)", b / a >= 7)
        share_of_fill(f"{name} {label}", n, a, fill, 0.3)
    for name, (factor, share, ours, theirs) in TRUNCATED.items():
        a, b, fill = measure_in_turns("cpu", [lambda: ours(t), lambda: theirs(t), lambda: t.fill_(1.0)], repeats)
        row(f"{name} {label}: >= {factor}x torch", f"{b / a:.0f}x ({1e3 * a:.1f} vs {1e3 * b:.0f} ms)", b / a >= factor)
        if share:
            share_of_fill(f"{name} {label}", n, a, fill, share)


def share_of_fill(what, n, seconds, fill, target):
    """float32 bytes written per second, as a share of fill_'s."""
    row(f"{what}: >= {100 * target:.0f}% of fill_",
        f"{100 * fill / seconds:.0f}% ({4 * n / seconds / 1e9:.1f} vs {4 * n / fill / 1e9:.1f} GB/s)", fill / seconds >= target)


def dtype_and_thread_targets(n, repeats):
    fills = {
        "uniform_": lambda t: deepinit.uniform_(t, -1, 1),
        "normal_": lambda t: deepinit.normal_(t, 0, 0.02),
        "trunc_normal_(std=0.02)": lambda t: deepinit.trunc_normal_(t, std=0.02),
    }
    tensors = {d: torch.zeros(n, dtype=d) for d in (torch.float32, torch.float64, torch.float16, torch.bfloat16)}
    for name, fill in fills.items():
        times = measure_in_turns("cpu", [lambda d=d: fill(tensors[d]) for d in tensors], repeats)
        base = times[0]
        for dtype, seconds in zip(list(tensors)[1:], times[1:]):
            ratio = seconds / base
            # float64 spends two Philox words per element, twice float32's work for uniform_ (the
            # instruction ratio, 2.0-2.1x, with room for noise); its quantile keeps contract v1's
            # tails (15% of elements) where float32's leave 0.124%: 2.4x the instructions (AVX2).
            limit = (2.3 if name == "uniform_" else 3.2) if dtype == torch.float64 else 1.5
            row(f"{name} {str(dtype)[6:]} {n:.0e}: <= {limit}x float32 time", f"{ratio:.2f}x", ratio <= limit)
    threads = torch.get_num_threads()
    t = tensors[torch.float32]
    for name, fill in fills.items():
        torch.set_num_threads(1)
        (one,) = measure_in_turns("cpu", [lambda: fill(t)], repeats)
        torch.set_num_threads(max(2, threads))
        (two,) = measure_in_turns("cpu", [lambda: fill(t)], repeats)
        row(f"{name} {n:.0e}: 1 -> 2 threads >= 1.8x", f"{one / two:.2f}x", one / two >= 1.8)
    torch.set_num_threads(threads)


def hard_case_targets(n, repeats):
    for dtype in (torch.float32, torch.float64):
        t = torch.zeros(n, dtype=dtype)
        calls = [lambda: deepinit.trunc_normal_(t)] + [
            lambda c=c: deepinit.trunc_normal_(t, *c) for c in HARD_CASES.values()
        ]
        times = measure_in_turns("cpu", calls, repeats)
        for name, seconds in zip(HARD_CASES, times[1:]):
            ratio = seconds / times[0]
            row(f"trunc_normal_ {name} {str(dtype)[6:]}: <= 1.5x [-2, 2]", f"{ratio:.2f}x", ratio <= 1.5)


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--sizes", default="1e7,1e8,1000000x128")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU kernel {torch.ops.deepinit._cpu_capability()}\n")
    print("| target | measured | verdict |")
    print("| --- | --- | --- |")
    for size in args.sizes.split(","):
        speed_targets(shape_of(size), args.repeats)
    dtype_and_thread_targets(10**7, args.repeats)
    hard_case_targets(10**7, args.repeats)


if __name__ == "__main__":
    main()
