"""deepinit-bench: times every deepinit initialiser against its torch.nn.init twin (and JAX's, with
--jax) on the CPU and on CUDA, and prints time, GB/s written, the speedup over torch and the
share of tensor.fill_'s bandwidth on the same tensor.

deepinit, torch and ``fill_`` are timed in turns, call after call, and each figure is the median
of its own series, so that a slow spell of a shared machine hits all of them alike; a row whose
series spread widely is flagged, and a machine busier than the benchmark's threads allow is
named before the table. Tensors are allocated and touched before timing: the figures are for
memory already mapped (first-touch page faults would dominate otherwise). CUDA timings use events
after a synchronize. JAX runs in a child process (its thread pool would otherwise compete with
torch's) and creates a new array on every call, as its API does, so its times include that
allocation. ``--per-call`` times calls on small tensors instead, where the Python layer is most
of the cost.
"""

import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass

import torch
import torch.nn.init as tinit

import deepinit
from deepinit._ops import DTYPES
from deepinit._argparse import SUPPRESS, Parser, parse_shape

DEFAULT_SHAPES = [(1000, 1000), (10_000, 1000), (1_000_000, 128)]


@dataclass
class Case:
    function: str
    deepinit: object
    torch: object
    jax: object = None  # (key, shape, dtype) -> array, or None where JAX has no twin


def _jax_cases():
    """JAX twins by function label: jax.random and jax.nn.initializers, jit-compiled."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    init = jax.nn.initializers

    def jit(make):
        return jax.jit(make, static_argnums=(1, 2))

    return {
        "uniform_": jit(lambda k, s, d: jax.random.uniform(k, s, d, -1.0, 1.0)),
        "normal_": jit(lambda k, s, d: 0.02 * jax.random.normal(k, s, d)),
        "trunc_normal_(std=0.02)": jit(lambda k, s, d: init.truncated_normal(0.02)(k, s, d)),
        "trunc_normal_(std=1,a=-2,b=2)": jit(lambda k, s, d: jax.random.truncated_normal(k, -2.0, 2.0, s, d)),
        "trunc_normal_(std=1,a=5,b=6)": jit(lambda k, s, d: jax.random.truncated_normal(k, 5.0, 6.0, s, d)),
        "kaiming_uniform_": jit(lambda k, s, d: init.he_uniform()(k, s, d)),
        "kaiming_normal_": jit(lambda k, s, d: init.he_normal()(k, s, d)),
        "xavier_uniform_": jit(lambda k, s, d: init.glorot_uniform()(k, s, d)),
        "xavier_normal_": jit(lambda k, s, d: init.glorot_normal()(k, s, d)),
        "zeros_": jit(lambda k, s, d: jnp.zeros(s, d)),
        "ones_": jit(lambda k, s, d: jnp.ones(s, d)),
        "constant_": jit(lambda k, s, d: jnp.full(s, 0.5, d)),
    }


CASES = [
    Case("zeros_", deepinit.zeros_, tinit.zeros_),
    Case("ones_", deepinit.ones_, tinit.ones_),
    Case("constant_", lambda t: deepinit.constant_(t, 0.5), lambda t: tinit.constant_(t, 0.5)),
    Case("uniform_", lambda t: deepinit.uniform_(t, -1, 1), lambda t: tinit.uniform_(t, -1, 1)),
    Case("normal_", lambda t: deepinit.normal_(t, 0, 0.02), lambda t: tinit.normal_(t, 0, 0.02)),
    Case("trunc_normal_(std=0.02)", lambda t: deepinit.trunc_normal_(t, std=0.02),
         lambda t: tinit.trunc_normal_(t, std=0.02)),
    Case("trunc_normal_(std=1,a=-2,b=2)", lambda t: deepinit.trunc_normal_(t), lambda t: tinit.trunc_normal_(t)),
    Case("trunc_normal_(std=1,a=5,b=6)", lambda t: deepinit.trunc_normal_(t, a=5.0, b=6.0),
         lambda t: tinit.trunc_normal_(t, a=5.0, b=6.0)),
    Case("kaiming_uniform_", deepinit.kaiming_uniform_, tinit.kaiming_uniform_),
    Case("kaiming_normal_", deepinit.kaiming_normal_, tinit.kaiming_normal_),
    Case("xavier_uniform_", deepinit.xavier_uniform_, tinit.xavier_uniform_),
    Case("xavier_normal_", deepinit.xavier_normal_, tinit.xavier_normal_),
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
    speedup: float  # torch_ms / deepinit_ms
    fill_fraction: float  # deepinit GB/s over fill_ GB/s on the same tensor
    jax_ms: float  # nan without JAX
    threads: int
    # Not trustworthy: a timed series (deepinit's, torch's or fill_'s) spread more than
    # UNSTABLE_SPREAD, or was slowed by load.
    unstable: bool = False


def _clock(device):
    if device.startswith("cuda"):

        def timed(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3

        return timed

    def timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    return timed


def measure_in_turns(device, calls, min_repeats=7, min_seconds=0.5, max_seconds=5.0, spreads=None, slowed=None):
    """Median seconds of each call in `calls`, timed in turns after a warm-up round. A call slower
    than max_seconds on warm-up is timed once; `None` entries are skipped (nan). A list passed as
    `spreads` receives each series' spread (_spread); one passed as `slowed`, whether each series
    was slowed by load (_slowed_by_load)."""
    timed = _clock(device)
    first = [timed(c) if c is not None else math.nan for c in calls]
    series = [[] for _ in calls]
    waits = [[] for _ in calls]
    began = time.perf_counter()
    rounds = 0
    while rounds < min_repeats or time.perf_counter() - began < min_seconds:
        for i, c in enumerate(calls):
            if c is not None and first[i] <= max_seconds:
                waited = run_queue_wait()
                series[i].append(timed(c))
                if waited is not None:
                    waits[i].append(run_queue_wait() - waited)
        rounds += 1
        if rounds >= 200 or time.perf_counter() - began > 30 * min_seconds:
            break
    if spreads is not None:
        spreads.extend(_spread(s) for s in series)
    if slowed is not None:
        slowed.extend(_slowed_by_load(s, w) for s, w in zip(series, waits))
    return [statistics.median(s) if s else first[i] for i, s in enumerate(series)]


def run_queue_wait():
    """Seconds that this process's threads have spent ready to run while other work held the
    cores (the run-queue wait of each thread, from /proc/self/task/*/schedstat), or None where
    the kernel does not count it."""
    total = 0
    try:
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/schedstat") as f:
                    total += int(f.read().split()[1])
            except FileNotFoundError:  # the thread ended meanwhile
                continue
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


# A round whose threads waited for a core for more than this share of its time was slowed by
# load; a series in which at least SLOWED_ROUNDS of the rounds were is not trusted.
SLOWED_WAIT = 0.1
SLOWED_ROUNDS = 0.25


def _slowed_by_load(series, waits):
    """Whether enough rounds of a series waited for a core (another process held it) to move its
    median: a machine loaded alike in every round leaves the spread of the times narrow, but not
    the waits."""
    if not waits:
        return False
    slowed = sum(w > SLOWED_WAIT * t for t, w in zip(series, waits))
    return slowed >= SLOWED_ROUNDS * len(waits)


def _spread(series):
    """How far a series is from one trustworthy time, as a share of its median: its interquartile
    range; or, where its median is more than twice its fastest round, the median's excess over
    that round (a loaded machine can slow every round alike, by a scheduler's time slice, and
    leave the range narrow)."""
    if len(series) < 4:
        return math.nan
    q1, median, q3 = statistics.quantiles(series, n=4)
    spread = (q3 - q1) / median
    fastest = min(series)
    if median > 2 * fastest:
        spread = max(spread, (median - fastest) / median)
    return spread


# A series whose interquartile range exceeds this share of its median is flagged as unstable.
UNSTABLE_SPREAD = 0.25


def load_warning(threads):
    """A sentence when the load average exceeds the benchmark's thread count, else None."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    if load > threads:
        return (f"the 1-minute load average is {load:.1f} on {os.cpu_count()} cores, above the benchmark's "
                f"{threads} thread(s): other work competes for the cores and these times are not to be trusted")
    return None


# The per-call table: every deepinit function with a torch.nn.init twin, on a small tensor, where
# the Python layer above the kernel is most of the cost. (function, shape, extra arguments)
PER_CALL = [
    ("zeros_", (10, 10), ()),
    ("ones_", (10, 10), ()),
    ("constant_", (10, 10), (0.5,)),
    ("uniform_", (10, 10), ()),
    ("normal_", (10, 10), ()),
    ("trunc_normal_", (10, 10), ()),
    ("kaiming_uniform_", (10, 10), ()),
    ("kaiming_normal_", (10, 10), ()),
    ("xavier_uniform_", (10, 10), ()),
    ("xavier_normal_", (10, 10), ()),
    ("eye_", (10, 10), ()),
    ("dirac_", (4, 4, 3), ()),
    ("orthogonal_", (10, 10), ()),
    ("sparse_", (10, 10), (0.1,)),
]


@dataclass
class PerCallRow:
    function: str
    shape: tuple
    torch_us: float  # torch.nn.init, default generator
    torch_generator_us: float  # torch.nn.init with generator= (nan where it takes none)
    deepinit_us: float  # default generator
    deepinit_generator_us: float
    deepinit_seed_us: float
    threads: int
    unstable: bool = False  # a variant's rounds were slowed by load (_slowed_by_load)

    @property
    def worst_excess_us(self):
        """The most any deepinit call costs beyond torch's same call (seed= against the default)."""
        pairs = [(self.deepinit_us, self.torch_us), (self.deepinit_seed_us, self.torch_us),
                 (self.deepinit_generator_us, self.torch_generator_us)]
        return max(ours - theirs for ours, theirs in pairs if not math.isnan(ours) and not math.isnan(theirs))


def per_call(functions=None, calls=1000, rounds=20):
    """Microseconds per call of each PER_CALL function, deepinit's three stream modes against
    torch: `rounds` rounds, each timing `calls` calls of every variant in turn; medians."""
    import inspect

    rows = []
    generator = torch.Generator()
    for name, shape, args in PER_CALL:
        if functions is not None and name not in functions:
            continue
        tensor = torch.zeros(shape)
        ours, theirs = getattr(deepinit, name), getattr(tinit, name)
        random = "generator" in inspect.signature(ours).parameters
        variants = [lambda: theirs(tensor, *args),
                    (lambda: theirs(tensor, *args, generator=generator)) if random else None,
                    lambda: ours(tensor, *args),
                    (lambda: ours(tensor, *args, generator=generator)) if random else None,
                    (lambda: ours(tensor, *args, seed=7)) if random else None]
        series = [[] for _ in variants]
        waits = [[] for _ in variants]
        for _ in range(rounds):
            for k, call in enumerate(variants):
                if call is None:
                    continue
                waited = run_queue_wait()
                began = time.perf_counter()
                for _ in range(calls):
                    call()
                series[k].append(time.perf_counter() - began)
                if waited is not None:
                    waits[k].append(run_queue_wait() - waited)
        medians = [statistics.median(s) / calls * 1e6 if s else math.nan for s in series]
        loaded = any(_slowed_by_load(s, w) for s, w in zip(series, waits))
        rows.append(PerCallRow(name, shape, *medians, torch.get_num_threads(), loaded))
    return rows


def format_per_call(rows):
    header = (f"{'function':18} {'shape':>8} {'torch':>7} {'torch g':>8} {'deepinit':>9} {'generator=':>11} "
              f"{'seed=':>7} {'excess':>7}")
    lines = [header, "-" * len(header)]
    for r in rows:
        cells = [f"{v:.2f}" if not math.isnan(v) else "" for v in
                 (r.torch_us, r.torch_generator_us, r.deepinit_us, r.deepinit_generator_us, r.deepinit_seed_us)]
        shape = "x".join(str(n) for n in r.shape)
        lines.append(f"{r.function:18} {shape:>8} {cells[0]:>7} {cells[1]:>8} {cells[2]:>9} {cells[3]:>11} "
                     f"{cells[4]:>7} {r.worst_excess_us:+7.2f}" + (" ~" if r.unstable else ""))
    if any(r.unstable for r in rows):
        lines.append(f"~ not trustworthy: a variant's calls waited for a core (another process held it) in "
                     f"{SLOWED_ROUNDS:.0%} or more of their rounds; rerun on a quiet machine before quoting these rows")
    return "\n".join(lines)


def _progress(message):
    if sys.stderr.isatty():  # a redirected run keeps its output clean
        sys.stderr.write(f"\r\033[K{message}")
        sys.stderr.flush()


def run(devices, shapes, dtypes, functions=None, with_jax=False, torch_budget=20.0, min_repeats=7):
    rows = []
    cases = [c for c in CASES if functions is None or c.function in functions]
    total = len(devices) * len(shapes) * len(dtypes) * len(cases)
    done = 0
    for device in devices:
        torch_seconds_per_element = {}  # to skip torch calls predicted to take too long
        for dtype_name in dtypes:
            for shape in sorted(shapes, key=math.prod):
                tensor = torch.zeros(shape, dtype=DTYPES[dtype_name], device=device)  # allocated and touched
                written = tensor.numel() * tensor.element_size()
                for case in cases:
                    done += 1
                    _progress(f"[{done}/{total}] {device} {dtype_name} {shape} {case.function}")
                    key = (case.function, dtype_name)
                    skip_torch = torch_seconds_per_element.get(key, 0.0) * tensor.numel() > torch_budget
                    calls = [
                        lambda: case.deepinit(tensor),
                        None if skip_torch else (lambda: case.torch(tensor)),
                        lambda: tensor.fill_(1.0),
                    ]
                    with warnings.catch_warnings():  # torch warns on trunc_normal_(a=5, b=6) on every call
                        warnings.filterwarnings("ignore", message="mean is more than 2 std")
                        spreads, slowed = [], []
                        ours, theirs, fill = measure_in_turns(device, calls, min_repeats=min_repeats, spreads=spreads,
                                                              slowed=slowed)
                    if not skip_torch:
                        torch_seconds_per_element[key] = theirs / tensor.numel()
                    gbps = written / ours / 1e9
                    rows.append(
                        Row(device, case.function, tuple(shape), dtype_name, ours * 1e3, gbps, theirs * 1e3,
                            theirs / ours, gbps / (written / fill / 1e9), math.nan, torch.get_num_threads(),
                            any(x > UNSTABLE_SPREAD for x in spreads if not math.isnan(x)) or any(slowed))
                    )
    _progress("")
    if with_jax:
        _add_jax_times(rows, min_repeats)
    return rows


def _add_jax_times(rows, min_repeats):
    """Times JAX's twins of the CPU rows in a child process and fills in jax_ms."""
    wanted = [(r.function, list(r.shape), r.dtype) for r in rows if r.device == "cpu" and r.dtype != "float64"]
    _progress("JAX, in a child process")
    result = subprocess.run(
        [sys.executable, "-m", "deepinit.bench", "--jax-worker", json.dumps({"cases": wanted, "repeats": min_repeats})],
        capture_output=True, text=True, check=True,
    )
    times = {(f, tuple(s), d): ms for f, s, d, ms in json.loads(result.stdout)}
    for r in rows:
        r.jax_ms = times.get((r.function, r.shape, r.dtype), math.nan)
    _progress("")


def _jax_worker(request):
    import jax
    import jax.numpy as jnp

    cases = _jax_cases()
    if not cases:
        raise SystemExit("--jax: JAX is not installed (pip install jax)")
    key = jax.random.PRNGKey(0)
    dtypes = {"float32": jnp.float32, "float16": jnp.float16, "bfloat16": jnp.bfloat16}
    out = []
    for function, shape, dtype in request["cases"]:
        fn = cases.get(function)
        if fn is None:
            continue
        shape = tuple(shape)
        call = lambda: fn(key, shape, dtypes[dtype]).block_until_ready()  # noqa: E731
        (seconds,) = measure_in_turns("cpu", [call], min_repeats=request["repeats"])
        out.append((function, shape, dtype, seconds * 1e3))
    print(json.dumps(out))


UNTRUSTED_LEGEND = (
    f"~ not trustworthy: deepinit's timings, or torch's or fill_'s that it is compared with, waited for a core "
    f"(another process held it) in {SLOWED_ROUNDS:.0%} or more of their rounds, or spread widely (an interquartile "
    f"range above {UNSTABLE_SPREAD:.0%} of the median, or a median above twice the fastest round); rerun on a quiet "
    "machine before quoting these rows")


def format_table(rows):
    with_jax = any(not math.isnan(r.jax_ms) for r in rows)
    header = (f"{'device':6} {'function':29} {'shape':>11} {'dtype':8} {'deepinit ms':>11} {'GB/s':>7} "
              f"{'torch ms':>10} {'speedup':>8} {'% fill_':>7}" + (f" {'jax ms':>9}" if with_jax else ""))
    lines = [header, "-" * len(header)]
    for r in rows:
        shape = "x".join(str(s) for s in r.shape)
        torch_ms = "skipped" if math.isnan(r.torch_ms) else f"{r.torch_ms:10.2f}"
        speedup = "" if math.isnan(r.speedup) else f"{r.speedup:7.1f}x"
        line = (f"{r.device:6} {r.function:29} {shape:>11} {r.dtype:8} {r.deepinit_ms:11.2f} {r.deepinit_gbps:7.2f} "
                f"{torch_ms:>10} {speedup:>8} {100 * r.fill_fraction:6.0f}%")
        if with_jax:
            line += " " + ("" if math.isnan(r.jax_ms) else f"{r.jax_ms:9.2f}").rjust(9)
        lines.append(line + (" ~" if r.unstable else ""))
    if any(r.unstable for r in rows):
        lines.append(UNTRUSTED_LEGEND)
    return "\n".join(lines)


def plot(rows, path):
    """Bars of GB/s per function and shape: deepinit, torch (and JAX)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(r.device, r.dtype, r.shape) for r in rows}, key=lambda g: (g[0], g[1], math.prod(g[2])))
    functions = list(dict.fromkeys(r.function for r in rows))
    fig, axes = plt.subplots(len(groups), 1, figsize=(12, 3.2 * len(groups)), squeeze=False)
    for ax, (device, dtype, shape) in zip(axes[:, 0], groups):
        sel = {r.function: r for r in rows if (r.device, r.dtype, r.shape) == (device, dtype, shape)}
        bytes_ = math.prod(shape) * torch.tensor([], dtype=DTYPES[dtype]).element_size()
        series = [("deepinit", lambda r: r.deepinit_gbps), ("torch.nn.init", lambda r: bytes_ / r.torch_ms / 1e6)]
        if any(not math.isnan(r.jax_ms) for r in sel.values()):
            series.append(("jax", lambda r: bytes_ / r.jax_ms / 1e6))
        width = 0.8 / len(series)
        for k, (label, value) in enumerate(series):
            xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(functions))]
            ax.bar(xs, [value(sel[f]) if f in sel else 0 for f in functions], width, label=label)
        ax.set_yscale("log")
        ax.set_ylabel("GB/s written")
        ax.set_title(f"{device} {dtype} {'x'.join(map(str, shape))}")
        ax.set_xticks(range(len(functions)))
        ax.set_xticklabels(functions, rotation=25, ha="right", fontsize=8)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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
    description = " ".join(__doc__.split("\n\n")[0].split())
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
        _jax_worker(json.loads(args.jax_worker))
        return 0
    devices, shapes, dtypes, functions = _checked_arguments(parser, args)

    if args.per_call:
        torch.set_num_threads(args.threads or 1)
        print(f"deepinit {deepinit.__version__}, torch {torch.__version__}, {_cpu_model()}, "
              f"{torch.get_num_threads()} thread(s)")
        print("Microseconds per call (median of 20 rounds of 1000 calls, variants in turns); torch g: torch with "
              "generator=; excess: the most a deepinit call costs beyond torch's same call.\n")
        _warn_if_loaded()
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
    _warn_if_loaded()
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


def _warn_if_loaded():
    warning = load_warning(torch.get_num_threads())
    if warning:
        print(f"warning: {warning}\n")


if __name__ == "__main__":
    sys.exit(main())
