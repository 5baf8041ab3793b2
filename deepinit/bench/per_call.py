"""The per-call table of deepinit-bench: microseconds per call on small CPU tensors, where the
Python layer above the kernel is most of the cost."""

import inspect
import math
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.init as tinit

import deepinit
from deepinit.bench.timing import SLOWED_ROUNDS, _slowed_by_load, run_queue_wait


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
