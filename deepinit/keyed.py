"""Keyed init: while ``init_module_`` runs, every random fill of one of the model's tensors takes
its stream from (the model seed, the tensor's name) instead of a generator, whatever code makes
the fill (a reset method, the model's own init, torch.nn.init captured anywhere, Tensor.normal_).

The named tensors:

* the model's parameters and buffers, by their qualified names (a tensor held under several
  names, a tied weight, by the first in ``named_parameters()`` order);
* their ``.data`` and their other aliases of the same elements, found by storage (a DTensor's by
  its local shard's); a view of a plain tensor that holds other elements than the whole is
  named ``name[offset:shape:strides]``, a stream of its own;
* tensors made from a named one while the init runs (``new_empty``, ``new_zeros``,
  ``new_ones``, ``new_full``, ``empty_like``, ``zeros_like``, ``ones_like``, ``full_like``,
  ``randn_like``, ``rand_like``): by that name and their number among the tensors made from it,
  in the order they are made (torchtitan fills such temporaries and copies them into a fused
  parameter).

A fill's values then depend on the seed, the name and the element's index alone: not on the
default generator, the order of the calls, which other modules exist (a pipeline stage holds
some of them) or how the tensor is sharded.
"""

import collections
import dataclasses
import threading
import weakref

import torch
from torch.overrides import TorchFunctionMode

from . import _stream
from ._stream import made_key, parameter_key
from . import init as _init
from ._shards import is_dtensor


def _local(tensor):
    return tensor._local_tensor if is_dtensor(tensor) else tensor


def _storage(tensor):
    """The identity of the storage of a tensor's elements on this rank (its StorageImpl's
    address: distinct even for storages of no bytes)."""
    return _local(tensor).untyped_storage()._cdata


def _geometry(tensor):
    local = _local(tensor)
    return local.storage_offset(), tuple(local.shape), tuple(local.stride()), tuple(tensor.shape)


def describe(tensor) -> str:
    kind = "DTensor" if is_dtensor(tensor) else "tensor"
    return f"a {kind} of shape {tuple(tensor.shape)}, {str(tensor.dtype).replace('torch.', '')}, on {tensor.device}"


@dataclasses.dataclass(frozen=True)
class _Named:
    """A named tensor: where its key comes from (path) and which of the model's tensors it belongs
    to (root: the parameter or buffer, by name and by reference)."""

    ref: weakref.ref
    path: tuple  # (name,), (name, k, ...) for tensors made from it, (name[view],) for a view
    root: str
    root_ref: weakref.ref
    geometry: tuple


class Keys:
    """The names of a model's tensors and the keys of their fills, for one init_module_ call.
    strict_names: a random fill of a tensor that has no name raises (init=); else it draws from
    its generator as outside (reset methods).

    Tensors are known by weak reference: one that is gone (a buffer the init replaced) names
    nothing, though another object or storage may take its address. When the init registers a
    parameter, buffer or module (a buffer assigned anew, a weight tied to another), the model's
    names are read again before the next lookup: a tied weight is named, as everywhere, by its
    first name in named_parameters() order."""

    def __init__(self, module, seed, strict_names):
        self.module = module
        self.seed = seed
        self.strict_names = strict_names
        self.by_id = {}  # id -> _Named
        self.by_storage = collections.defaultdict(list)  # storage -> [_Named]
        self.made_count = collections.Counter()
        self.filled = set()  # names of parameters and buffers that a fill reached (rules, tables)
        self.filled_ids = set()  # ids of the parameters and buffers that a fill reached
        self.renamed = False  # the model registered tensors or modules since it was read
        self._read_model()

    def _read_model(self):
        for name, tensor in [*self.module.named_parameters(), *self.module.named_buffers()]:
            self._name(tensor, (name,), name, tensor)
        self.renamed = False

    def _name(self, tensor, path, root, root_tensor):
        stale = self.by_id.get(id(tensor))
        if stale is not None and stale.ref() is tensor and stale.path == path:
            return
        named = _Named(weakref.ref(tensor), path, root, weakref.ref(root_tensor), _geometry(tensor))
        self.by_id[id(tensor)] = named
        entries = self.by_storage[_storage(tensor)]
        entries[:] = [e for e in entries if e.ref() is not tensor] + [named]

    def lookup(self, tensor):
        """The _Named of a tensor, or None; ValueError for a view of a DTensor that holds other
        elements than the whole (its elements have no name alike on every rank)."""
        if self.renamed:
            self._read_model()
        named = self.by_id.get(id(tensor))
        if named is not None and named.ref() is tensor:
            return named
        here = None
        for named in self.by_storage.get(_storage(tensor), ()):
            found = named.ref()
            # Gone (its storage's address may come again), or a DTensor's local shard seen as a
            # plain tensor (by DTensor's own code): no name.
            if found is None or is_dtensor(found) != is_dtensor(tensor):
                continue
            here = here or _geometry(tensor)
            if here == named.geometry:
                return named
            if is_dtensor(tensor):
                raise ValueError(f"deepinit.init_module_: a fill reached a view of DTensor {named.root} that holds other "
                                 f"elements than the whole ({describe(tensor)}): they have no name alike on every "
                                 f"rank; fill {named.root} itself, or a tensor made from it")
            view = f"[{here[0] - named.geometry[0]}:{here[1]}:{here[2]}]"
            path = (named.path[0] + view,) if len(named.path) == 1 else named.path + (view,)
            return _Named(named.ref, path, named.root, named.root_ref, here)
        return None

    def _reached(self, named):
        self.filled.add(named.root)
        root = named.root_ref()
        if root is not None:
            self.filled_ids.add(id(root))

    def seed_for(self, tensor):
        """The key of a random fill of `tensor`, or None to draw as outside (a tensor without a
        name, when names are not required)."""
        named = self.lookup(tensor) if isinstance(tensor, torch.Tensor) else None
        if named is None:
            if self.strict_names and isinstance(tensor, torch.Tensor):
                raise ValueError(f"deepinit.init_module_: init= filled {describe(tensor)} that is neither a parameter "
                                 "or buffer of the model, nor a view of one, nor a tensor made from one (new_empty, "
                                 "empty_like, ...): its values would come from a generator, alike on no two ranks; "
                                 "make it from a parameter, or pass seed=")
            return None
        self._reached(named)
        path = named.path
        return parameter_key(self.seed, path[0]) if len(path) == 1 else made_key(self.seed, path)

    def record_fill(self, tensor):
        """A deterministic fill (fill_, zero_, copy_, ...) reached `tensor`: its root counts as filled."""
        if isinstance(tensor, torch.Tensor):
            try:
                named = self.lookup(tensor)
            except ValueError:
                named = None
            if named is not None:
                self._reached(named)

    def made_from(self, source, tensor):
        """`tensor` was made from `source`: it is named after it, if source has a name."""
        try:
            named = self.lookup(source) if isinstance(source, torch.Tensor) else None
        except ValueError:
            named = None
        root = named.root_ref() if named is not None else None
        if root is None or not isinstance(tensor, torch.Tensor):
            return
        self._name(tensor, named.path + (self.made_count[named.path],), named.root, root)
        self.made_count[named.path] += 1

    def unfilled(self):
        """Names of the model's parameters (as they are now) that no fill reached."""
        return sorted(name for name, p in self.module.named_parameters()
                      if name not in self.filled and id(p) not in self.filled_ids)

    def watch_registrations(self):
        """Hooks that mark the names stale whenever a module registers a parameter, buffer or
        module (torch's global registration hooks); returns their handles."""
        nn_module = torch.nn.modules.module

        def renamed(*_):
            self.renamed = True

        return [nn_module.register_module_parameter_registration_hook(renamed),
                nn_module.register_module_buffer_registration_hook(renamed),
                nn_module.register_module_module_registration_hook(renamed)]


_T = torch.Tensor
_MAKERS = {_T.new_empty, _T.new_zeros, _T.new_ones, _T.new_full, torch.empty_like, torch.zeros_like, torch.ones_like,
           torch.full_like}
_RANDOM_LIKE = {torch.randn_like: "normal_", torch.rand_like: "uniform_"}
_FILLERS = {_T.fill_, _T.zero_, _T.copy_, _T.__setitem__, _T.index_fill_, _T.masked_fill_}
# Random sources that no key can stand for: they make new tensors, or draw laws deepinit lacks.
_DRAWS = {torch.randn, torch.rand, torch.randint, torch.randperm, torch.normal, torch.bernoulli, torch.multinomial,
          torch.poisson, torch.randint_like, _T.bernoulli_, _T.bernoulli, _T.random_, _T.exponential_, _T.geometric_,
          _T.cauchy_, _T.log_normal_, _T.multinomial}
# Deterministic fills that reach the mode as one call (they dispatch on torch functions).
_DETERMINISTIC_INITS = {torch.nn.init.constant_, _init.constant_}


class InitMode(TorchFunctionMode):
    """What the model's own init does to its tensors, seen while it runs: tensors made from named
    ones are named; deterministic fills count as fills; a random draw that no key can stand for
    raises. (Random fills themselves reach deepinit through the patch, and take their keys in
    the stream layer.)"""

    def __init__(self, keys, originals):
        super().__init__()
        self.keys = keys
        # With init= (names required), random draws no key stands for are refused, among them
        # TensorBase's normal_/uniform_ (of dtypes deepinit does not fill), and randn_like and
        # rand_like of a named tensor are made keyed; reset methods draw as they would outside.
        self.draws = _DRAWS | set(originals) if keys.strict_names else set()
        self.random_like = _RANDOM_LIKE if keys.strict_names else {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _MAKERS:
            tensor = func(*args, **kwargs)
            self.keys.made_from(args[0], tensor)
            return tensor
        if func in self.random_like:
            return self._random_like(self.random_like[func], args[0], kwargs)
        if func in self.draws:
            name = getattr(func, "__qualname__", getattr(func, "__name__", str(func)))
            name = name.replace("TensorBase.", "Tensor.").replace("_VariableFunctionsClass.", "torch.")
            raise ValueError(f"deepinit.init_module_: init= called {name}, whose values come from a generator and no "
                             "key can stand for them: they would differ between ranks and runs (docs/models.md "
                             "lists what stays on torch)")
        if func in _FILLERS or func in _DETERMINISTIC_INITS:
            self.keys.record_fill(args[0] if args else kwargs.get("tensor"))
        elif "out" in kwargs:
            self.keys.record_fill(kwargs["out"])
        return func(*args, **kwargs)

    def _random_like(self, law, source, kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k != "generator"}
        tensor = torch.empty_like(source, **kwargs)
        self.keys.made_from(source, tensor)
        if self.keys.lookup(tensor) is None:
            raise ValueError(f"deepinit.init_module_: init= drew torch.{'randn' if law == 'normal_' else 'rand'}_like "
                             f"of {describe(source)} that has no name: its values would come from a generator")
        with torch.no_grad():
            return getattr(_init, law)(tensor)


class keyed:
    """Context: on this thread, fills of the tensors `keys` names take their keys (the stream
    layer asks, _stream.KEYING)."""

    def __init__(self, keys):
        self.keys = keys
        self.thread = threading.get_ident()

    def __enter__(self):
        if self.thread in _stream.KEYING:
            raise RuntimeError("deepinit.init_module_ is already running on this thread: one model at a time")
        self.hooks = self.keys.watch_registrations()
        _stream.KEYING[self.thread] = self.keys
        return self.keys

    def __exit__(self, *exc):
        del _stream.KEYING[self.thread]
        for hook in self.hooks:
            hook.remove()
        return False
