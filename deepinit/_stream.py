"""The stream layer: the one path from the Python API to the fill ops.

Every random function (init.py, extra.py, modules.py, tables) is made by ``random_function``,
which gives it the stream keywords and their docs, and fills through ``fill``, which turns a
call's stream arguments into the op's and nothing more: the op checks them, before it writes
anything (csrc/stream_start.h). A DTensor is filled as its local shard (or TorchRec's several
local shards), the window of its global shape that the shard covers, with the caller's seed or
generator (a generator gives the key of a fill of the whole, and advances as that fill would).

This layer runs on every call, and models are mostly small parameters: it stays thin.
"""

import inspect
import threading
from typing import Optional, Sequence

import torch

from ._ops import NORMAL, STREAM_POSITIONS, TRUNC_NORMAL, UNIFORM  # noqa: F401  (the fills, for the API)
from ._shards import is_dtensor, shard_window

_U64 = 1 << 64
_I63 = 1 << 63


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


_is_compiling = torch.compiler.is_compiling

# While init_module_ runs on a thread: its Keys (deepinit.keyed), which give the fills of the
# model's tensors their keys in place of a generator.
KEYING = {}


def keyed_seed(tensor):
    """The key that init_module_ gives a fill of `tensor` on this thread, or None."""
    keys = KEYING.get(threading.get_ident())
    return None if keys is None else keys.seed_for(tensor)


def fill(op, tensor, params, generator=None, stream=()):
    """op(tensor, *params) with a Python call's generator and stream arguments (seed, offset and,
    for a window, global_shape and start, in the order random_function passes them; none when
    the call set none of them); returns the tensor."""
    if type(tensor) is not torch.Tensor and is_dtensor(tensor):
        return _fill_dtensor(op, tensor, params, generator, *stream)
    # The common calls pass only the arguments they set, to the op's builtin itself (each keyword
    # argument and the OpOverload's own __call__ cost a fraction of a microsecond); Dynamo
    # traces the OpOverload.
    call = op if _is_compiling() else op._op
    if not stream:
        if generator is None:
            call(tensor, *params)
        else:
            call(tensor, *params, generator=generator)
        return tensor
    seed = stream[0]
    if seed is not None and generator is None and stream[1] == 0 and (len(stream) == 2 or stream[2] is None and
                                                                      stream[3] is None and stream[4] is None):
        call(tensor, *params, seed=seed if type(seed) is int and 0 <= seed < _I63 else u64_arg(seed, "seed"))
        return tensor
    _call(call, tensor, params, generator, *stream)
    return tensor


def _fill_dtensor(op, tensor, params, generator, seed=None, offset=0, global_shape=None, start=None, rows=None):
    """A DTensor's local shards, each the window of the logical tensor that it covers."""
    if global_shape is not None or start is not None or rows is not None:
        raise ValueError("deepinit: a DTensor gives its own window; do not pass global_shape=, start= or rows=")
    global_shape, pieces = shard_window(tensor)
    if len(pieces) == 1:
        _call(op, pieces[0][0], params, generator, seed, offset, global_shape, pieces[0][1])
        return tensor
    # Several shards on this rank (or none): one stream start for all of them, drawn as a fill of
    # the whole tensor would draw it.
    seed, offset = stream_positions(tensor._local_tensor, tensor.numel(), None, generator, seed, offset)
    for local, where in pieces:
        _call(op, local, params, None, seed, offset, global_shape, where)
    return tensor


def _call(op, tensor, params, generator, seed, offset, global_shape=None, start=None, rows=None):
    op(tensor, *params, seed=None if seed is None else u64_arg(seed, "seed"), offset=u64_arg(offset, "offset"),
       generator=generator, global_shape=None if global_shape is None else _shape_arg(global_shape),
       start=None if start is None else [int(n) for n in start], rows=rows)


KEYED_ROWS = -1  # the op's global_shape[0] for a keyed table (StreamRequest::kKeyedRows)


def _shape_arg(global_shape):
    """The op's global_shape: None rows (a keyed table, rows= only) as KEYED_ROWS."""
    return [KEYED_ROWS if d == 0 and n is None else int(n) for d, n in enumerate(global_shape)]


def stream_positions(tensor, numel, then=None, generator=None, seed=None, offset=0):
    """(key, first position, [first position of `then`]) for a path that splits one stream
    between a fill of `numel` elements of tensor's dtype on its device and, optionally, a fill of
    all of tensor `then` after it (sparse_: the values, then the keys): seed= and offset= as
    given, else drawn from `generator` (or the device's default generator) by the rule the fills
    use, once for both. Each position is in its fill's own dtype's positions; `then` starts on a
    Philox counter of its own. Keys and positions are the int64 two's complement the ops take."""
    if seed is not None:
        seed = u64_arg(seed, "seed")
    return STREAM_POSITIONS._op(tensor, numel, then, seed=seed, offset=u64_arg(offset, "offset"), generator=generator)


# The stream keywords of every random function, after the function's own parameters, and their
# docs; functions that fill any block of a logical tensor take the window's too.
STREAM_KEYWORDS = {"seed": "Optional[int] = None", "offset": "int = 0"}
WINDOW_KEYWORDS = {"global_shape": "Optional[Sequence[int]] = None", "start": "Optional[Sequence[int]] = None",
                   "rows": "Optional[Tensor] = None"}
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


def logical_tensor(tensor, stream, fan_out=True):
    """The tensor whose fans count, for a body's stream arguments: the logical tensor of a window
    (a DTensor's shape is global already). A keyed table (None rows) has a fan_in but no fan_out:
    callers that need one (``fan_out``) get a ValueError."""
    if len(stream) < 3 or stream[2] is None:
        return tensor
    shape = tuple(stream[2])
    if shape and shape[0] is None:
        if fan_out:
            raise ValueError("deepinit: a keyed table (global_shape with None rows) has no fan_out: give its row "
                             "count, or scale by fan_in")
        shape = (1,) + shape[1:]  # fan_in does not depend on the row count
    return torch.empty(shape, device="meta")


def random_function(window=True, torch_function=False):
    """Makes a public random function from ``body(tensor, ..., generator, *stream)``: the public
    function has body's parameters, then the keyword-only stream keywords (seed=, offset=, and
    with ``window`` global_shape= and start=), and body's docstring with their docs appended to
    its Args. A call passes the keywords to body positionally, in that order (none when it set
    none), for body to hand to ``fill`` as ``stream``; with ``torch_function``, tensor subclasses
    that override torch functions take the call, as torch's own function lets them."""
    keywords = {**STREAM_KEYWORDS, **(WINDOW_KEYWORDS if window else {})}

    def make(body):
        own = list(inspect.signature(body).parameters.values())
        if own[-1].kind is not inspect.Parameter.VAR_POSITIONAL or own[-2].name != "generator":
            raise TypeError(f"{body.__name__} must end with (..., generator, *stream)")
        names = [p.name for p in own[:-1]]
        signature = ", ".join(str(p) for p in own[:-1]) + ", *, " + ", ".join(f"{k}: {v}" for k, v in keywords.items())
        dispatch = ""
        if torch_function:
            every = ", ".join(f"{n}={n}" for n in names + list(keywords))
            dispatch = (f"        if _has_torch_function({names[0]}):\n"
                        f"            return _handle_torch_function(public, ({names[0]},), {every})\n")
        # Made inside a factory whose arguments it closes over, in body's module (tracers such as
        # Dynamo look up a function's globals there), so that the module gains no names.
        # Calls that set no stream keyword (the most common) pass none: body's fill takes its fast path.
        unset = " and ".join(f"{k} is None" if v.endswith("None") else f"{k} == {v.split('= ')[1]}"
                             for k, v in keywords.items())
        # A call whose arguments are of the wrong kind (a list for the tensor or rows=) fails in
        # the op's binding with a five-line message; the caller gets one line instead
        # (explain_bad_arguments), at no cost to calls that succeed.
        window_names = ", ".join(k if k in keywords else "None" for k in ("global_shape", "start", "rows"))
        source = (f"def make(body, Optional, Sequence, Tensor, _has_torch_function, _handle_torch_function, "
                  f"explain_bad_arguments, KEYING, keyed_seed):\n"
                  f"    def public({signature}):\n{dispatch}"
                  f"        try:\n"
                  f"            if KEYING and seed is None:\n"
                  f"                seed = keyed_seed({names[0]})\n"
                  f"                generator = None if seed is not None else generator\n"
                  f"            if {unset}:\n"
                  f"                return body({', '.join(names)})\n"
                  f"            return body({', '.join(names + list(keywords))})\n"
                  f"        except (TypeError, ValueError, RuntimeError, AttributeError):\n"
                  f"            explain_bad_arguments(public, {names[0]}, {window_names})\n"
                  f"            raise\n"
                  f"    return public\n")
        factory = {}
        exec(source, body.__globals__, factory)  # as dataclasses make their methods: a signature of its own
        public = factory["make"](body, Optional, Sequence, torch.Tensor, torch.overrides.has_torch_function_variadic,
                                 torch.overrides.handle_torch_function, explain_bad_arguments, KEYING, keyed_seed)
        public.__name__ = public.__qualname__ = body.__name__
        public.__module__ = body.__module__
        public.__doc__ = _with_keyword_docs(body.__doc__ or "", [k for k in keywords if k != "start"])
        if "return" in body.__annotations__:
            public.__annotations__["return"] = body.__annotations__["return"]
        public.stream_keywords = tuple(keywords)
        public.body = body  # for functions made from another one
        return public

    return make


def explain_bad_arguments(function, tensor, global_shape=None, start=None, rows=None):
    """Raises a one-line TypeError or ValueError when a call of `function` failed because an
    argument is of the wrong kind: the tensor or rows= not a torch.Tensor, a window's sizes not
    int64 integers. Returns (for the caller to re-raise the first error) otherwise."""
    name = f"deepinit.{function.__name__}"
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name}: tensor must be a torch.Tensor, but got {_kind(tensor)}") from None
    if rows is not None and not isinstance(rows, torch.Tensor):
        raise TypeError(f"{name}: rows= must be a tensor of int64 ids, but got {_kind(rows)}") from None
    for keyword, values in (("global_shape", global_shape), ("start", start)):
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


def _kind(value):
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _with_keyword_docs(doc, keywords):
    lines = [_ARGS_INDENT + line for key in ("generator", *keywords) for line in _DOCS[key].split("\n")]
    header = "" if "Args:" in doc else "\n\n    Args:"
    return doc.rstrip() + header + "\n" + "\n".join(lines) + "\n"
