"""How finely a float32 normal_ resolves the law: distinct values among N draws, and draws beyond
5.3 and 6 standard deviations among M (with the count the normal law expects), for deepinit and
the installed torch.nn.init.normal_. docs/accuracy.md holds its output.

    python benchmarks/resolution.py [--distinct 50000000] [--tails 1000000000]

M draws are made 10^8 at a time (deepinit: consecutive windows of one stream, by offset).
"""

import argparse
import math

import torch
import torch.nn.init as tinit

import deepinit

CHUNK = 10**8


def distinct(fill, n):
    return torch.unique(fill(torch.empty(n))).numel()


def beyond(fill, m, thresholds):
    counts = [0] * len(thresholds)
    done = 0
    while done < m:
        x = fill(torch.empty(min(CHUNK, m - done)), done).abs_()
        for i, t in enumerate(thresholds):
            counts[i] += int((x > t).sum())
        done += x.numel()
    return counts


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--distinct", type=int, default=5 * 10**7)
    parser.add_argument("--tails", type=int, default=10**9)
    args = parser.parse_args()
    thresholds = (5.3, 6.0)
    expected = [args.tails * math.erfc(t / math.sqrt(2)) for t in thresholds]
    generator = torch.Generator().manual_seed(0)
    methods = {
        f"deepinit {deepinit.__version__}": lambda t, offset=0: deepinit.normal_(t, seed=0, offset=offset),
        f"torch {torch.__version__} nn.init.normal_": lambda t, offset=0: tinit.normal_(t, generator=generator),
    }
    print(f"| method | distinct values in {args.distinct:.0e} draws | beyond 5.3 sigma in {args.tails:.0e} "
          f"(law: {expected[0]:.0f}) | beyond 6 sigma (law: {expected[1]:.1f}) | largest in the first draws |")
    print("|---|---:|---:|---:|---:|")
    for name, fill in methods.items():
        counts = beyond(fill, args.tails, thresholds)
        largest = float(fill(torch.empty(args.distinct)).abs().max())
        print(f"| {name} | {distinct(fill, args.distinct):,} | {counts[0]} | {counts[1]} | {largest:.4f} |")


if __name__ == "__main__":
    main()
