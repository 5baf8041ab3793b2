"""Rows by id (rows=): row i of the tensor gets row ids[i] of the logical table, bit for bit what
the whole-table fill puts there, for every window function, dtype and layout; the ids are checked
before anything is written; keyed tables (None rows); the op under opcheck and torch.compile."""

import pytest
import torch
from torch.library import opcheck

import deepinit
from deepinit.functions import names
from testing import DEVICES, FLOAT_DTYPES, OP_IDS, OPS, ORACLES

WINDOWED = names(window=True)


def fill(name, tensor, **stream):
    """The function `name` with arguments of its own (its oracle's call)."""
    return ORACLES[name][0](tensor, **stream)


def random_ids(n, count, device, seed=0):
    return torch.randint(0, n, (count,), device=device, generator=torch.Generator(device).manual_seed(seed))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("name", WINDOWED)
@pytest.mark.parametrize("offset", [8, 5], ids=["rows start on a counter", "rows start inside a counter"])
def test_rows_equal_the_whole_tables(device, dtype, name, offset):
    shape = (300, 72)
    table = fill(name, torch.empty(shape, dtype=dtype, device=device), seed=7, offset=offset)
    ids = random_ids(shape[0], 257, device)  # unsorted, with repeats
    ids[:3] = torch.tensor([299, 0, 299])
    rows = fill(name, torch.empty(257, 72, dtype=dtype, device=device), seed=7, offset=offset, global_shape=shape,
                rows=ids)
    assert torch.equal(rows, table[ids])


# (global shape, start, the tensor's shape after its first dim): column windows, rows of odd
# widths and of more dims.
LAYOUTS = [
    ((50, 64), (0, 0), (64,)),
    ((50, 64), (0, 5), (40,)),  # a column window: rows start inside their counters
    ((50, 100), (0, 8), (36,)),  # a column window whose rows start on a counter
    ((50, 37), (0, 3), (30,)),
    ((50, 1), (0, 0), (1,)),
    ((50, 600), (0, 1), (599,)),  # rows longer than the CPU's short rows
    ((50, 6, 10), (0, 1, 3), (2, 4)),  # rows of several runs
    ((50, 3, 8), (0, 0, 0), (3, 8)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("global_shape,start,inner", LAYOUTS)
def test_rows_of_windows_and_views(device, dtype, global_shape, start, inner):
    table = deepinit.normal_(torch.empty(global_shape, dtype=dtype, device=device), seed=3)
    ids = random_ids(global_shape[0], 40, device, seed=1)
    expected = table[ids][(slice(None),) + tuple(slice(s, s + n) for s, n in zip(start[1:], inner))]
    contiguous = torch.empty((40, *inner), dtype=dtype, device=device)
    deepinit.normal_(contiguous, seed=3, global_shape=global_shape, start=start, rows=ids)
    assert torch.equal(contiguous, expected)
    # The same rows into a strided view (a slice of a wider buffer) and a transposed one.
    wide = torch.zeros((40, *inner[:-1], inner[-1] + 3), dtype=dtype, device=device)[..., 1:-2]
    deepinit.normal_(wide, seed=3, global_shape=global_shape, start=start, rows=ids)
    assert torch.equal(wide, expected)
    transposed = torch.empty(tuple(reversed((40, *inner))), dtype=dtype, device=device).permute(
        *reversed(range(1 + len(inner))))
    deepinit.normal_(transposed, seed=3, global_shape=global_shape, start=start, rows=ids)
    assert torch.equal(transposed, expected)


@pytest.mark.parametrize("device", DEVICES)
def test_empty_ids_write_nothing(device):
    t = torch.empty(0, 8, device=device)
    assert deepinit.normal_(t, seed=1, global_shape=(10, 8), rows=torch.empty(0, dtype=torch.long, device=device)) is t


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bad,where", [(10, 1), (-1, 1), (2**40, 1)])
def test_an_id_outside_the_table_is_named_and_nothing_is_written(device, bad, where):
    t = torch.zeros(3, 8, device=device)
    ids = torch.tensor([4, bad, 11], device=device)
    with pytest.raises(ValueError, match=rf"rows= holds id {bad} at index {where}, outside \[0, 10\)"):
        deepinit.normal_(t, seed=1, global_shape=(10, 8), rows=ids)
    assert torch.all(t == 0)


@pytest.mark.parametrize("device", DEVICES)
def test_arguments_are_checked(device):
    t = torch.empty(3, 8, device=device)
    ids = torch.tensor([0, 1, 2], device=device)
    with pytest.raises(TypeError, match="int64"):
        deepinit.normal_(t, seed=1, global_shape=(10, 8), rows=ids.int())
    with pytest.raises(ValueError, match="holds 2 ids, but the tensor has 3 rows"):
        deepinit.normal_(t, seed=1, global_shape=(10, 8), rows=ids[:2])
    with pytest.raises(ValueError, match="1-d"):
        deepinit.normal_(t, seed=1, global_shape=(10, 8), rows=ids.view(3, 1))
    with pytest.raises(ValueError, match="needs global_shape"):
        deepinit.normal_(t, seed=1, rows=ids)
    with pytest.raises(ValueError, match=r"start\[0\] must be 0"):
        deepinit.normal_(t, seed=1, global_shape=(10, 8), start=(1, 0), rows=ids)
    with pytest.raises(RuntimeError, match="does not fit"):
        deepinit.normal_(t, seed=1, global_shape=(10, 8), start=(0, 1), rows=ids)
    if device == "cpu" and torch.cuda.is_available():
        with pytest.raises(ValueError, match="rows= is on cuda"):
            deepinit.normal_(t, seed=1, global_shape=(10, 8), rows=ids.cuda())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_a_generator_gives_the_whole_tables_start_and_advance(device, dtype):
    whole = torch.Generator(device).manual_seed(11)
    table = deepinit.trunc_normal_(torch.empty(100, 24, dtype=dtype, device=device), std=0.02, generator=whole)
    picked = torch.Generator(device).manual_seed(11)
    ids = torch.tensor([99, 3, 3, 50], device=device)
    rows = deepinit.trunc_normal_(torch.empty(4, 24, dtype=dtype, device=device), std=0.02, generator=picked,
                                  global_shape=(100, 24), rows=ids)
    assert torch.equal(rows, table[ids])
    assert torch.equal(picked.get_state(), whole.get_state())


@pytest.mark.parametrize("device", DEVICES)
def test_keyed_table_rows_are_the_dense_tables_rows(device):
    dense = deepinit.kaiming_uniform_(torch.empty(500, 16, device=device), seed=9)  # fan_in = 16, as keyed
    ids = random_ids(500, 64, device)
    keyed = deepinit.kaiming_uniform_(torch.empty(64, 16, device=device), seed=9, global_shape=(None, 16), rows=ids)
    assert torch.equal(keyed, dense[ids])
    # Keys far beyond any dense table: key k's row is positions k * 16 + [0, 16) of the stream.
    far = torch.tensor([2**59, 2**60 - 1], device=device)
    rows = deepinit.normal_(torch.empty(2, 16, device=device), seed=9, global_shape=(None, 16), rows=far)
    for key, row in zip(far.tolist(), rows):
        assert torch.equal(row, deepinit.normal_(torch.empty(16, device=device), seed=9, offset=key * 16))


@pytest.mark.parametrize("device", DEVICES)
def test_keyed_table_limits(device):
    t = torch.zeros(2, 3, device=device)
    last = 2**64 // 3 - 1  # keys [0, 2^64 / 3): rows 3 positions apart never overlap modulo 2^64
    deepinit.normal_(t, seed=1, global_shape=(None, 3), rows=torch.tensor([last, 0], device=device))
    t.zero_()
    with pytest.raises(ValueError, match=rf"id {last + 1} at index 0, outside \[0, {last + 1}\): a keyed table"):
        deepinit.normal_(t, seed=1, global_shape=(None, 3), rows=torch.tensor([last + 1, 0], device=device))
    assert torch.all(t == 0)
    ids = torch.tensor([1, 2], device=device)
    with pytest.raises(ValueError, match="needs seed="):
        deepinit.normal_(t, global_shape=(None, 3), rows=ids)
    with pytest.raises(ValueError, match="needs seed="):
        deepinit.normal_(t, generator=torch.Generator(device), global_shape=(None, 3), rows=ids)
    with pytest.raises(ValueError, match="rows= only"):
        deepinit.normal_(t, seed=1, global_shape=(None, 3), start=(0, 0))
    with pytest.raises(ValueError, match="no fan_out"):
        deepinit.xavier_uniform_(t, seed=1, global_shape=(None, 3), rows=ids)
    with pytest.raises(ValueError, match="no fan_out"):
        deepinit.kaiming_normal_(t, mode="fan_out", seed=1, global_shape=(None, 3), rows=ids)


def test_keyed_rows_of_one_element_take_every_nonnegative_key():
    ids = torch.tensor([2**63 - 1, 0])
    t = deepinit.uniform_(torch.empty(2, 1), seed=4, global_shape=(None, 1), rows=ids)
    assert torch.equal(t[0], deepinit.uniform_(torch.empty(1), seed=4, offset=2**63 - 1))


def test_meta_tensors_check_what_they_can():
    meta = torch.empty(3, 8, device="meta")
    deepinit.normal_(meta, seed=1, global_shape=(10, 8), rows=torch.empty(3, dtype=torch.long, device="meta"))
    with pytest.raises(ValueError, match="holds 2 ids"):
        deepinit.normal_(meta, seed=1, global_shape=(10, 8), rows=torch.empty(2, dtype=torch.long, device="meta"))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,params", OPS, ids=OP_IDS)
def test_opcheck_with_rows(device, op, params):
    t = torch.empty(5, 17, device=device)
    ids = torch.tensor([3, 0, 3, 9, 4], device=device)
    opcheck(op, (t, *params), dict(seed=7, global_shape=[10, 20], start=[0, 2], rows=ids))


def test_compile_fullgraph_with_rows():
    def init(w, ids):
        deepinit.normal_(w, std=0.02, seed=3, global_shape=(100, 4), rows=ids)
        return w * 2

    compiled = torch.compile(init, fullgraph=True, backend="aot_eager")
    ids = torch.tensor([4, 1, 99])
    assert torch.equal(compiled(torch.empty(3, 4), ids), init(torch.empty(3, 4), ids))


def test_dtensors_refuse_rows():
    from deepinit._stream import Stream, _fill_dtensor

    with pytest.raises(ValueError, match="rows="):
        _fill_dtensor(torch.ops.deepinit.normal_.default, None, (0.0, 1.0), None, Stream(1, rows=torch.tensor([0])))


class LazyTable:
    """An embedding table whose rows exist once touched: rows= creates them on first use."""

    def __init__(self, dim, seed, std):
        self.dim, self.seed, self.std, self.rows = dim, seed, std, {}

    def gather(self, ids):
        new = [i for i in ids.unique().tolist() if i not in self.rows]
        if new:
            created = deepinit.normal_(torch.empty(len(new), self.dim), std=self.std, seed=self.seed,
                                       global_shape=(None, self.dim), rows=torch.tensor(new))
            self.rows.update(zip(new, created))
        return torch.stack([self.rows[i] for i in ids.tolist()])

    def scatter(self, ids, values):
        for i, row in zip(ids.tolist(), values):
            self.rows[i] = row


def test_a_lazy_table_trains_like_the_dense_one():
    n, dim, steps, lr = 10_000, 16, 6, 0.5
    batches = [(torch.randint(0, n, (12,), generator=torch.Generator().manual_seed(s)), torch.tensor([0, 4, 7]))
               for s in range(steps)]
    targets = [torch.randn(3, 1, generator=torch.Generator().manual_seed(100 + s)) for s in range(steps)]

    dense = torch.nn.EmbeddingBag(n, dim, mode="sum")
    deepinit.normal_(dense.weight, std=0.1, seed=5)
    head_dense = torch.nn.Linear(dim, 1)
    deepinit.init_module_(head_dense, seed=6)
    lazy = LazyTable(dim, seed=5, std=0.1)
    head_lazy = torch.nn.Linear(dim, 1)
    deepinit.init_module_(head_lazy, seed=6)

    for (indices, offsets), target in zip(batches, targets):
        loss_dense = torch.nn.functional.mse_loss(head_dense(dense(indices, offsets)), target)
        dense.zero_grad()
        head_dense.zero_grad()
        loss_dense.backward()
        with torch.no_grad():
            for p in [*dense.parameters(), *head_dense.parameters()]:
                p.add_(p.grad, alpha=-lr)

        touched = indices.unique()
        local = lazy.gather(touched).requires_grad_()
        remapped = torch.searchsorted(touched, indices)
        loss_lazy = torch.nn.functional.mse_loss(
            head_lazy(torch.nn.functional.embedding_bag(remapped, local, offsets, mode="sum")), target)
        head_lazy.zero_grad()
        loss_lazy.backward()
        with torch.no_grad():
            local.add_(local.grad, alpha=-lr)
            for p in head_lazy.parameters():
                p.add_(p.grad, alpha=-lr)
        lazy.scatter(touched, local.detach())
        assert torch.equal(loss_lazy, loss_dense)

    touched = sorted({i for indices, _ in batches for i in indices.tolist()})
    assert sorted(lazy.rows) == touched  # the store holds the touched rows and no other
    assert torch.equal(torch.stack([lazy.rows[i] for i in touched]), dense.weight.detach()[touched])
