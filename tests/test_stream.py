"""Stream contract v2: exact values against the independent NumPy model (tests/reference.py),
and the promises that follow from it (threads, chunks, views, instruction sets)."""

import hashlib

import numpy as np
import pytest
import torch
from scipy.special import ndtri

import deepinit
import reference
from testing import DEVICES, FLOAT_DTYPES, OP_FILL_IDS, OP_FILLS, RANDOM_FILL_IDS, RANDOM_FILLS, compute_dtype, cpu_capabilities

# (seed, offset) pairs, unsigned, including the 2^64 wrap of the element index.
STREAMS = [(0, 0), (12345, 7), (2**64 - 1, 2**64 - 5), (2**63 + 9, 2**64 - 3), (42, 2**62 * 4 - 1)]


def test_reference_philox_known_answers():
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ]
    for counter, key, expected in cases:
        out = reference.philox4x32_10(np.array([counter], dtype=np.uint32), key)[0]
        assert tuple(int(w) for w in out) == expected


# The first 16 hex digits of the SHA-256 of 2^20 values (seed 123, offset 7) of each quantile law
# and form (the normal; truncated normals of the linear, linear-tail, log and narrow forms), as
# stream contract v2 defines them. A kernel that is made faster must leave them as they are; on a
# GPU they also say that CUDA gives the CPU's bits.
FROZEN_DIGESTS = [
    ("normal_", {}, {
        "float32": "54c122f05456f7d6",
        "bfloat16": "6c9a7601d135c981",
        "float16": "0672045f1e7ba1de",
        "float64": "e6c1aeb6701d8b1a",
    }),
    ("trunc_normal_", {"a": -1.0, "b": 2.5}, {
        "float32": "3684ced160d1dbfa",
        "bfloat16": "a085cb95f274fa34",
        "float16": "31795cf312215b91",
        "float64": "4ae8440c12cc0133",
    }),
    ("trunc_normal_", {"a": -6.0, "b": -3.0}, {
        "float32": "6a08ca6fcb095a4a",
        "bfloat16": "75f292345f63c92f",
        "float16": "cfe7934eabe0ff7d",
        "float64": "b20bafa79e28433f",
    }),
    ("trunc_normal_", {"a": -5.0, "b": -3.5}, {
        "float32": "1ab11ab00ad54856",
        "bfloat16": "43b84fac987cfdd9",
        "float16": "f0f258024127d432",
        "float64": "5ddcd309050b1c37",
    }),
    ("trunc_normal_", {"a": -30.0, "b": -12.0}, {
        "float32": "1b79f018f1c407a0",
        "bfloat16": "352e440c54f1c0b8",
        "float16": "d966fb5c83a0face",
        "float64": "b021394149c65537",
    }),
    ("trunc_normal_", {"a": 1.0, "b": 1.0 + 1e-6}, {
        "float32": "6497327c2cabfcdd",
        "bfloat16": "748c16b0577f2aa3",
        "float16": "056eac71f9695fc2",
        "float64": "bc1ac5eaef4315da",
    }),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs,digests", FROZEN_DIGESTS, ids=[f"{n}{k}" for n, k, _ in FROZEN_DIGESTS])
def test_values_are_frozen(device, name, kwargs, digests):
    for dtype_name, digest in digests.items():
        t = getattr(deepinit, name)(torch.empty(1 << 20, dtype=getattr(torch, dtype_name), device=device), seed=123,
                                    offset=7, **kwargs)
        assert hashlib.sha256(t.cpu().view(torch.uint8).numpy().tobytes()).hexdigest()[:16] == digest, dtype_name


def _expected_uniform(n, seed, offset, dtype, low, high):
    u = reference.uniform(n, seed, offset, compute_dtype(dtype))
    if dtype == torch.float64:
        return torch.from_numpy(low + (high - low) * u)
    span = np.float32(high - low)
    x = np.float32(low) + span * u  # float32 product, then float32 sum
    return torch.from_numpy(x).to(dtype)  # round to nearest even


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("seed,offset", STREAMS)
def test_uniform_is_the_contract_bit_for_bit(device, dtype, seed, offset):
    n = 1037
    t = deepinit.uniform_(torch.empty(n, dtype=dtype, device=device), -3.0, 5.5, seed=seed, offset=offset)
    expected = _expected_uniform(n, seed, offset, dtype, -3.0, 5.5)
    assert torch.equal(t.cpu(), expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed,offset", STREAMS[:3])
def test_normal_is_the_quantile_of_the_contract_uniform(device, seed, offset):
    n = 200_000
    for dtype, tolerance in ((torch.float32, None), (torch.float64, 1e-14)):
        t = deepinit.normal_(torch.empty(n, dtype=dtype, device=device), seed=seed, offset=offset).cpu().double().numpy()
        exact = ndtri(reference.quantile_uniform(n, seed, offset, compute_dtype(dtype)))
        if dtype == torch.float32:
            ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
            assert np.max(np.abs(t - exact) / ulp) <= 4.0
        else:
            assert np.max(np.abs(t - exact) / np.abs(exact)) <= tolerance


@pytest.mark.parametrize("device", DEVICES)
def test_mean_and_std_scale_the_quantile(device):
    n = 50_000
    z = deepinit.normal_(torch.empty(n, dtype=torch.float64, device=device), seed=5)
    x = deepinit.normal_(torch.empty(n, dtype=torch.float64, device=device), 3.0, 0.25, seed=5)
    torch.testing.assert_close(x, 3.0 + 0.25 * z, rtol=0, atol=1e-15)


@pytest.mark.parametrize("fill", [f for _, f, _ in RANDOM_FILLS], ids=RANDOM_FILL_IDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_thread_count_does_not_change_values(fill, dtype):
    shape = (700, 500)  # several parallel chunks
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fill(torch.empty(shape, dtype=dtype), seed=11, offset=3)
        torch.set_num_threads(max(2, threads))
        many = fill(torch.empty(shape, dtype=dtype), seed=11, offset=3)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, many)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,fill", [(n, f) for n, f, _ in OP_FILLS], ids=OP_FILL_IDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_row_chunks_with_offsets_equal_the_whole_table(device, name, fill, dtype):
    rows, cols = 103, 37
    whole = fill(torch.empty(rows, cols, dtype=dtype, device=device), seed=9)
    for r0, r1 in [(0, 1), (1, 50), (50, 51), (51, 103)]:
        chunk = fill(torch.empty(r1 - r0, cols, dtype=dtype, device=device), seed=9, offset=r0 * cols)
        assert torch.equal(chunk, whole[r0:r1])


def _views(base):
    """Non-contiguous views of `base`, each with its own logical shape."""
    return {
        "transpose": base.t(),
        "column_slice": base[:, 3:40],
        "stepped": base[::3, 1::2],
        "channels_last": base.view(6, 5, 8, 7).contiguous(memory_format=torch.channels_last),
        "expanded_then_sliced": base.view(-1)[5:205].view(10, 20),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,fill", [(n, f) for n, f, _ in OP_FILLS], ids=OP_FILL_IDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_views_follow_the_logical_index(device, name, fill, dtype):
    base = torch.zeros(30, 56, dtype=dtype, device=device)
    for view_name, view in _views(base).items():
        filled = fill(view, seed=4, offset=17)
        assert filled is view
        expected = fill(torch.empty(view.shape, dtype=dtype, device=device), seed=4, offset=17)
        assert torch.equal(filled, expected), view_name


@pytest.mark.parametrize("device", DEVICES)
def test_view_fill_leaves_the_rest_of_the_storage_alone(device):
    base = torch.full((20, 30), 7.0, device=device)
    deepinit.normal_(base[::2, 5:9], seed=1)
    mask = torch.zeros_like(base, dtype=torch.bool)
    mask[::2, 5:9] = True
    assert torch.all(base[~mask] == 7.0)
    assert torch.all(base[mask] != 7.0)


CAPABILITIES = cpu_capabilities()


def results_of_every_cpu_kernel(make):
    """make() under each CPU kernel; asserts that all give the same tensors, returns the default's."""
    default = torch.ops.deepinit._cpu_capability()
    results = {}
    try:
        for capability in CAPABILITIES:
            torch.ops.deepinit._set_cpu_capability(capability)
            results[capability] = make()
    finally:
        torch.ops.deepinit._set_cpu_capability(default)
    reference_results = results[CAPABILITIES[-1]]
    for capability in CAPABILITIES[:-1]:
        for a, b in zip(results[capability], reference_results):
            assert torch.equal(a, b), capability
    return results[default]


@pytest.mark.skipif(len(CAPABILITIES) < 2, reason="this CPU runs only the scalar kernels")
@pytest.mark.parametrize("fill", [f for _, f, _ in RANDOM_FILLS], ids=RANDOM_FILL_IDS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_every_cpu_kernel_gives_the_same_bits(fill, dtype):
    # Odd sizes and offsets exercise partial SIMD blocks at both ends; 2^34 - 12 and 2^33 - 6 put
    # a carry into the counters' high word inside a step (float32 and float64 counters), 2^64 - 7
    # the wrap; the 2-D view the strided path.
    results_of_every_cpu_kernel(lambda: [
        fill(torch.empty(SIZE, dtype=dtype).view(1, -1) if SIZE > 1 else torch.empty(1, 1, dtype=dtype), seed=3, offset=off)
        for SIZE in (1, 31, 33, 1000)
        for off in (0, 1, 5, 2**34 - 12, 2**33 - 6, 2**64 - 7)
    ] + [fill(torch.empty(64, 100, dtype=dtype).t(), seed=8)])


WINDOW_FILLS = [(n, f) for n, f, _ in RANDOM_FILLS] + [
    # Intervals in one tail: the kernels skip the central piece there.
    ("trunc_normal_tail", lambda t, **s: deepinit.trunc_normal_(t, a=5.0, b=6.0, **s)),
    ("trunc_normal_mirrored_tail", lambda t, **s: deepinit.trunc_normal_(t, a=-30.0, b=-29.0, **s)),
    # A narrow interval: the exponential formulation.
    ("trunc_normal_narrow", lambda t, **s: deepinit.trunc_normal_(t, a=1.0, b=1.001, **s)),
]
# (global shape, start, block shape): short rows at varying places in their counters, short rows
# at one place (regular rows: one transpose wide, several with an overlapping last one, fewer
# than 8 columns, the widest that go in the Philox lanes, wider), width 1 of both kinds, rows of
# whole registers, rows long enough for one kernel call each.
CARRY_WINDOWS = [
    ((200, 37), (0, 5), (200, 10)),
    ((300, 40), (0, 5), (300, 16)),
    ((100, 128), (3, 43), (97, 43)),
    ((50, 256), (0, 6), (50, 3)),
    ((60, 512), (3, 1), (45, 250)),
    ((40, 1024), (0, 1), (37, 511)),
    ((200, 37), (3, 0), (150, 1)),
    ((400, 64), (0, 7), (400, 1)),
    ((100, 128), (8, 32), (80, 64)),
    ((9, 1024), (1, 3), (8, 1000)),
]


@pytest.mark.skipif(len(CAPABILITIES) < 2, reason="this CPU runs only the scalar kernels")
@pytest.mark.parametrize("name,fill", WINDOW_FILLS, ids=[n for n, _ in WINDOW_FILLS])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_every_cpu_kernel_gives_the_same_bits_in_windows(name, fill, dtype):
    # Offsets that put a carry into the counters' high word, or the wrap, inside each window.
    offsets = (0, 2**34 - 3000, 2**33 - 3000, 2**64 - 3000)
    blocks = results_of_every_cpu_kernel(lambda: [
        fill(torch.empty(shape, dtype=dtype), seed=5, offset=offset, global_shape=global_shape, start=start)
        for global_shape, start, shape in CARRY_WINDOWS
        for offset in offsets
    ])
    # And each window is its part of the whole init.
    places = [(global_shape, start, shape, offset) for global_shape, start, shape in CARRY_WINDOWS for offset in offsets]
    for (global_shape, start, shape, offset), block in zip(places, blocks):
        whole = fill(torch.empty(global_shape, dtype=dtype), seed=5, offset=offset)
        assert torch.equal(block, whole[tuple(slice(s, s + n) for s, n in zip(start, shape))])


def test_trunc_normal_on_the_whole_line_is_normal():
    inf = float("inf")
    for dtype in (torch.float32, torch.float64):
        a = deepinit.trunc_normal_(torch.empty(10_000, dtype=dtype), 0.5, 2.0, -inf, inf, seed=6)
        b = deepinit.normal_(torch.empty(10_000, dtype=dtype), 0.5, 2.0, seed=6)
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name,fill,law", RANDOM_FILLS, ids=RANDOM_FILL_IDS)
def test_half_precision_is_the_rounded_float32_fill(dtype, name, fill, law):
    if law.dist.name == "truncnorm":
        pytest.skip("trunc_normal_ clamps to bounds rounded into the dtype; see test_truncated_normal")
    low = fill(torch.empty(64, 100, dtype=dtype), seed=21)
    full = fill(torch.empty(64, 100, dtype=torch.float32), seed=21)
    assert torch.equal(low, full.to(dtype))
