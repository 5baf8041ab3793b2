"""Windows: a tensor that is the block [start, start + shape) of a logical tensor of shape G gets
the values the whole-G init puts there, for every fill, dtype and layout."""

import pytest
import torch

import deepinit
from testing import DEVICES, FLOAT_DTYPES, RANDOM_FILLS

FILLS = {name: fill for name, fill, _ in RANDOM_FILLS}  # every function of the catalog that takes a window
# (global shape, start, block shape)
WINDOWS = [
    ((100, 37), (0, 0), (100, 37)),
    ((100, 37), (30, 0), (20, 37)),  # rows
    ((100, 37), (0, 5), (100, 10)),  # columns
    ((100, 37), (31, 7), (19, 29)),  # a block
    ((6, 7, 8, 9), (1, 2, 3, 4), (5, 4, 5, 5)),
    ((5, 1, 9), (2, 0, 3), (3, 1, 6)),
    ((100, 40), (0, 3), (100, 17)),  # short rows at one place in their counters (regular rows)
    ((64, 130), (1, 1), (60, 127)),  # float64: regular rows; float32: rows at varying places
    ((64, 128), (8, 32), (40, 64)),  # rows of whole registers (the CPU's aligned-rows path)
    ((40, 96), (3, 16), (30, 48)),
    ((33, 1024), (1, 512), (31, 512)),  # rows long enough for one kernel call each
    ((200, 37), (3, 5), (150, 1)),  # one column: rows of one element
    ((7, 9, 4), (1, 2, 3), (5, 6, 1)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", FILLS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("global_shape,start,shape", WINDOWS)
@pytest.mark.parametrize("offset", [9, 64])
def test_window_equals_the_whole_init(device, name, dtype, global_shape, start, shape, offset):
    fill = FILLS[name]
    whole = fill(torch.empty(global_shape, dtype=dtype, device=device), seed=21, offset=offset)
    block = fill(torch.empty(shape, dtype=dtype, device=device), seed=21, offset=offset, global_shape=global_shape,
                 start=start)
    expected = whole[tuple(slice(s, s + n) for s, n in zip(start, shape))]
    assert torch.equal(block, expected)
    # A non-contiguous block too: the window is about logical positions, not memory.
    if len(shape) >= 2:
        transposed = torch.empty(tuple(reversed(shape)), dtype=dtype, device=device).permute(
            *reversed(range(len(shape))))
        fill(transposed, seed=21, offset=offset, global_shape=global_shape, start=start)
        assert torch.equal(transposed, expected)


@pytest.mark.parametrize("device", DEVICES)
def test_row_chunks_need_only_an_offset(device):
    whole = deepinit.normal_(torch.empty(40, 16, device=device), seed=2)
    by_offset = deepinit.normal_(torch.empty(10, 16, device=device), seed=2, offset=20 * 16)
    by_window = deepinit.normal_(torch.empty(10, 16, device=device), seed=2, global_shape=(40, 16), start=(20, 0))
    assert torch.equal(by_offset, whole[20:30]) and torch.equal(by_window, whole[20:30])


def test_fans_come_from_the_global_shape():
    block = deepinit.kaiming_uniform_(torch.empty(10, 4), seed=1, global_shape=(10, 400), start=(0, 0))
    bound = 3 ** 0.5 * (2 / (1 + 0.01**2)) ** 0.5 / 400 ** 0.5
    assert block.abs().max() <= bound and block.abs().max() > 0.5 * bound


@pytest.mark.parametrize("kwargs,error,text", [
    ({"global_shape": (10, 10)}, ValueError, "both global_shape= and start="),
    ({"start": (0, 0)}, ValueError, "both global_shape= and start="),
    ({"global_shape": (10, 10), "start": (8, 0)}, RuntimeError, "does not fit"),
    ({"global_shape": (10,), "start": (0,)}, RuntimeError, "one entry per dim"),
    ({"global_shape": (10, 10), "start": (-1, 0)}, RuntimeError, "does not fit"),
])
def test_bad_windows_are_refused(kwargs, error, text):
    t = torch.full((4, 4), 7.0)
    with pytest.raises(error, match=text):
        deepinit.normal_(t, seed=1, **kwargs)
    assert torch.all(t == 7.0)


@pytest.mark.parametrize("device", DEVICES)
def test_a_window_with_a_generator_is_a_block_of_the_whole_fill_with_that_generator(device):
    g, h = torch.Generator(device).manual_seed(5), torch.Generator(device).manual_seed(5)
    block = deepinit.normal_(torch.empty(2, 3, device=device), generator=g, global_shape=(4, 5), start=(1, 2))
    whole = deepinit.normal_(torch.empty(4, 5, device=device), generator=h)
    assert torch.equal(block, whole[1:3, 2:5])
    assert torch.equal(g.get_state(), h.get_state())  # advanced as the whole fill advances it


def test_opcheck_with_a_window():
    from torch.library import opcheck

    opcheck(torch.ops.deepinit.trunc_normal_, (torch.empty(6, 5), 0.0, 1.0, -2.0, 2.0),
            {"seed": 3, "global_shape": [20, 9], "start": [4, 2]})


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_a_window_of_many_short_rows_equals_the_whole_init(device, dtype):
    """Rows enough for the GPU to give each a narrow group of lanes, 37 columns from column 5: the
    rows start at every place in their counters and in memory, and end inside a pack."""
    whole = deepinit.normal_(torch.empty(200_000, 48, dtype=dtype, device=device), seed=5)
    block = deepinit.normal_(torch.empty(200_000, 37, dtype=dtype, device=device), seed=5, global_shape=(200_000, 48),
                             start=(0, 5))
    assert torch.equal(block, whole[:, 5:42])
