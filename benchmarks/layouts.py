"""Elements per second of one fill across memory layouts, against a contiguous fill of as many
elements on the same device: a column window of a table (global_shape= and start=), a strided
view, rows picked by random ids (rows=), a window of a 3-d tensor. Memory is touched before timing; each figure is the median of
--repeats rounds (CUDA: events after a synchronize).

    python benchmarks/layouts.py --device cuda --rows 8000000 --width 128 [--dtype bfloat16]
    python benchmarks/layouts.py --device cpu --rows 200000 --width 128
"""

import argparse
import statistics
import time

import torch

import deepinit


def timer(device):
    if device.type == "cuda":
        def run(fill):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fill()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
    else:
        def run(fill):
            t = time.perf_counter()
            fill()
            return time.perf_counter() - t
    return run


def cases(rows, width, device, dtype):
    """(label, out, keywords): each out holds rows * width / 2 elements."""
    half = width // 2
    table = (rows, width)
    yield "contiguous", torch.empty(rows, half, device=device, dtype=dtype), {}
    yield "column window [0, W/2)", torch.empty(rows, half, device=device, dtype=dtype), dict(global_shape=table, start=(0, 0))
    yield "column window [5, 5+W/2)", torch.empty(rows, half, device=device, dtype=dtype), dict(global_shape=table, start=(0, 5))
    yield "strided view [:, :W/2]", torch.empty(rows, width, device=device, dtype=dtype)[:, :half], {}
    # Rows by id: random ids into a table 100 times as tall (the rows a batch touches).
    ids = torch.randint(0, 100 * rows, (rows,), device=device, generator=torch.Generator(device).manual_seed(0))
    yield "rows by id, D=W/2", torch.empty(rows, half, device=device, dtype=dtype), dict(global_shape=(100 * rows, half), rows=ids)
    yield "rows by id, D=W", torch.empty(rows // 2, width, device=device, dtype=dtype), dict(global_shape=(100 * rows, width),
                                                                              rows=ids[: rows // 2])
    yield "rows by id, columns [5, 5+W/2)", torch.empty(rows, half, device=device, dtype=dtype), dict(
        global_shape=(100 * rows, width), start=(0, 5), rows=ids)
    cube = (rows // 8, 16, width)
    yield "3-d window [:, :, :W/2]", torch.empty(rows // 8, 8, half, device=device, dtype=dtype), dict(global_shape=cube, start=(0, 4, 0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64", "float16", "bfloat16"])
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    run = timer(device)
    fills = {
        "uniform_": lambda out, kw: deepinit.uniform_(out, -1, 1, seed=1, **kw),
        "normal_": lambda out, kw: deepinit.normal_(out, 0, 0.02, seed=1, **kw),
        "trunc_normal_(std=0.02)": lambda out, kw: deepinit.trunc_normal_(out, std=0.02, seed=1, **kw),
        "trunc_normal_(std=1,a=-2,b=2)": lambda out, kw: deepinit.trunc_normal_(out, std=1.0, a=-2.0, b=2.0, seed=1,
                                                                                **kw),
    }
    print(f"deepinit {deepinit.__version__}, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}; table {args.rows}x{args.width} {args.dtype}; "
          f"memory touched before timing, medians of {args.repeats} rounds")
    print()
    print("| function | layout | ms | Gelem/s | vs contiguous |")
    print("| --- | --- | --- | --- | --- |")
    for name, fill in fills.items():
        contiguous = None
        for label, out, kw in cases(args.rows, args.width, device, dtype):
            fill(out, kw)
            ms = statistics.median(run(lambda: fill(out, kw)) for _ in range(args.repeats)) * 1e3
            rate = out.numel() / ms / 1e6
            contiguous = contiguous or rate
            print(f"| {name} | {label} | {ms:.3f} | {rate:.2f} | {rate / contiguous:.2f}x |")
            del out


if __name__ == "__main__":
    main()
