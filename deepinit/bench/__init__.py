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

from deepinit.bench.cli import main, split_labels
from deepinit.bench.fills import CASES, Case, Row, format_table, run
from deepinit.bench.per_call import PER_CALL, PerCallRow, format_per_call, per_call
from deepinit.bench.timing import UNSTABLE_SPREAD, measure_in_turns, run_queue_wait

__all__ = ["CASES", "Case", "PER_CALL", "PerCallRow", "Row", "UNSTABLE_SPREAD", "format_per_call", "format_table",
           "main", "measure_in_turns", "per_call", "run", "run_queue_wait", "split_labels"]
