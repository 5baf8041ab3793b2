"""Timing for deepinit-bench and the benchmark scripts: calls timed in turns (medians), and how
to tell a series slowed by other work on the machine (its run-queue wait, its spread)."""

import math
import os
import statistics
import time

import torch


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


def warn_if_loaded():
    warning = load_warning(torch.get_num_threads())
    if warning:
        print(f"warning: {warning}\n")
