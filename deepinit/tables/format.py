"""What a table file holds: the request that decides its bytes, its header (.npy or
.safetensors), and the check of a finished file against the request stored with it."""

import io
import json
import math
import os
import random
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .._ops import DTYPES
from ..functions import BY_NAME, FUNCTIONS

# The initialisers that can fill any block of a table (they take a window), by name, and the
# arguments of their own that a table's request may give them.
INITS = {f.name: f.function for f in FUNCTIONS if f.window and not f.name.startswith("_")}
INIT_ARGUMENTS = {name: f.arguments for name, f in BY_NAME.items() if name in INITS}
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16"}
NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}
FORMATS = (".npy", ".safetensors")
# The stream contract that decides the bytes (docs/stream.md); a file records it, and a file or
# partial file of another contract is refused: its bytes are not what this deepinit would write.
STREAM_CONTRACT = "deepinit v2"
REQUEST_KEY = "deepinit"  # the safetensors metadata key that holds the request


class TableError(RuntimeError):
    """A table could not be written, verified or finished; the message says why and what to do.
    Its advice names the Python keywords (``resume=True``); ``cli_message()`` names the command
    line's flags (``--resume``) instead."""

    _ADVICE = {"{overwrite}": ("overwrite=True", "--overwrite"), "{resume}": ("resume=True", "--resume")}

    def __init__(self, message):
        self.template = message
        super().__init__(self._render(0))

    def _render(self, which):
        text = self.template
        for token, words in self._ADVICE.items():
            text = text.replace(token, words[which])
        return text

    def cli_message(self):
        return self._render(1)


class TableRefused(TableError):
    """Refused before anything was written: the destination exists, a partial table is in the
    way, or the disk is too small."""


class TableUnreadable(TableError):
    """A file that cannot be read as a deepinit table: missing, damaged, written by something
    else, or under another stream contract. Nothing in it was trusted: no read is sized by a
    field it holds before that field is checked, and no name in it is looked up beyond the
    initialisers of INITS and their own arguments."""


# Bounds on what a table's metadata may hold (the safetensors library caps a header alike).
MAX_HEADER_BYTES = 100 << 20
MAX_SIDECAR_BYTES = 1 << 20


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

    def fill_row_range(self, out, start):
        """out: rows start .. start + len(out) of the table."""
        window = (start,) + (0,) * (len(self.shape) - 1)
        INITS[self.init](out, seed=self.seed, offset=self.offset, global_shape=self.shape, start=window,
                         **dict(self.init_kwargs))
        return out

    def fill_picked_rows(self, out, ids):
        """out: rows ids[0], ids[1], ... of the table (rows=)."""
        INITS[self.init](out, seed=self.seed, offset=self.offset, global_shape=self.shape, rows=ids,
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
    foreign = sorted(set(init_kwargs) - set(INIT_ARGUMENTS[init]))
    if foreign:
        raise ValueError(f"{init} takes no argument {', '.join(foreign)} (it takes "
                         f"{', '.join(INIT_ARGUMENTS[init]) or 'none of its own'})")
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
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"{path}: its directory {directory} does not exist")
    request = Request(path, shape, init, int(seed), int(offset), dtype, str(name), tuple(sorted(init_kwargs.items())))
    # The initialiser checks its own arguments, before any file: on a row of the table on the
    # meta device, which checks what a real one would and allocates nothing, however long a row.
    try:
        request.fill_row_range(torch.empty((min(1, shape[0]),) + shape[1:], dtype=DTYPES[dtype], device="meta"), 0)
    except (RuntimeError, ValueError, TypeError) as error:
        raise ValueError(f"{init}: {error}") from None
    return request


def sidecar_path(path):
    """The request of a .npy table (a .safetensors file holds it in its metadata)."""
    return f"{path}.deepinit.json"


def check_contract(described, path, error=TableUnreadable):
    written = described.get("stream_contract")
    if written != STREAM_CONTRACT:
        raise error(f"{path} was written under stream contract {written!r}, this deepinit writes {STREAM_CONTRACT!r}: "
                    "use the deepinit that wrote it, or write it again ({overwrite})")


def request_from(described, path, error=TableUnreadable, source=None):
    """The Request for table `path` that `described` (a request's describe(), read from file
    `source`, by default the table) stands for, checked as make_request checks a caller's:
    `error` names the file and what is wrong."""
    source = source or path
    if not isinstance(described, dict):
        raise error(f"{source}: its deepinit request is not a JSON object")
    check_contract(described, source, error)
    missing = [k for k in ("shape", "dtype", "init", "init_kwargs", "seed", "offset", "name") if k not in described]
    if missing:
        raise error(f"{source}: its deepinit request lacks {', '.join(missing)}")
    shape, init, init_kwargs = described["shape"], described["init"], described["init_kwargs"]
    if not isinstance(shape, list) or not all(type(n) is int for n in shape):
        raise error(f"{source}: its deepinit request's shape {shape!r} is not a list of sizes")
    if not isinstance(init, str) or init not in INITS:
        raise error(f"{source}: its deepinit request names init {init!r}, which is none of {', '.join(INITS)}")
    arguments = INIT_ARGUMENTS[init]
    if not isinstance(init_kwargs, dict) or not set(init_kwargs) <= set(arguments):
        raise error(f"{source}: its deepinit request's init_kwargs {init_kwargs!r} are not arguments of {init} "
                    f"({', '.join(arguments) or 'it takes none'})")
    try:
        return make_request(path, shape, init, described["seed"], described["offset"], described["dtype"],
                            described["name"], init_kwargs)
    except (ValueError, TypeError) as problem:
        raise error(f"{source}: its deepinit request is not one deepinit can make: {problem}") from None


def read_json(path, limit, what):
    """The JSON object in file `path`, of at most `limit` bytes; TableUnreadable naming the file
    otherwise."""
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise TableUnreadable(f"{path}: {size} bytes, more than a {what} holds ({limit})")
        with open(path, "rb") as f:
            return _json_object(f.read(), path, what)
    except OSError as problem:
        raise TableUnreadable(f"{path}: cannot read it ({problem.strerror or problem})") from None


def _json_object(data, path, what):
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as problem:
        raise TableUnreadable(f"{path}: its {what} is not valid JSON ({problem})") from None
    if not isinstance(value, dict):
        raise TableUnreadable(f"{path}: its {what} is not a JSON object")
    return value


def safetensors_header(path):
    """(header, its length in bytes) of a .safetensors file: the length field is checked against
    the file's size and MAX_HEADER_BYTES before the header is read."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        field = f.read(8)
        if len(field) < 8:
            raise TableUnreadable(f"{path}: {size} bytes, too short for a safetensors file")
        length = int.from_bytes(field, "little")
        if length > min(size - 8, MAX_HEADER_BYTES):
            raise TableUnreadable(f"{path}: its header length field says {length} bytes, but "
                                  + (f"the file holds {size - 8} after it" if length > size - 8 else
                                     f"a header holds at most {MAX_HEADER_BYTES}"))
        return _json_object(f.read(length), path, "safetensors header"), length


def stored_request(path) -> Request:
    """The request stored with a finished table: safetensors metadata, or a .npy file's sidecar."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise TableUnreadable(f"{path}: no such file")
    if path.lower().endswith(".safetensors"):
        header, _ = safetensors_header(path)
        metadata = header.get("__metadata__")
        described = metadata.get(REQUEST_KEY) if isinstance(metadata, dict) else None
        if not isinstance(described, str):
            raise TableUnreadable(f"{path}: its metadata holds no deepinit request to verify against")
        return request_from(_json_object(described, path, "deepinit request"), path)
    sidecar = sidecar_path(path)
    if not os.path.exists(sidecar):
        raise TableUnreadable(f"{path}: {sidecar}, which holds the request to verify against, is missing")
    return request_from(read_json(sidecar, MAX_SIDECAR_BYTES, "sidecar"), path, source=sidecar)


@dataclass
class Verification:
    ok: bool
    rows_checked: int
    first_bad_row: Optional[int]  # the first row whose bytes differ, or None
    message: str


def verify_table_file(path, sample=None, chunk_bytes=64 << 20, random_seed=None) -> Verification:
    """Recomputes the table at `path` from the request stored with it and compares every byte:
    all of it, or `sample` rows chosen at random (computed alone, through rows=). Reports the
    first row that differs (bit rot, a truncated copy, another table under the same name)."""
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
    if sample is not None and sample < rows:
        return _verify_sample(path, request, header_bytes, sample, random_seed)
    rows_per_chunk = max(1, chunk_bytes // max(1, row_bytes))
    chunks = list(range(0, rows, rows_per_chunk))
    checked = 0
    buffer = torch.empty((min(rows_per_chunk, max(rows, 1)),) + request.shape[1:], dtype=request.torch_dtype)
    with open(path, "rb") as f:
        for r0 in chunks:
            r1 = min(rows, r0 + rows_per_chunk)
            expected = request.fill_row_range(buffer[: r1 - r0], r0).view(torch.uint8).numpy().reshape(r1 - r0, -1)
            f.seek(header_bytes + r0 * row_bytes)
            actual = np.frombuffer(f.read((r1 - r0) * row_bytes), dtype=np.uint8).reshape(r1 - r0, -1)
            bad = np.flatnonzero((actual != expected).any(axis=1))
            if bad.size:
                return Verification(False, checked, r0 + int(bad[0]), f"{path}: row {r0 + int(bad[0])} differs")
            checked += r1 - r0
    return Verification(True, checked, None, f"{path}: every row as the request makes it")


def _verify_sample(path, request, header_bytes, sample, random_seed):
    """`sample` distinct rows chosen at random, each read from its place and computed alone."""
    ids = sorted(random.Random(random_seed).sample(range(request.shape[0]), sample))
    row_bytes = request.row_bytes
    expected = request.fill_picked_rows(torch.empty((len(ids),) + request.shape[1:], dtype=request.torch_dtype),
                                torch.tensor(ids, dtype=torch.int64))
    expected = expected.view(torch.uint8).numpy().reshape(len(ids), -1)
    with open(path, "rb") as f:
        for k, row in enumerate(ids):
            f.seek(header_bytes + row * row_bytes)
            if np.frombuffer(f.read(row_bytes), dtype=np.uint8).tobytes() != expected[k].tobytes():
                return Verification(False, k, row, f"{path}: row {row} differs")
    return Verification(True, len(ids), None, f"{path}: {len(ids)} rows chosen at random as the request makes them")


def read_safetensors(path, name="weight", mmap=True) -> torch.Tensor:
    """The tensor `name` of a .safetensors file written by init_table_file (memory-mapped copy-on-write)."""
    path = os.fspath(path)
    header, length = safetensors_header(path)
    entry = header[name]
    dtype = {v: k for k, v in SAFETENSORS_DTYPES.items()}[entry["dtype"]]
    begin, end = entry["data_offsets"]
    raw = np.memmap(path, dtype=np.uint8, mode="c", offset=8 + length + begin, shape=(end - begin,)) if mmap else \
        np.fromfile(path, dtype=np.uint8, offset=8 + length + begin, count=end - begin)
    return torch.from_numpy(np.asarray(raw)).view(dtype).view(entry["shape"])
