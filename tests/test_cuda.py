"""CUDA: the same stream as the CPU, the CUDA generator (reproducible, non-overlapping, graph
safe), huge tensors, and a clear error on machines without a GPU."""

import subprocess
import sys

import pytest
import torch

import deepinit
from testing import FLOAT_DTYPES, HAS_CUDA, RANDOM_FILLS, RANDOM_FILL_IDS

cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")


@cuda
@pytest.mark.parametrize("name,fill", [(n, f) for n, f, _ in RANDOM_FILLS], ids=RANDOM_FILL_IDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("offset", [0, 3, 2**64 - 5])
def test_cuda_equals_cpu_bit_for_bit(name, fill, dtype, offset):
    shape = (64, 100)
    on_cpu = fill(torch.empty(shape, dtype=dtype), seed=99, offset=offset)
    on_gpu = fill(torch.empty(shape, dtype=dtype, device="cuda"), seed=99, offset=offset)
    assert torch.equal(on_gpu.cpu(), on_cpu)


@cuda
@pytest.mark.parametrize("a,b", [(-2.0, 2.0), (5.0, 6.0), (-30.0, -29.0), (1.0, 1.001)],
                         ids=["central", "one tail", "log space", "narrow"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("n,offset", [(10_000, 0), (10_001, 3), (257, 2**64 - 5)])
def test_cuda_every_truncated_normal_form_equals_cpu(a, b, dtype, n, offset):
    """Each form of the plan has its own kernel; runs with partial first and last tiles."""
    on_cpu = deepinit.trunc_normal_(torch.empty(n, dtype=dtype), 0.0, 1.0, a, b, seed=12, offset=offset)
    on_gpu = deepinit.trunc_normal_(torch.empty(n, dtype=dtype, device="cuda"), 0.0, 1.0, a, b, seed=12, offset=offset)
    assert torch.equal(on_gpu.cpu(), on_cpu)


@cuda
def test_cuda_fills_allocate_no_device_memory():
    t = torch.empty(1 << 22, device="cuda")
    g = torch.Generator(device="cuda").manual_seed(1)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    peak = torch.cuda.max_memory_allocated()
    for _, fill, _ in RANDOM_FILLS:
        fill(t.view(1024, -1), seed=1)
        fill(t.view(1024, -1), generator=g)
        fill(t.view(1024, -1).t())
    torch.cuda.synchronize()
    assert torch.cuda.max_memory_allocated() == peak


@cuda
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_cuda_views_and_unaligned_starts_equal_cpu(dtype):
    for make in (lambda d: torch.empty(50, 70, dtype=dtype, device=d).t(),
                 lambda d: torch.empty(50, 70, dtype=dtype, device=d)[3:, 1::3],
                 lambda d: torch.empty(1001, dtype=dtype, device=d)[1:]):
        a = deepinit.trunc_normal_(make("cpu"), std=0.5, seed=4, offset=7)
        b = deepinit.trunc_normal_(make("cuda"), std=0.5, seed=4, offset=7)
        assert torch.equal(b.cpu(), a)


@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_cuda_generator_is_the_stream_at_the_generators_offset(dtype):
    """After torch.cuda.manual_seed(s) the calls take consecutive, disjoint stream ranges."""
    per_counter = 2 if dtype == torch.float64 else 4
    torch.cuda.manual_seed(1234)
    first = deepinit.normal_(torch.empty(1001, dtype=dtype, device="cuda"))
    second = deepinit.normal_(torch.empty(10, dtype=dtype, device="cuda"))
    counters = -(-1001 // per_counter)
    assert torch.equal(first, deepinit.normal_(torch.empty(1001, dtype=dtype, device="cuda"), seed=1234))
    expected = deepinit.normal_(torch.empty(10, dtype=dtype, device="cuda"), seed=1234, offset=counters * per_counter)
    assert torch.equal(second, expected)


@cuda
def test_cuda_manual_seed_reproduces_and_generators_match():
    torch.cuda.manual_seed(5)
    a = [deepinit.kaiming_uniform_(torch.empty(64, 64, device="cuda")).clone() for _ in range(2)]
    g = torch.Generator(device="cuda").manual_seed(5)
    b = [deepinit.kaiming_uniform_(torch.empty(64, 64, device="cuda"), generator=g).clone() for _ in range(2)]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], a[1])


@cuda
def test_cuda_graph_replays_give_fresh_values():
    t = torch.empty(4096, device="cuda")
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    deepinit.normal_(t)  # warm up outside capture
    with torch.cuda.stream(stream):
        with torch.cuda.graph(graph):
            deepinit.normal_(t)
    replays = []
    for _ in range(3):
        graph.replay()
        torch.cuda.synchronize()
        replays.append(t.clone())
    assert not torch.equal(replays[0], replays[1]) and not torch.equal(replays[1], replays[2])
    assert abs(replays[2].mean().item()) < 0.1 and abs(replays[2].std().item() - 1) < 0.1



@cuda
@pytest.mark.parametrize("name,fill", [(n, f) for n, f, _ in RANDOM_FILLS], ids=RANDOM_FILL_IDS)
def test_cuda_graph_replays_equal_uncaptured_calls_from_the_same_state(name, fill):
    t = torch.empty(1000, 37, device="cuda")
    fill(t)  # warm up outside the capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fill(t)
    replays = []
    for _ in range(2):
        state = torch.cuda.get_rng_state()
        graph.replay()
        torch.cuda.synchronize()
        replays.append(t.clone())
        after = torch.cuda.get_rng_state()
        torch.cuda.set_rng_state(state)
        assert torch.equal(replays[-1], fill(torch.empty_like(t))), "a replay differs from the uncaptured call"
        torch.cuda.set_rng_state(after)
    assert not torch.equal(replays[0], replays[1]), "two replays gave the same values"


@cuda
def test_cuda_graph_capture_of_a_split_stream_is_refused_in_one_line_or_keyed():
    t = torch.empty(64, 32, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA graph being captured does not allow"):
        with torch.cuda.graph(torch.cuda.CUDAGraph()):
            deepinit.sparse_(t, 0.5)
    expected = deepinit.sparse_(torch.empty_like(t), 0.5, seed=3).clone()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        deepinit.sparse_(t, 0.5, seed=3)
    t.zero_()
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(t, expected)

@cuda
def test_cuda_wrong_device_generator_is_refused():
    with pytest.raises(RuntimeError):
        deepinit.normal_(torch.empty(3, device="cuda"), generator=torch.Generator())


@cuda
@pytest.mark.slow
def test_cuda_more_than_2_31_elements():
    n = 2**31 + 4099
    t = torch.empty(n, dtype=torch.float16, device="cuda")
    deepinit.trunc_normal_(t, std=0.02, seed=3)
    tail = deepinit.trunc_normal_(torch.empty(5000, dtype=torch.float16), std=0.02, seed=3, offset=n - 5000)
    assert torch.equal(t[-5000:].cpu(), tail)
    head = deepinit.trunc_normal_(torch.empty(5000, dtype=torch.float16), std=0.02, seed=3)
    assert torch.equal(t[:5000].cpu(), head)


@pytest.mark.skipif(HAS_CUDA, reason="checks the behaviour without a GPU")
def test_cuda_call_without_gpu_is_a_clear_error_not_a_crash():
    script = "import deepinit, torch\ntry:\n    deepinit.normal_(torch.empty(3, device='cuda'))\nexcept (RuntimeError, AssertionError) as e:\n    print('error:', type(e).__name__)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "error:" in result.stdout
