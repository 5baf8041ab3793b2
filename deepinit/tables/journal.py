"""Writing a table: rows into ``PATH.partial`` chunk by chunk, each made durable and recorded in a
journal before the next is trusted, so that a killed run resumes where it stopped, several
writers share one file, and the table appears at PATH only once complete."""

import errno
import json
import math
import os
import signal
import sys
import threading
import time

import torch

from .format import (
    MAX_SIDECAR_BYTES,
    TableError,
    TableRefused,
    TableUnreadable,
    check_contract,
    make_request,
    read_json,
    request_from,
    sidecar_path,
)


# Where the pieces of a table in progress live, beside the destination.
def partial_path(path):
    return f"{path}.partial"


def journal_path(path, rows):
    return f"{path}.partial.rows-{rows[0]}-{rows[1]}.json"


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
    """Progress on stderr: share done, bytes, rate and time left; on a terminal a bar redrawn in
    place, elsewhere (a log file, a pipe) a line at every tenth of the table."""

    def __init__(self, total_bytes, enabled, already=0):
        self.total, self.enabled, self.start, self.already = total_bytes, enabled, time.perf_counter(), already
        self.terminal = enabled and sys.stderr.isatty()
        self.last = 0.0
        self.tenths = int(10 * already / total_bytes) if total_bytes else 10

    def update(self, done, force=False):
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.terminal:
            if force or now - self.last >= 0.2 or done >= self.total:
                self.last = now
                sys.stderr.write(f"\r{self._bar(done)} {self._status(done, now)}" + ("\n" if done >= self.total else ""))
                sys.stderr.flush()
            return
        tenths = int(10 * done / self.total) if self.total else 10
        if tenths > self.tenths:
            self.tenths = tenths
            sys.stderr.write(f"{100 * done / max(self.total, 1):5.1f}% {self._status(done, now)}\n")
            sys.stderr.flush()

    def _bar(self, done, width=30):
        filled = int(width * done / self.total) if self.total else width
        return f"[{'#' * filled}{' ' * (width - filled)}] {100 * done / max(self.total, 1):5.1f}%"

    def _status(self, done, now):
        rate = (done - self.already) / max(now - self.start, 1e-9)
        left = (self.total - done) / rate if rate > 0 else math.inf
        eta = "--:--" if math.isinf(left) else time.strftime("%H:%M:%S" if left >= 3600 else "%M:%S", time.gmtime(left))
        return f"{done / 1e9:.2f}/{self.total / 1e9:.2f} GB {rate / 1e9:.2f} GB/s, {eta} left"


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
    write_request(request, chunk_bytes=chunk_bytes, progress=progress, overwrite=overwrite, resume=resume, rows=rows)
    return request.path


def write_request(request, *, chunk_bytes=256 << 20, progress=True, overwrite=False, resume=False, rows=None):
    """init_table_file of a checked request (make_request); returns the rows of the range that an
    earlier run had written (0 unless resumed)."""
    start, stop = _row_range(rows, request.shape[0])
    destination = request.path
    if os.path.exists(destination) and not overwrite:
        raise TableRefused(f"{destination} exists; pass {{overwrite}} to replace it")
    journal = journal_path(destination, (start, stop))
    done = _resume_point(request, journal, resume, overwrite, (start, stop))
    if done and progress:
        print(f"{partial_path(destination)}: resuming at row {start + done} ({done} of rows {start}:{stop} were written)",
              file=sys.stderr)
    header = request.header()
    needed = (stop - start - done) * request.row_bytes + (0 if os.path.exists(partial_path(destination)) else len(header))
    free = _free_bytes(destination)
    if free is not None and needed > free:
        raise TableRefused(f"{destination}: the table needs {_gb(needed)} more on disk, but its filesystem has "
                         f"{_gb(free)} free")
    _write_rows(request, (start, stop), done, chunk_bytes, progress)
    if rows is None:
        finish_table_file(destination, overwrite=overwrite)
    return done


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
            raise TableRefused(f"{partial} holds a partial table from an earlier run: pass {{resume}} to continue it, "
                               "or {overwrite} to start over")
        return 0  # nothing durable to resume from
    state = _journal_state(journal)
    check_contract(state["request"], partial, TableRefused)
    differences = _differences(state["request"], request.describe())
    if tuple(state["rows"]) != rows:
        differences.append(f"rows {state['rows'][0]}:{state['rows'][1]} there, {rows[0]}:{rows[1]} here")
    if differences:
        raise TableRefused(f"{partial} was written for another request ({'; '.join(differences)}): pass the same "
                           "arguments to resume it, or {overwrite} to start over")
    if not resume:
        raise TableRefused(f"{partial} holds {state['done']} rows of this request from an earlier run: pass {{resume}} "
                           "to continue it, or {overwrite} to start over")
    if not os.path.exists(partial) or os.path.getsize(partial) < len(request.header()) + rows[1] * request.row_bytes:
        raise TableRefused(f"{partial} is missing or shorter than its journal says: start over with {{overwrite}}")
    return int(state["done"])


def _differences(stored, wanted):
    """The arguments in which two described requests differ, as "std 0.02 there, 0.03 here"."""
    def flat(described):
        return {**{k: v for k, v in described.items() if k != "init_kwargs"}, **described.get("init_kwargs", {})}

    there, here = flat(stored), flat(wanted)
    return [f"{key} {there.get(key)} there, {here.get(key)} here" for key in sorted(set(there) | set(here))
            if there.get(key) != here.get(key)]


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
            chunk = request.fill_row_range(buffers[k % 2][: r1 - r0], r0)
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
            f"{destination} is untouched; free some space and run the same command with {{resume}} to continue "
            "from there") from error
    finally:
        if writer is not None and writer.is_alive():
            writer.join(swallow=True)
        os.close(fd)
        restore_signal()
    return written


def _journal_state(journal):
    """A journal's record, checked: {"request": {...}, "rows": [start, stop], "done": rows}."""
    state = read_json(journal, MAX_SIDECAR_BYTES, "journal")
    rows, done = state.get("rows"), state.get("done")
    if not (isinstance(state.get("request"), dict) and isinstance(rows, list) and len(rows) == 2
            and all(type(r) is int for r in rows) and type(done) is int and 0 <= done <= rows[1] - rows[0]):
        raise TableUnreadable(f"{journal}: not a journal of a table in progress; start over with {{overwrite}}")
    return state


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
    states = [_journal_state(j) for j in journals]
    described = states[0]["request"]
    if any(s["request"] != described for s in states):
        raise TableError(f"{partial}: its journals describe different requests; start over with {{overwrite}}")
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
        raise TableError(f"{path} exists; pass {{overwrite}} to replace it")
    request = request_from(described, path)
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
