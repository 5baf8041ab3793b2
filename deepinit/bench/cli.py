"""The command line of deepinit-bench (and python -m deepinit bench)."""

import importlib.util
import json
import math
import platform
import sys
from dataclasses import asdict

import torch

import deepinit
from deepinit._argparse import SUPPRESS, Parser, parse_shape
from deepinit._ops import DTYPES
from deepinit.bench.fills import CASES, DEFAULT_SHAPES, format_table, jax_worker, plot, run
from deepinit.bench.per_call import PER_CALL, format_per_call, per_call
from deepinit.bench.timing import warn_if_loaded


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


def split_labels(text):
    """Comma-separated labels, where commas inside parentheses belong to a label:
    "normal_,trunc_normal_(std=1,a=5,b=6)" is two."""
    labels, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            labels.append(current)
            current = ""
        else:
            current += char
    return labels + [current]


def _parser():
    description = " ".join(sys.modules["deepinit.bench"].__doc__.split("\n\n")[0].split())
    parser = Parser(prog="deepinit-bench", description=description)
    parser.add_argument("--device", default="all", help="cpu, cuda, or all: every available device")
    parser.add_argument("--shapes", default=None,
                        help="comma-separated shapes of two dims or more, like 1000x1000,1000000x128")
    parser.add_argument("--dtypes", default="float32", help=f"comma-separated, from {', '.join(DTYPES)}")
    parser.add_argument("--functions", default=None,
                        help=f"comma-separated function labels (default: all): {', '.join(c.function for c in CASES)}")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads before running")
    parser.add_argument("--repeats", type=int, default=7, help="minimum timed rounds per measurement")
    parser.add_argument("--torch-budget", type=float, default=20.0,
                        help="skip a torch call predicted to take longer than this many seconds")
    parser.add_argument("--jax", action="store_true", help="also time JAX's twins on the CPU (needs jax)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows and machine description as JSON")
    parser.add_argument("--plot", metavar="PATH", help="also draw GB/s per function into a PNG (needs matplotlib)")
    parser.add_argument("--per-call", action="store_true",
                        help="instead, microseconds per call on small CPU tensors (1 thread unless --threads)")
    parser.add_argument("--jax-worker", help=SUPPRESS)
    return parser


def _checked_arguments(parser, args):
    """devices, shapes, dtypes, functions of the command line; parser.error (exit 2) on a bad one."""
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = args.device.split(",")
    for device in devices:
        if device not in ("cpu", "cuda"):
            parser.error(f"--device: unknown device {device!r}; choose cpu, cuda or all")
        if device == "cuda" and not torch.cuda.is_available():
            reason = "this torch is a CPU build" if torch.version.cuda is None else "no CUDA device is visible"
            parser.error(f"--device cuda: CUDA is not available ({reason})")
    try:
        # Two dims at least: Kaiming and Xavier take their fans from them.
        shapes = [parse_shape(s, min_dims=2) for s in args.shapes.split(",")] if args.shapes else DEFAULT_SHAPES
    except ValueError as error:
        parser.error(f"--shapes: {error}")
    dtypes = args.dtypes.split(",")
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown:
        parser.error(f"--dtypes: unknown {', '.join(unknown)}; choose from {', '.join(DTYPES)}")
    functions = split_labels(args.functions) if args.functions else None
    known = [name for name, _, _ in PER_CALL] if args.per_call else [c.function for c in CASES]
    unknown = [f for f in functions or () if f not in known]
    if unknown:
        parser.error(f"--functions: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    for flag, wanted, packages in (("--plot", args.plot, ["matplotlib"]), ("--jax", args.jax, ["jax", "jaxlib"])):
        if wanted and any(importlib.util.find_spec(p) is None for p in packages):
            parser.error(f"{flag} needs {' and '.join(packages)}, which this Python lacks: pip install {' '.join(packages)}")
    return devices, shapes, dtypes, functions


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.jax_worker:
        jax_worker(json.loads(args.jax_worker))
        return 0
    devices, shapes, dtypes, functions = _checked_arguments(parser, args)

    if args.per_call:
        torch.set_num_threads(args.threads or 1)
        print(f"deepinit {deepinit.__version__}, torch {torch.__version__}, {_cpu_model()}, "
              f"{torch.get_num_threads()} thread(s)")
        print("Microseconds per call (median of 20 rounds of 1000 calls, variants in turns); torch g: torch with "
              "generator=; excess: the most a deepinit call costs beyond torch's same call.\n")
        warn_if_loaded()
        rows = per_call(functions)
        print(format_per_call(rows))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": machine_description(), "per_call": _json_rows(rows)}, f, indent=1)
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)

    machine = machine_description()
    print(f"deepinit {machine['deepinit']}, torch {machine['torch']}, {machine['processor']}, "
          f"{machine['threads']} threads, CPU kernel {machine['cpu_kernel']}"
          + (f", {machine['gpu']}" if "gpu" in machine else ""))
    print("Memory touched before timing; deepinit, torch and fill_ timed in turns, medians; GB/s = bytes "
          "written / time; % fill_ = share of tensor.fill_'s bandwidth on the same tensor.\n")
    warn_if_loaded()
    rows = run(devices, shapes, dtypes, functions, with_jax=args.jax,
               torch_budget=args.torch_budget, min_repeats=args.repeats)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "rows": _json_rows(rows)}, f, indent=1)
    if args.plot:
        plot(rows, args.plot)
    return 0


def _json_rows(rows):
    """Rows as JSON data; a missing time (nan) is null, since JSON has no NaN."""
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(r).items()} for r in rows]
