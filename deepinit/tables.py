"""Streamed init of tables larger than memory, into a NumPy ``.npy`` or a ``.safetensors`` file.

The table is generated in row chunks, each the window of the whole table that it covers, so the
file holds exactly the values an in-memory init with the same seed would give (and can be
memory-mapped: ``numpy.load(path, mmap_mode="r")``, ``safetensors.safe_open``). One chunk is
generated while the previous one is written, so the slower of the two sets the pace.

    deepinit.init_table_file("emb.npy", (1_000_000_000, 128), "normal_", std=0.02, seed=7)
    python -m deepinit table emb.npy --shape 1000000000x128 --init normal_ --std 0.02 --seed 7
"""

import json
import math
import os
import sys
import threading
import time

import numpy as np
import torch

from .functions import FUNCTIONS

# The initialisers that can fill any block of a table (they take a window), by name.
INITS = {f.name: f.function for f in FUNCTIONS if f.window and not f.name.startswith("_")}
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}
NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}


def _npy_header(shape, dtype) -> bytes:
    if dtype not in NUMPY_DTYPES:
        raise ValueError(f"{dtype} has no NumPy dtype: write a .safetensors file instead")
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_2_0(
        buffer, {"descr": np.dtype(NUMPY_DTYPES[dtype]).str, "fortran_order": False, "shape": tuple(shape)}
    )
    return buffer.getvalue()


def _safetensors_header(shape, dtype, name, nbytes, metadata) -> bytes:
    header = {name: {"dtype": SAFETENSORS_DTYPES[dtype], "shape": list(shape), "data_offsets": [0, nbytes]}}
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    return len(text).to_bytes(8, "little") + text


class _Progress:
    def __init__(self, total_bytes, enabled):
        self.total, self.enabled, self.start = total_bytes, enabled, time.perf_counter()

    def update(self, done):
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        width = 30
        filled = int(width * done / self.total) if self.total else width
        sys.stderr.write(
            f"\r[{'#' * filled}{' ' * (width - filled)}] {100 * done / max(self.total, 1):5.1f}% "
            f"{done / 1e9:.2f}/{self.total / 1e9:.2f} GB {done / elapsed / 1e9:.2f} GB/s"
        )
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
    **init_kwargs,
):
    """Writes a table of `shape` initialised by deepinit.<init> to `path` (.npy or .safetensors).

    Args:
        path: the file to write; its suffix picks the format (.npy or .safetensors).
        shape: the table's shape; chunks are runs of rows (dim 0).
        init: the name of a deepinit initialiser (see INITS).
        seed, offset: the stream, as for the initialiser (required: a file is reproducible).
        dtype: float32, float64, float16 or bfloat16 (bfloat16 needs .safetensors).
        name: the tensor's name in a .safetensors file.
        chunk_bytes: the size of a chunk; two are in memory at once.
        progress: print a progress bar on stderr.
        init_kwargs: the initialiser's own arguments (std=, a=, mode=, ...).

    Returns the path. The values equal ``init(torch.empty(shape, dtype), seed=seed, offset=offset,
    **init_kwargs)`` bit for bit.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose from {', '.join(INITS)}")
    fill = INITS[init]
    dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0 or any(n < 0 for n in shape):
        raise ValueError(f"shape must have at least one dim and no negative size, got {shape}")
    suffix = os.path.splitext(str(path))[1].lower()
    row_elements = math.prod(shape[1:])
    element_bytes = torch.tensor([], dtype=dtype).element_size()
    nbytes = math.prod(shape) * element_bytes
    if suffix == ".npy":
        header = _npy_header(shape, dtype)
    elif suffix == ".safetensors":
        metadata = {"init": init, "seed": seed, "offset": offset, "stream_contract": "deepinit v1", **init_kwargs}
        header = _safetensors_header(shape, dtype, name, nbytes, metadata)
    else:
        raise ValueError(f"write a .npy or a .safetensors file, not {path!r}")

    rows_per_chunk = max(1, chunk_bytes // max(1, row_elements * element_bytes))
    buffers = [torch.empty((min(rows_per_chunk, shape[0]),) + shape[1:], dtype=dtype) for _ in range(2)]
    bar = _Progress(nbytes, progress)
    with open(path, "wb") as f:
        f.write(header)
        f.flush()
        writer = None
        written = 0
        for k, r0 in enumerate(range(0, shape[0], rows_per_chunk)):
            r1 = min(shape[0], r0 + rows_per_chunk)
            chunk = buffers[k % 2][: r1 - r0]
            start = (r0,) + (0,) * (len(shape) - 1)
            fill(chunk, seed=seed, offset=offset, global_shape=shape, start=start, **init_kwargs)
            if writer is not None:
                writer.join()
                written += writer.bytes
                bar.update(written)
            writer = _Writer(f, chunk, len(header) + written, writer.chunk_range if writer is not None else None)
        if writer is not None:
            writer.join()
            written += writer.bytes
        bar.update(written)
    return path


class _Writer(threading.Thread):
    """Writes one chunk while the next is generated (both release the GIL).

    Where the OS has posix_fadvise, it then asks for the chunk to go to disk now and drops the
    chunk before it from the page cache (written by then): a table larger than memory streams
    at the disk's pace instead of filling the page cache with dirty pages first.
    """

    def __init__(self, f, chunk, position, previous_range):
        super().__init__(daemon=True)
        self.f, self.chunk, self.bytes = f, chunk, chunk.numel() * chunk.element_size()
        self.chunk_range = (position, self.bytes)
        self.previous_range = previous_range
        self.error = None
        self.start()

    def run(self):
        try:
            self.f.write(memoryview(self.chunk.view(torch.uint8).numpy() if self.chunk.numel() else b""))
            if hasattr(os, "posix_fadvise"):
                for begin, length in filter(None, (self.chunk_range, self.previous_range)):
                    os.posix_fadvise(self.f.fileno(), begin, length, os.POSIX_FADV_DONTNEED)
        except BaseException as e:  # re-raised by join()
            self.error = e

    def join(self, timeout=None):
        super().join(timeout)
        if self.error is not None:
            raise self.error


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


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m deepinit table", description=__doc__.splitlines()[0])
    parser.add_argument("path", help="output file, .npy or .safetensors")
    parser.add_argument("--shape", required=True, help="e.g. 1000000000x128")
    parser.add_argument("--init", default="normal_", choices=sorted(INITS))
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--name", default="weight", help="tensor name in a .safetensors file")
    parser.add_argument("--chunk-mb", type=int, default=256)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    for arg in ("a", "b", "mean", "std", "gain"):
        parser.add_argument(f"--{arg}", type=float)
    parser.add_argument("--mode", choices=["fan_in", "fan_out"])
    parser.add_argument("--nonlinearity")
    args = parser.parse_args(argv)
    init_kwargs = {k: getattr(args, k) for k in ("a", "b", "mean", "std", "gain", "mode", "nonlinearity")
                   if getattr(args, k) is not None}
    shape = tuple(int(n) for n in args.shape.lower().split("x"))
    init_table_file(args.path, shape, args.init, seed=args.seed, offset=args.offset, dtype=args.dtype, name=args.name,
                    chunk_bytes=args.chunk_mb << 20, progress=not args.quiet, **init_kwargs)
    return 0
