"""The main table of deepinit-bench: each initialiser against its torch.nn.init twin (and JAX's)
and against fill_ on the same tensor."""

import json
import math
import subprocess
import sys
import warnings
from dataclasses import dataclass

import torch
import torch.nn.init as tinit

import deepinit
from deepinit._ops import DTYPES
from deepinit.bench.timing import SLOWED_ROUNDS, UNSTABLE_SPREAD, measure_in_turns

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


def jax_worker(request):
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
