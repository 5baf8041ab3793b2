"""Tables larger than memory, initialised into a NumPy ``.npy`` or a ``.safetensors`` file.

    deepinit.init_table_file("emb.npy", (1_000_000, 128), "normal_", std=0.02, seed=7)
    python -m deepinit table emb.npy --shape 1000000x128 --init normal_ --std 0.02 --seed 7

The table is generated in row chunks, each the window of the whole table that it covers, so the
file holds exactly the values an in-memory init with the same seed gives, and a chunk is written
while the next is generated. What the file writer promises (docs/tables.md):

* Atomic: the rows go to ``PATH.partial`` beside PATH, which is renamed to PATH only once every
  row is on disk (fsync); PATH never holds a partial table, and an existing PATH is refused
  unless ``overwrite=True``.
* Resumable: after each chunk reaches the disk, a journal beside the partial file records the
  rows done and the request; ``resume=True`` checks that the journal describes the same request
  and continues from there.
* Checked first: every argument, and the free space where the OS reports it, before any file is
  created.
* Verifiable: the request is stored with the table (safetensors metadata, or ``PATH.deepinit.json``
  beside a .npy file), so ``verify_table_file`` recomputes all of it, or chunks chosen at random.
* Many writers: ``rows=(start, stop)`` writes one row range into the shared partial file; once
  every range is written, ``finish_table_file`` (``--finish``) makes the table. The result equals
  the single-writer file byte for byte.
"""

import errno
import io
import json
import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .functions import FUNCTIONS

# The initialisers that can fill any block of a table (they take a window), by name.
INITS = {f.name: f.function for f in FUNCTIONS if f.window and not f.name.startswith("_")}
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}
NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}
FORMATS = (".npy", ".safetensors")
STREAM_CONTRACT = "deepinit v1"
REQUEST_KEY = "deepinit"  # the safetensors metadata key that holds the request


class TableError(RuntimeError):
    """A table could not be written, verified or finished; the message says why and what to do."""


class TableRefused(TableError):
    """Refused before anything was written: the destination exists, a partial table is in the
    way, or the disk is too small."""


@dataclass(frozen=True)
class Request:
    """Everything that decides a table's bytes."""

    path: str
    shape: tuple
    init: str
    seed: int
    offset: int
    dtype: str
    name: str
    init_kwargs: tuple  # sorted (key, value) pairs

    @property
    def torch_dtype(self):
        return DTYPES[self.dtype]

    @property
    def suffix(self):
        return os.path.splitext(self.path)[1].lower()

    @property
    def row_bytes(self):
        return math.prod(self.shape[1:]) * torch.tensor([], dtype=self.torch_dtype).element_size()

    @property
    def data_bytes(self):
        return self.shape[0] * self.row_bytes

    def describe(self) -> dict:
        """The request as JSON-able data: what is stored with the table and its partial file."""
        return {"stream_contract": STREAM_CONTRACT, "shape": list(self.shape), "dtype": self.dtype, "init": self.init,
                "init_kwargs": dict(self.init_kwargs), "seed": self.seed, "offset": self.offset,
                "format": self.suffix, "name": self.name}

    def header(self) -> bytes:
        if self.suffix == ".npy":
            buffer = io.BytesIO()
            np.lib.format.write_array_header_2_0(buffer, {"descr": np.dtype(NUMPY_DTYPES[self.torch_dtype]).str,
                                                          "fortran_order": False, "shape": self.shape})
            return buffer.getvalue()
        header = {self.name: {"dtype": SAFETENSORS_DTYPES[self.torch_dtype], "shape": list(self.shape),
                              "data_offsets": [0, self.data_bytes]}}
        metadata = {"init": self.init, "seed": str(self.seed), "offset": str(self.offset),
                    "stream_contract": STREAM_CONTRACT, **{k: str(v) for k, v in self.init_kwargs},
                    REQUEST_KEY: json.dumps(self.describe(), sort_keys=True)}
        header["__metadata__"] = metadata
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
        return len(text).to_bytes(8, "little") + text

    def fill_rows(self, out, start):
        """out: rows start .. start + len(out) of the table."""
        window = (start,) + (0,) * (len(self.shape) - 1)
        INITS[self.init](out, seed=self.seed, offset=self.offset, global_shape=self.shape, start=window,
                         **dict(self.init_kwargs))
        return out


def make_request(path, shape, init, seed, offset, dtype, name, init_kwargs) -> Request:
    """A checked Request: ValueError (naming the argument) for anything that would fail later."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise ValueError(f"write a .npy or a .safetensors file, not {path!r}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS)}")
    if isinstance(dtype, torch.dtype):
        dtype = {v: k for k, v in DTYPES.items()}.get(dtype, str(dtype))
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    if suffix == ".npy" and DTYPES[dtype] not in NUMPY_DTYPES:
        raise ValueError(f"{dtype} has no NumPy dtype: write a .safetensors file instead")
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0 or any(n < 0 for n in shape):
        raise ValueError(f"shape must have at least one dim and no negative size, got {shape}")
    for value, what in ((seed, "seed"), (offset, "offset")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{what} must be an int, but got {value!r} (a file is reproducible only from a seed)")
    request = Request(path, shape, init, int(seed), int(offset), dtype, str(name), tuple(sorted(init_kwargs.items())))
    # The initialiser checks its own arguments: on one row of the table, in memory, before any file.
    try:
        request.fill_rows(torch.empty((min(1, shape[0]),) + shape[1:], dtype=DTYPES[dtype]), 0)
    except (RuntimeError, ValueError, TypeError) as error:
        raise ValueError(f"{init}: {error}") from error
    return request


# Where the pieces of a table in progress live, beside the destination.
def partial_path(path):
    return f"{path}.partial"


def journal_path(path, rows):
    return f"{path}.partial.rows-{rows[0]}-{rows[1]}.json"


def sidecar_path(path):
    """The request of a .npy table (a .safetensors file holds it in its metadata)."""
    return f"{path}.deepinit.json"


def _journals(path):
    directory = os.path.dirname(os.path.abspath(path))
    prefix = os.path.basename(path) + ".partial.rows-"
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if f.startswith(prefix) and f.endswith(".json"))


def _write_atomically(path, data: bytes):
    """path holds data, or what it held before: a temporary file, fsync, rename, fsync the directory."""
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    _sync_directory(path)


def _sync_directory(path):
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every filesystem syncs a directory
    finally:
        os.close(fd)


def _free_bytes(path):
    try:
        stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except (AttributeError, OSError):
        return None
    return stat.f_bavail * stat.f_frsize


def _gb(n):
    return f"{n / 1e9:.3g} GB" if n >= 1e8 else f"{n} bytes"


class _Progress:
    """A progress bar on stderr: share done, bytes, rate and time left."""

    def __init__(self, total_bytes, enabled, already=0):
        self.total, self.enabled, self.start, self.already = total_bytes, enabled, time.perf_counter(), already
        self.last = 0.0

    def update(self, done, force=False):
        now = time.perf_counter()
        if not self.enabled or (not force and now - self.last < 0.2 and done < self.total):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = (done - self.already) / elapsed
        left = (self.total - done) / rate if rate > 0 else math.inf
        eta = "--:--" if math.isinf(left) else time.strftime("%H:%M:%S" if left >= 3600 else "%M:%S", time.gmtime(left))
        width = 30
        filled = int(width * done / self.total) if self.total else width
        sys.stderr.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {100 * done / max(self.total, 1):5.1f}% "
                         f"{done / 1e9:.2f}/{self.total / 1e9:.2f} GB {rate / 1e9:.2f} GB/s, {eta} left")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def init_table_file(
    path,
    shape,
    init="normal_",
    *,
    seed,
    offset=0,
    dtype="float32",
    name="weight",
    chunk_bytes=256 << 20,
    progress=True,
    overwrite=False,
    resume=False,
    rows=None,
    **init_kwargs,
):
    """Writes a table of `shape` initialised by deepinit.<init> to `path` (.npy or .safetensors).

    Args:
        path: the file to write; its suffix picks the format (.npy or .safetensors).
        shape: the table's shape; chunks are runs of rows (dim 0).
        init: the name of a deepinit initialiser that takes a window (see INITS).
        seed, offset: the stream, as for the initialiser (required: a file is reproducible).
        dtype: float32, float64, float16 or bfloat16 (bfloat16 needs .safetensors).
        name: the tensor's name in a .safetensors file.
        chunk_bytes: the size of a chunk; two are in memory at once.
        progress: print a progress bar (rate, time left) on stderr.
        overwrite: replace an existing file at `path`, and start over any partial one.
        resume: continue a partial table of the same request from its last durable chunk.
        rows: (start, stop): write only these rows into the partial file, for one of several
            writers; ``finish_table_file`` makes the table once every row is written.
        init_kwargs: the initialiser's own arguments (std=, a=, mode=, ...).

    Returns the path. The values equal ``init(torch.empty(shape, dtype), seed=seed, offset=offset,
    **init_kwargs)`` bit for bit. Raises ValueError for a bad argument and TableError (naming the
    path, the bytes written and how to resume) when the disk refuses the data; nothing is
    created or changed before the arguments are checked.
    """
    request = make_request(path, shape, init, seed, offset, dtype, name, init_kwargs)
    start, stop = _row_range(rows, request.shape[0])
    destination = request.path
    if os.path.exists(destination) and not overwrite:
        raise TableRefused(f"{destination} exists; pass overwrite=True (--overwrite) to replace it")
    journal = journal_path(destination, (start, stop))
    done = _resume_point(request, journal, resume, overwrite, (start, stop))
    header = request.header()
    needed = (stop - start - done) * request.row_bytes + (0 if os.path.exists(partial_path(destination)) else len(header))
    free = _free_bytes(destination)
    if free is not None and needed > free:
        raise TableRefused(f"{destination}: the table needs {_gb(needed)} more on disk, but its filesystem has "
                         f"{_gb(free)} free")
    _write_rows(request, (start, stop), done, chunk_bytes, progress)
    if rows is None:
        finish_table_file(destination, overwrite=overwrite)
    return destination


def _row_range(rows, total):
    if rows is None:
        return 0, total
    start, stop = (int(r) for r in rows)
    if not 0 <= start <= stop <= total:
        raise ValueError(f"rows=({start}, {stop}) is not a range of the table's {total} rows")
    return start, stop


def _resume_point(request, journal, resume, overwrite, rows):
    """Rows already durable in this range: 0, or the journal's count when resuming the same
    request. Refuses a partial table left by an earlier run unless told to resume or start over."""
    partial = partial_path(request.path)
    whole = rows == (0, request.shape[0])
    if overwrite and not resume:
        # A single writer starts the whole table over; one of several writers only its own range.
        for stale in ([partial, *_journals(request.path)] if whole else [journal]):
            if os.path.exists(stale):
                os.remove(stale)
        return 0
    if not os.path.exists(journal):
        if whole and os.path.exists(partial) and not resume:
            raise TableRefused(f"{partial} holds a partial table from an earlier run: pass resume=True (--resume) to "
                             "continue it, or overwrite=True (--overwrite) to start over")
        return 0  # nothing durable to resume from
    with open(journal) as f:
        state = json.load(f)
    if state["request"] != request.describe() or tuple(state["rows"]) != rows:
        raise TableRefused(f"{partial} was written for another request ({json.dumps(state['request'], sort_keys=True)}, "
                         f"rows {state['rows']}): pass the same arguments to resume it, or overwrite=True "
                         "(--overwrite) to start over")
    if not resume:
        raise TableRefused(f"{partial} holds {state['done']} rows of this request from an earlier run: pass resume=True "
                         "(--resume) to continue it, or overwrite=True (--overwrite) to start over")
    if not os.path.exists(partial) or os.path.getsize(partial) < len(request.header()) + rows[1] * request.row_bytes:
        raise TableRefused(f"{partial} is missing or shorter than its journal says: start over with overwrite=True "
                         "(--overwrite)")
    return int(state["done"])


def _write_rows(request, rows, done, chunk_bytes, progress):
    """Rows rows[0] + done .. rows[1] into the partial file, chunk by chunk, each made durable and
    recorded in the range's journal before the next is trusted."""
    start, stop = rows
    destination = request.path
    partial, journal = partial_path(destination), journal_path(destination, rows)
    header_bytes = len(request.header())
    total_bytes = header_bytes + request.data_bytes
    row_bytes = request.row_bytes
    rows_per_chunk = max(1, chunk_bytes // max(1, row_bytes))
    fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o644)
    restore_signal = _ignore_file_size_signal()
    writer = None
    bar = _Progress((stop - start) * row_bytes, progress, done * row_bytes)
    written = done  # rows durable in this range
    try:
        if os.fstat(fd).st_size < total_bytes:
            os.ftruncate(fd, total_bytes)  # every writer sizes the file alike; the rows come later
        if not os.path.exists(journal):
            _record(journal, request, rows, done)
        capacity = min(rows_per_chunk, max(stop - start - done, 1))
        buffers = [torch.empty((capacity,) + request.shape[1:], dtype=request.torch_dtype) for _ in range(2)]
        for k, r0 in enumerate(range(start + done, stop, rows_per_chunk)):
            r1 = min(stop, r0 + rows_per_chunk)
            chunk = request.fill_rows(buffers[k % 2][: r1 - r0], r0)
            if writer is not None:
                writer.join()
                written = writer.rows_end - start
                _record(journal, request, rows, written)
                bar.update(written * row_bytes)
            writer = _Writer(fd, chunk, header_bytes + r0 * row_bytes, r1)
        if writer is not None:
            writer.join()
            written = writer.rows_end - start
            _record(journal, request, rows, written)
        bar.update((stop - start) * row_bytes, force=True)
    except OSError as error:
        reason = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file-size limit was reached",
                  errno.EDQUOT: "the disk quota is exhausted"}.get(error.errno, error.strerror or str(error))
        raise TableError(
            f"{partial}: {reason} after {written * row_bytes} bytes of rows {start}..{stop} were written. "
            f"{destination} is untouched; free some space and run the same command with --resume "
            "(resume=True) to continue from there") from error
    finally:
        if writer is not None and writer.is_alive():
            writer.join(swallow=True)
        os.close(fd)
        restore_signal()
    return written


def _record(journal, request, rows, done):
    _write_atomically(journal, json.dumps({"request": request.describe(), "rows": list(rows), "done": done},
                                          sort_keys=True).encode())


def _ignore_file_size_signal():
    """A write past RLIMIT_FSIZE raises SIGXFSZ, which kills the process by default; ignored, the
    write fails with EFBIG instead, which is reported. Returns the function that restores it."""
    if not hasattr(signal, "SIGXFSZ") or threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return lambda: signal.signal(signal.SIGXFSZ, previous)


class _Writer(threading.Thread):
    """Writes one chunk at its place in the file while the next is generated (both release the
    GIL), then makes it durable (fdatasync) before its rows count as written. Where the OS has
    posix_fadvise, the chunk then leaves the page cache: a table larger than memory streams at
    the disk's pace instead of filling the cache with dirty pages first."""

    def __init__(self, fd, chunk, position, rows_end):
        super().__init__(daemon=True)
        self.fd, self.chunk, self.position, self.rows_end = fd, chunk, position, rows_end
        self.error = None
        self.start()

    def run(self):
        try:
            data = memoryview(self.chunk.view(torch.uint8).numpy()) if self.chunk.numel() else memoryview(b"")
            done = 0
            while done < len(data):
                done += os.pwrite(self.fd, data[done:], self.position + done)
            (os.fdatasync if hasattr(os, "fdatasync") else os.fsync)(self.fd)
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(self.fd, self.position, len(data), os.POSIX_FADV_DONTNEED)
        except BaseException as e:  # re-raised by join()
            self.error = e

    def join(self, timeout=None, swallow=False):
        super().join(timeout)
        if self.error is not None and not swallow:
            raise self.error


def finish_table_file(path, overwrite=False):
    """Makes the table at `path` from its partial file once every row is written: checks that the
    journals beside it describe one request and cover every row, writes the header, makes it
    durable, stores the request (a .npy file's sidecar) and renames the partial file to `path`."""
    path = os.fspath(path)
    partial = partial_path(path)
    journals = _journals(path)
    if not journals or not os.path.exists(partial):
        raise TableError(f"{path}: no partial table to finish ({partial} and its journals are missing)")
    states = [json.load(open(j)) for j in journals]
    described = states[0]["request"]
    if any(s["request"] != described for s in states):
        raise TableError(f"{partial}: its journals describe different requests; start over with --overwrite")
    rows = described["shape"][0]
    covered = sorted((s["rows"][0], s["rows"][0] + s["done"]) for s in states)
    reached = 0
    for begin, end in covered:
        if begin > reached:
            break
        reached = max(reached, end)
    if reached < rows:
        missing = [s["rows"] for s in states if s["done"] < s["rows"][1] - s["rows"][0]]
        raise TableError(f"{path}: rows {reached}.. are not written yet (unfinished ranges: {missing or 'none'}; "
                         "no range covers the rest)")
    if os.path.exists(path) and not overwrite:
        raise TableError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    request = _request_from(described, path)
    header = request.header()
    fd = os.open(partial, os.O_RDWR)
    try:
        os.pwrite(fd, header, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    if request.suffix == ".npy":
        _write_atomically(sidecar_path(path), json.dumps(request.describe(), sort_keys=True, indent=1).encode())
    os.replace(partial, path)
    _sync_directory(path)
    for journal in journals + [f"{j}.tmp" for j in journals]:  # a journal's update cut short leaves a .tmp
        if os.path.exists(journal):
            os.remove(journal)
    return path


def _request_from(described, path):
    if described.get("stream_contract") != STREAM_CONTRACT:
        raise TableError(f"{path}: written under stream contract {described.get('stream_contract')!r}, "
                         f"not {STREAM_CONTRACT!r}")
    return Request(os.fspath(path), tuple(described["shape"]), described["init"], described["seed"],
                   described["offset"], described["dtype"], described["name"],
                   tuple(sorted(described["init_kwargs"].items())))


def stored_request(path) -> Request:
    """The request stored with a finished table: safetensors metadata, or a .npy file's sidecar."""
    path = os.fspath(path)
    if path.lower().endswith(".safetensors"):
        with open(path, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(length))
        described = header.get("__metadata__", {}).get(REQUEST_KEY)
        if described is None:
            raise TableError(f"{path}: its metadata holds no deepinit request to verify against")
        return _request_from(json.loads(described), path)
    sidecar = sidecar_path(path)
    if not os.path.exists(sidecar):
        raise TableError(f"{path}: {sidecar}, which holds the request to verify against, is missing")
    return _request_from(json.load(open(sidecar)), path)


@dataclass
class Verification:
    ok: bool
    rows_checked: int
    first_bad_row: Optional[int]  # the first row whose bytes differ, or None
    message: str


def verify_table_file(path, sample=None, chunk_bytes=64 << 20, random_seed=None) -> Verification:
    """Recomputes the table at `path` from the request stored with it and compares every byte:
    all of it, or `sample` chunks chosen at random. Reports the first row that differs (bit
    rot, a truncated copy, another table under the same name)."""
    path = os.fspath(path)
    request = stored_request(path)
    header_bytes = len(request.header())
    expected_size = header_bytes + request.data_bytes
    size = os.path.getsize(path)
    rows, row_bytes = request.shape[0], request.row_bytes
    if size != expected_size:
        first = max(0, (size - header_bytes) // row_bytes) if row_bytes else 0
        return Verification(False, 0, min(first, rows),
                            f"{path}: {size} bytes where the request makes {expected_size} (truncated or padded)")
    with open(path, "rb") as f:
        if f.read(header_bytes) != request.header():
            return Verification(False, 0, None, f"{path}: the header is not the one its request makes")
    rows_per_chunk = max(1, chunk_bytes // max(1, row_bytes))
    chunks = list(range(0, rows, rows_per_chunk))
    if sample is not None and sample < len(chunks):
        chunks = sorted(random.Random(random_seed).sample(chunks, sample))
    checked = 0
    buffer = torch.empty((min(rows_per_chunk, max(rows, 1)),) + request.shape[1:], dtype=request.torch_dtype)
    with open(path, "rb") as f:
        for r0 in chunks:
            r1 = min(rows, r0 + rows_per_chunk)
            expected = request.fill_rows(buffer[: r1 - r0], r0).view(torch.uint8).numpy().reshape(r1 - r0, -1)
            f.seek(header_bytes + r0 * row_bytes)
            actual = np.frombuffer(f.read((r1 - r0) * row_bytes), dtype=np.uint8).reshape(r1 - r0, -1)
            bad = np.flatnonzero((actual != expected).any(axis=1))
            if bad.size:
                return Verification(False, checked, r0 + int(bad[0]), f"{path}: row {r0 + int(bad[0])} differs")
            checked += r1 - r0
    what = "every row" if sample is None or checked == rows else f"{checked} rows in {len(chunks)} random chunks"
    return Verification(True, checked, None, f"{path}: {what} as the request makes them")


def read_safetensors(path, name="weight", mmap=True) -> torch.Tensor:
    """The tensor `name` of a .safetensors file written by init_table_file (memory-mapped copy-on-write)."""
    with open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(length))
    entry = header[name]
    dtype = {v: k for k, v in SAFETENSORS_DTYPES.items()}[entry["dtype"]]
    begin, end = entry["data_offsets"]
    raw = np.memmap(path, dtype=np.uint8, mode="c", offset=8 + length + begin, shape=(end - begin,)) if mmap else \
        np.fromfile(path, dtype=np.uint8, offset=8 + length + begin, count=end - begin)
    return torch.from_numpy(np.asarray(raw)).view(dtype).view(entry["shape"])


def _parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m deepinit table",
        description="Initialise a table larger than memory into a .npy or .safetensors file: atomic, resumable, "
                    "verifiable, and writable by several processes at once (docs/tables.md).")
    parser.add_argument("path", help="the table file, .npy or .safetensors")
    parser.add_argument("--shape", help="sizes joined by x, e.g. 1000000x128")
    parser.add_argument("--init", default="normal_", choices=list(INITS))
    parser.add_argument("--seed", type=int)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES))
    parser.add_argument("--name", default="weight", help="tensor name in a .safetensors file")
    parser.add_argument("--chunk-mb", type=float, default=256, help="rows generated and written at a time (MB)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file, start a partial one over")
    parser.add_argument("--resume", action="store_true", help="continue a partial table of the same request")
    parser.add_argument("--rows", metavar="START:STOP", help="write only these rows (one of several writers)")
    parser.add_argument("--finish", action="store_true", help="make the table once every row range is written")
    parser.add_argument("--verify", action="store_true", help="recompute PATH from its stored request and compare")
    parser.add_argument("--sample", type=int, metavar="N", help="with --verify: only N chunks chosen at random")
    for arg in ("a", "b", "mean", "std", "gain", "scale"):
        parser.add_argument(f"--{arg}", type=float)
    parser.add_argument("--mode", choices=["fan_in", "fan_out", "fan_avg"])
    parser.add_argument("--nonlinearity")
    parser.add_argument("--distribution", choices=["truncated_normal", "normal", "uniform"])
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.verify:
            result = verify_table_file(args.path, sample=args.sample)
            print(result.message)
            return 0 if result.ok else 1
        if args.finish:
            print(finish_table_file(args.path, overwrite=args.overwrite))
            return 0
        if args.shape is None or args.seed is None:
            parser.error("the following arguments are required to write a table: --shape, --seed")
        try:
            shape = tuple(int(n) for n in args.shape.lower().split("x"))
        except ValueError:
            parser.error(f"--shape: invalid shape {args.shape!r}: write sizes joined by x, like 1000000x128")
        rows = None
        if args.rows is not None:
            try:
                rows = tuple(int(n) for n in args.rows.split(":"))
                assert len(rows) == 2
            except (ValueError, AssertionError):
                parser.error(f"--rows: invalid range {args.rows!r}: write START:STOP, like 0:1000000")
        init_kwargs = {k: getattr(args, k) for k in ("a", "b", "mean", "std", "gain", "scale", "mode", "nonlinearity",
                                                     "distribution") if getattr(args, k) is not None}
        try:
            make_request(args.path, shape, args.init, args.seed, args.offset, args.dtype, args.name, init_kwargs)
        except ValueError as error:
            parser.error(str(error))
        init_table_file(args.path, shape, args.init, seed=args.seed, offset=args.offset, dtype=args.dtype,
                        name=args.name, chunk_bytes=max(1, int(args.chunk_mb * (1 << 20))), progress=not args.quiet,
                        overwrite=args.overwrite, resume=args.resume, rows=rows, **init_kwargs)
        return 0
    except (TableRefused, ValueError) as error:
        print(f"python -m deepinit table: error: {error}", file=sys.stderr)
        return 2
    except TableError as error:
        print(f"python -m deepinit table: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\npython -m deepinit table: interrupted; run the same command with --resume to continue",
              file=sys.stderr)
        return 130
