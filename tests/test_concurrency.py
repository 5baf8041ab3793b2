"""Calls from many Python threads: a shared generator never hands two calls the same stream,
explicit seeds stay reproducible, and concurrent fills of different tensors are all correct.
(The ops release the GIL, so these calls really overlap; tests/cpp/concurrency_tests.cpp runs
the kernels the same way under ThreadSanitizer.)"""

import threading

import pytest
import torch

import deepinit
from testing import DEVICES

THREADS = 8
CALLS = 25


def _in_threads(work):
    """Runs work(i) for i in range(THREADS) in threads started together; returns the results."""
    results = [None] * THREADS
    barrier = threading.Barrier(THREADS)
    errors = []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as e:  # re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shared", ["generator", "default"])
def test_threads_sharing_a_generator_never_reuse_a_stream(device, shared):
    generator = torch.Generator(device=device).manual_seed(7) if shared == "generator" else None

    def work(i):
        return [deepinit.normal_(torch.empty(4096, device=device), generator=generator).cpu() for _ in range(CALLS)]

    outputs = [t for per_thread in _in_threads(work) for t in per_thread]
    assert len({t.numpy().tobytes() for t in outputs}) == THREADS * CALLS
    # Not even a shifted overlap: no call's first four values reappear at the start of another.
    heads = {tuple(t[:4].tolist()) for t in outputs}
    assert len(heads) == THREADS * CALLS


@pytest.mark.parametrize("device", DEVICES)
def test_explicit_seeds_are_reproducible_under_concurrency(device):
    fills = [deepinit.uniform_, deepinit.normal_, deepinit.trunc_normal_]

    def work(i):
        return [fills[k % 3](torch.empty(5000, device=device), seed=i, offset=k).cpu() for k in range(CALLS)]

    concurrent = _in_threads(work)
    for i, per_thread in enumerate(concurrent):
        for k, t in enumerate(per_thread):
            assert torch.equal(t, fills[k % 3](torch.empty(5000, device=device), seed=i, offset=k).cpu())


@pytest.mark.parametrize("device", DEVICES)
def test_concurrent_fills_of_large_tensors_are_each_correct(device):
    """Each call is itself multi-threaded; several at once must not disturb one another."""
    def work(i):
        t = torch.empty(300_000 + i, device=device)
        return deepinit.trunc_normal_(t, std=0.02, seed=100 + i).cpu()

    for i, t in enumerate(_in_threads(work)):
        assert torch.equal(t, deepinit.trunc_normal_(torch.empty(300_000 + i), std=0.02, seed=100 + i))
