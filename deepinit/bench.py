"""``python -m deepinit.bench``: every deepinit initialiser against its torch.nn.init twin.

For each device, size and dtype it prints time, GB/s written, the speedup over torch, and the
share of the device's ``fill_`` bandwidth measured in the same run. Tensors are allocated and
touched once, before timing, so the figures are for memory already mapped (first-touch page
faults would dominate otherwise; benchmarks/README.md says more). Medians of repeated calls;
CUDA timings use events after a synchronize.
"""

import argparse
import json
import math
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.init as tinit

import deepinit

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}
DEFAULT_SHAPES = [(1000, 1000), (10_000, 1000), (1_000_000, 128)]


def _case(label, ours, theirs):
    return {"function": label, "deepinit": ours, "torch": theirs}


# (label, deepinit call, torch.nn.init call); all on a 2-D tensor.
CASES = [
    _case("zeros_", deepinit.zeros_, tinit.zeros_),
    _case("ones_", deepinit.ones_, tinit.ones_),
    _case("constant_", lambda t: deepinit.constant_(t, 0.5), lambda t: tinit.constant_(t, 0.5)),
    _case("uniform_", lambda t: deepinit.uniform_(t, -1, 1), lambda t: tinit.uniform_(t, -1, 1)),
    _case("normal_", lambda t: deepinit.normal_(t, 0, 0.02), lambda t: tinit.normal_(t, 0, 0.02)),
    _case("trunc_normal_(std=0.02)", lambda t: deepinit.trunc_normal_(t, std=0.02), lambda t: tinit.trunc_normal_(t, std=0.02)),
    _case("trunc_normal_(std=1,a=-2,b=2)", lambda t: deepinit.trunc_normal_(t), lambda t: tinit.trunc_normal_(t)),
    _case(
        "trunc_normal_(std=1,a=5,b=6)",
        lambda t: deepinit.trunc_normal_(t, a=5.0, b=6.0),
        lambda t: tinit.trunc_normal_(t, a=5.0, b=6.0),
    ),
    _case("kaiming_uniform_", deepinit.kaiming_uniform_, tinit.kaiming_uniform_),
    _case("kaiming_normal_", deepinit.kaiming_normal_, tinit.kaiming_normal_),
    _case("xavier_uniform_", deepinit.xavier_uniform_, tinit.xavier_uniform_),
    _case("xavier_normal_", deepinit.xavier_normal_, tinit.xavier_normal_),
]


@dataclass
class Row:
    device: str
    function: str
    shape: tuple
    dtype: str
    deepinit_ms: float
    deepinit_gbps: float
    torch_ms: float  # nan when skipped
    speedup: float
    fill_fraction: float  # deepinit GB/s over fill_ GB/s of the same tensor
    threads: int


class Timer:
    def __init__(self, device, min_repeats, min_seconds, max_seconds):
        self.cuda = device.startswith("cuda")
        self.min_repeats, self.min_seconds, self.max_seconds = min_repeats, min_seconds, max_seconds

    def _once(self, fn, tensor):
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn(tensor)
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        t0 = time.perf_counter()
        fn(tensor)
        return time.perf_counter() - t0

    def median_seconds(self, fn, tensor):
        """Median of repeated calls after one warm-up; a call slower than max_seconds is timed once."""
        first = self._once(fn, tensor)
        if first > self.max_seconds:
            return first
        times = []
        began = time.perf_counter()
        while len(times) < self.min_repeats or time.perf_counter() - began < self.min_seconds:
            times.append(self._once(fn, tensor))
            if len(times) >= 200:
                break
        return statistics.median(times)


def _progress(message):
    sys.stderr.write(f"\r\033[K{message}")
    sys.stderr.flush()


def run(devices, shapes, dtypes, functions, min_repeats=5, min_seconds=0.3, torch_budget=20.0, max_seconds=5.0):
    rows = []
    cases = [c for c in CASES if functions is None or c["function"] in functions]
    total = len(devices) * len(shapes) * len(dtypes) * len(cases)
    done = 0
    for device in devices:
        timer = Timer(device, min_repeats, min_seconds, max_seconds)
        torch_seconds_per_element = {}  # to skip torch calls predicted to take too long
        for dtype_name in dtypes:
            for shape in sorted(shapes, key=math.prod):
                tensor = torch.zeros(shape, dtype=DTYPES[dtype_name], device=device)  # allocated and touched
                written = tensor.numel() * tensor.element_size()
                fill_gbps = written / timer.median_seconds(lambda t: t.fill_(1.0), tensor) / 1e9
                for case in cases:
                    done += 1
                    _progress(f"[{done}/{total}] {device} {dtype_name} {shape} {case['function']}")
                    ours = timer.median_seconds(case["deepinit"], tensor)
                    key = (case["function"], dtype_name)
                    predicted = torch_seconds_per_element.get(key, 0.0) * tensor.numel()
                    if predicted > torch_budget:
                        theirs = math.nan
                    else:
                        theirs = timer.median_seconds(case["torch"], tensor)
                        torch_seconds_per_element[key] = theirs / tensor.numel()
                    gbps = written / ours / 1e9
                    rows.append(
                        Row(device, case["function"], tuple(shape), dtype_name, ours * 1e3, gbps, theirs * 1e3,
                            theirs / ours, gbps / fill_gbps, torch.get_num_threads())
                    )
    _progress("")
    return rows


def format_table(rows):
    header = f"{'device':6} {'function':31} {'shape':>13} {'dtype':8} {'deepinit ms':>11} {'GB/s':>7} {'torch ms':>10} {'speedup':>8} {'% fill_':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = "x".join(str(s) for s in r.shape)
        torch_ms = "skipped" if math.isnan(r.torch_ms) else f"{r.torch_ms:10.2f}"
        speedup = "" if math.isnan(r.speedup) else f"{r.speedup:7.1f}x"
        lines.append(
            f"{r.device:6} {r.function:31} {shape:>13} {r.dtype:8} {r.deepinit_ms:11.2f} {r.deepinit_gbps:7.2f} "
            f"{torch_ms:>10} {speedup:>8} {100 * r.fill_fraction:6.0f}%"
        )
    return "\n".join(lines)


def machine_description():
    info = {
        "torch": torch.__version__,
        "deepinit": deepinit.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "threads": torch.get_num_threads(),
        "cpu_kernel": torch.ops.deepinit._cpu_capability(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def parse_shape(text):
    return tuple(int(s) for s in text.lower().split("x"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m deepinit.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", help="cpu, cuda or all (default: every available device)")
    parser.add_argument("--shapes", default=None, help="comma-separated shapes like 1000x1000,1000000x128")
    parser.add_argument("--dtypes", default="float32", help=f"comma-separated, from {', '.join(DTYPES)}")
    parser.add_argument("--functions", default=None, help="comma-separated function labels (default: all)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads before running")
    parser.add_argument("--repeats", type=int, default=5, help="minimum timed calls per measurement")
    parser.add_argument("--torch-budget", type=float, default=20.0,
                        help="skip a torch call predicted to take longer than this many seconds")
    parser.add_argument("--json", metavar="PATH", help="also write the rows and machine description as JSON")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = args.device.split(",")
    shapes = [parse_shape(s) for s in args.shapes.split(",")] if args.shapes else DEFAULT_SHAPES
    functions = args.functions.split(",") if args.functions else None
    dtypes = args.dtypes.split(",")

    machine = machine_description()
    print(f"deepinit {machine['deepinit']}, torch {machine['torch']}, {machine['processor']}, "
          f"{machine['threads']} threads, CPU kernel {machine['cpu_kernel']}"
          + (f", {machine['gpu']}" if "gpu" in machine else ""))
    print("Memory already touched before timing; medians; GB/s = bytes written / time; % fill_ = share of "
          "the bandwidth of tensor.fill_ on the same tensor.\n")
    rows = run(devices, shapes, dtypes, functions, min_repeats=args.repeats, torch_budget=args.torch_budget)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "rows": [asdict(r) for r in rows]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
