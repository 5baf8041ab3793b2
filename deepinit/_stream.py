"""The stream layer: the one path from the Python API to the fill ops.

Every random function (init.py, extra.py) takes its stream keywords (seed=, offset= and, when it
can fill any block of a logical tensor, global_shape=, start=, rows=) as ``**stream``, declared by
``random_function`` (the signature and docs that ``inspect`` and ``help`` show), and fills through
``fill``. A call's keywords become one ``Stream`` value, checked here for their kinds; the op
checks everything else, before it writes anything. Where a stream starts is decided in C++
(csrc/stream_source.h): ``split_stream`` is the one way Python splits a stream between several
fills. A DTensor is filled as its local shard (or TorchRec's several local shards), the window of
its global shape that the shard covers, with the caller's seed or generator (a generator gives the
key of a fill of the whole, and advances as that fill would).

While init_module_ runs on a thread (deepinit.keyed), a fill of one of the model's tensors that
names no seed takes its key from the tensor's name (``KEYING``).

This layer runs on every call, and models are mostly small parameters: it stays thin.
"""

import hashlib
import inspect
import json
import sys
import threading
from typing import Optional, Sequence

import torch

from ._ops import NORMAL, SPLIT_STREAM, TRUNC_NORMAL, UNIFORM  # noqa: F401  (the fills, for the API)
from ._shards import is_dtensor, shard_window

_U64 = 1 << 64
_I63 = 1 << 63
_is_compiling = torch.compiler.is_compiling

# While init_module_ runs on a thread: its Keys (deepinit.keyed), which give the fills of the
# model's tensors their keys in place of a generator.
KEYING = {}


def u64_arg(value, name: str) -> int:
    """A seed or offset in [-2^63, 2^64), as the int64 two's complement the ops take.

    Negative values wrap modulo 2^64, as torch.manual_seed's do."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, but got {type(value).__name__}")
        value = int(value)
    if not -_I63 <= value < _U64:
        raise ValueError(f"{name} must lie in [-2**63, 2**64), but got {value}")
    return value - _U64 if value >= _I63 else value


KEYED_ROWS = -1  # the op's global_shape[0] for a keyed table (StreamRequest::kKeyedRows)

# The stream keywords, as every random function's signature declares them after its own
# parameters; functions that fill any block of a logical tensor take the window's too.
STREAM_KEYWORDS = ("seed", "offset")
WINDOW_KEYWORDS = ("global_shape", "start", "rows")


class Stream:
    """A call's stream keywords, of the kinds the ops take: seed= (a 64-bit key, as its int64 two's
    complement) or None, offset=, and a window: global_shape= (None rows: a keyed table), start=,
    rows=. The ops check the rest."""

    __slots__ = ("seed", "offset", "global_shape", "start", "rows")

    def __init__(self, seed=None, offset=0, global_shape=None, start=None, rows=None):
        self.seed = None if seed is None else u64_arg(seed, "seed")
        self.offset = u64_arg(offset, "offset")
        self.global_shape = None if global_shape is None else \
            [KEYED_ROWS if d == 0 and n is None else int(n) for d, n in enumerate(global_shape)]
        self.start = None if start is None else [int(n) for n in start]
        self.rows = rows

    @classmethod
    def of(cls, keywords, window=True):
        """The Stream of a call's ``**stream`` keywords (TypeError for one the function lacks)."""
        if isinstance(keywords, Stream):
            return keywords
        names = STREAM_KEYWORDS + WINDOW_KEYWORDS if window else STREAM_KEYWORDS
        for name in keywords:
            if name not in names:  # as Python words it for a function's own parameters
                raise TypeError(f"{_caller_name()}() got an unexpected keyword argument {name!r}")
        return cls(**keywords)

    @property
    def window(self):
        return self.global_shape is not None or self.start is not None or self.rows is not None

    def op_keywords(self, generator):
        return dict(seed=self.seed, offset=self.offset, generator=generator, global_shape=self.global_shape,
                    start=self.start, rows=self.rows)


def parameter_key(seed: int, name: str) -> int:
    """The 64-bit stream key of parameter `name` under model seed `seed`: stable across runs,
    machines and Python versions (BLAKE2b of both), so a parameter's values depend on its name
    alone, not on what else the model holds or in which order it was built."""
    return _blake2b_key(f"deepinit-v1:{seed % _U64}:{name}")


def made_key(seed: int, path: tuple) -> int:
    """The key of a tensor made from a named one, at `path` = (name, k1, k2, ...): the k1-th made
    from `name`, the k2-th made from that, ... (a hash domain apart from parameter_key's)."""
    return _blake2b_key(f"deepinit-v1-made:{seed % _U64}:{json.dumps(list(path))}")


def _blake2b_key(text):
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def resolve(tensor, generator, stream, window=True):
    """(generator, Stream) of a call on `tensor`: its keywords checked, and, while init_module_
    runs on this thread and the call names no seed, the key of the tensor's name in place of the
    generator. Functions that fill temporaries of their own resolve on their target first."""
    stream = Stream.of(stream or {}, window)
    if KEYING and stream.seed is None:
        keys = KEYING.get(threading.get_ident())
        key = None if keys is None else keys.seed_for(tensor)
        if key is not None:
            stream.seed, generator = u64_arg(key, "seed"), None
    return generator, stream


# Errors of an op's binding (and of the Python around it) that a wrong kind of argument causes.
_ARGUMENT_ERRORS = (TypeError, ValueError, RuntimeError, AttributeError)


def fill(op, tensor, params, generator=None, stream=None):
    """op(tensor, *params) with a call's generator and stream keywords (the function's
    ``**stream``, or a resolved Stream); returns the tensor. The common calls pass the op's
    builtin only what they set (each keyword argument and the OpOverload's own __call__ cost a
    fraction of a microsecond); Dynamo traces the OpOverload."""
    call = op if _is_compiling() else op._op
    plain = type(tensor) is torch.Tensor or not is_dtensor(tensor)
    try:
        if plain and not KEYING:
            if not stream:
                if generator is None:
                    call(tensor, *params)
                else:
                    call(tensor, *params, generator=generator)
                return tensor
            seed = stream.get("seed") if type(stream) is dict else None
            if type(seed) is int and len(stream) == 1 and 0 <= seed < _I63 and generator is None:
                call(tensor, *params, seed=seed)
                return tensor
        source, resolved = resolve(tensor, generator, stream)
        if not plain:
            return _fill_dtensor(op, tensor, params, source, resolved)
        call(tensor, *params, **resolved.op_keywords(source))
        return tensor
    except _ARGUMENT_ERRORS:
        explain_bad_arguments(tensor, stream)
        raise


def _fill_dtensor(op, tensor, params, generator, stream):
    """A DTensor's local shards, each the window of the logical tensor that it covers."""
    if stream.window:
        raise ValueError("deepinit: a DTensor gives its own window; do not pass global_shape=, start= or rows=")
    global_shape, pieces = shard_window(tensor)
    if len(pieces) == 1:
        local, start = pieces[0]
        op(local, *params, seed=stream.seed, offset=stream.offset, generator=generator, global_shape=global_shape,
           start=list(start))
        return tensor
    # Several shards on this rank (or none): one stream start for all of them, reserved as a fill
    # of the whole tensor would reserve it.
    seed, offset = split_stream(tensor._local_tensor, tensor.numel(), generator=generator, stream=stream)
    for local, start in pieces:
        op(local, *params, seed=seed, offset=offset, global_shape=global_shape, start=list(start))
    return tensor


def split_stream(tensor, numel, then=None, generator=None, stream=None):
    """[key, first position, first position of `then`] of one stream split between a fill of
    `numel` elements of tensor's dtype on its device and, optionally, a fill of all of tensor
    `then` after it (sparse_: the values, then the keys): from the stream's seed= and offset=,
    else reserved from `generator` (or the device's default generator) by the rule the fills use,
    once for both. Each position is in its fill's own dtype's positions; `then` starts on a Philox
    counter of its own. Keys and positions are the int64 two's complements the ops take."""
    stream = Stream.of(stream or {}, window=False)
    return SPLIT_STREAM._op(tensor, numel, then, seed=stream.seed, offset=stream.offset, generator=generator)


def logical_tensor(tensor, stream, fan_out=True):
    """The tensor whose fans count, for a call's stream keywords: the logical tensor of a window
    (a DTensor's shape is global already). A keyed table (None rows) has a fan_in but no fan_out:
    callers that need one (``fan_out``) get a ValueError."""
    if not stream:
        return tensor
    shape = stream.get("global_shape") if type(stream) is dict else stream.global_shape
    if shape is None:
        return tensor
    shape = tuple(shape)
    if shape and shape[0] in (None, KEYED_ROWS):
        if fan_out:
            raise ValueError("deepinit: a keyed table (global_shape with None rows) has no fan_out: give its row "
                             "count, or scale by fan_in")
        shape = (1,) + shape[1:]  # fan_in does not depend on the row count
    return torch.empty(shape, device="meta")


# The stream keywords' signature and docs.
_ANNOTATIONS = {"seed": (Optional[int], None), "offset": (int, 0), "global_shape": (Optional[Sequence[int]], None),
                "start": (Optional[Sequence[int]], None), "rows": (Optional[torch.Tensor], None)}
_DOCS = {
    "generator": "generator: the torch Generator to sample from (default: None)",
    "seed": "seed: a 64-bit stream key; uses no generator (keyword only)",
    "offset": "offset: stream position of the first element (keyword only)",
    "global_shape": "global_shape, start: the tensor is the block at ``start`` of a logical tensor of shape\n"
                    "    ``global_shape`` and gets the values the whole would get there (keyword only)",
    "rows": "rows: int64 ids, one per row of the tensor: row ``i`` gets row ``rows[i]`` of the logical tensor\n"
            "    ``global_shape`` (any order, repeats allowed; ``global_shape[0]`` may be None: a keyed table,\n"
            "    with ``seed=``); ``start=`` then places the tensor's columns (keyword only)",
}
_ARGS_INDENT = " " * 8
_PUBLIC = set()  # the random functions' names, for messages


def random_function(window=True):
    """Declares a random function ``f(tensor, ..., generator=None, **stream)``: its signature (as
    inspect and help show it) has f's parameters, then the keyword-only stream keywords (seed=,
    offset=, and with ``window`` global_shape=, start=, rows=), and its docstring their docs,
    appended to its Args. The function itself is unchanged: its calls cost nothing more."""
    keywords = STREAM_KEYWORDS + (WINDOW_KEYWORDS if window else ())

    def declare(function):
        signature = inspect.signature(function)
        own = list(signature.parameters.values())
        if own[-1].kind is not inspect.Parameter.VAR_KEYWORD or own[-2].name != "generator":
            raise TypeError(f"{function.__name__} must end with (..., generator=None, **stream)")
        stream = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=_ANNOTATIONS[k][1],
                                    annotation=_ANNOTATIONS[k][0]) for k in keywords]
        function.__signature__ = signature.replace(parameters=own[:-1] + stream)
        function.__doc__ = _with_keyword_docs(function.__doc__ or "", [k for k in keywords if k != "start"])
        function.stream_keywords = keywords
        _PUBLIC.add(function.__name__)
        return function

    return declare


def explain_bad_arguments(tensor, stream=None):
    """Raises a one-line TypeError or ValueError when a fill failed because an argument is of the
    wrong kind: the tensor or rows= not a torch.Tensor, a window's sizes not int64 integers.
    Returns (for the caller to re-raise the first error) otherwise."""
    name = f"deepinit.{_caller_name()}"
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name}: tensor must be a torch.Tensor, but got {_kind(tensor)}") from None
    keywords = stream if type(stream) is dict else {}
    rows = keywords.get("rows")
    if rows is not None and not isinstance(rows, torch.Tensor):
        raise TypeError(f"{name}: rows= must be a tensor of int64 ids, but got {_kind(rows)}") from None
    for keyword in ("global_shape", "start"):
        values = keywords.get(keyword)
        if values is None:
            continue
        try:
            entries = list(values)
        except TypeError:
            raise TypeError(f"{name}: {keyword}= must be a sequence of ints, but got {_kind(values)}") from None
        for n in entries:
            if n is None and keyword == "global_shape":
                continue
            if isinstance(n, bool) or not isinstance(n, int) and not (isinstance(n, torch.Tensor) and n.numel() == 1):
                raise TypeError(f"{name}: {keyword}= must hold ints, but holds {_kind(n)}") from None
            if not -_I63 <= int(n) < _I63:
                raise ValueError(f"{name}: {keyword}= holds {int(n)}, outside the int64 range of a size") from None


def _caller_name():
    """The public random function whose call failed (the nearest on the stack), for messages."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in _PUBLIC:
            return frame.f_code.co_name
        frame = frame.f_back
    return "fill"


def _kind(value):
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _with_keyword_docs(doc, keywords):
    lines = [_ARGS_INDENT + line for key in ("generator", *keywords) for line in _DOCS[key].split("\n")]
    header = "" if "Args:" in doc else "\n\n    Args:"
    return doc.rstrip() + header + "\n" + "\n".join(lines) + "\n"
