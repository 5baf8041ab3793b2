"""Existing code routed to deepinit: ``patch(module)`` and ``patch_torch()``.

While a patch is active, every random fill that deepinit makes exactly goes to deepinit, however
the code reaches it (docs/migration.md):

* by name: the module's functions that deepinit has a twin for, and every module-level name
  bound to them in any loaded module (``from torch.nn.init import xavier_uniform_``), are
  replaced by the twin, called with the arguments the module's own signature and defaults give;
* through torch.nn.init's helpers (``_no_grad_uniform_``, ``_no_grad_normal_``,
  ``_no_grad_trunc_normal_``), which torch's functions look up when they run: a torch.nn.init
  function captured before the patch (in a ``functools.partial``, a dict, a closure; torchtitan's
  param_init, Hugging Face's TORCH_INIT_FUNCTIONS) routes through them;
* through ``Tensor.normal_`` and ``Tensor.uniform_`` (``.data.normal_()``, DTensors' included),
  on the dtypes and devices deepinit fills.

What deepinit cannot make exactly stays on torch: ``Tensor.bernoulli_``, ``random_``,
``exponential_``, ``geometric_``, ``cauchy_``, ``log_normal_``, functions that make new random
tensors (``torch.randn``, ``torch.randperm``, ...), and normal_/uniform_ of other dtypes
(complex) or devices.
"""

import importlib
import inspect
import sys
import threading
from typing import Callable, Mapping, Optional

import torch

from . import init as _init
from ._ops import DTYPES
from .functions import FUNCTIONS

# deepinit's functions by name: the twins of a module's functions of the same names.
TWINS = {f.name: f.function for f in FUNCTIONS}
# torch.nn.init's helpers (and DeePMD-kit's, which has the same), by the twin each stands for.
# (_no_grad_trunc_normal_ is on the seed page: deepinit has it under its own name.)
HELPERS = {"_no_grad_uniform_": "uniform_", "_no_grad_normal_": "normal_"}

FILLED_DTYPES = tuple(DTYPES.values())
FILLED_DEVICES = {"cpu", "meta"} | ({"cuda"} if torch.ops.deepinit._compiled_cuda_version() > 0 else set())


def _replacement(original, twin):
    """What stands for `original`, a module's function, while patched: `twin` itself when a call
    of `original` means the same to it (same arguments in the same order, no other default),
    else an adapter that binds the call by original's signature and defaults and passes every
    argument to twin by name; None when twin lacks one of original's arguments or needs one
    that original lacks (then the function stays as it is)."""
    try:
        theirs, ours = inspect.signature(original), inspect.signature(twin)
    except (TypeError, ValueError):
        return None
    mine = list(ours.parameters.values())
    same = True
    for k, p in enumerate(theirs.parameters.values()):
        q = ours.parameters.get(p.name)
        if q is None or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or q.kind is q.KEYWORD_ONLY:
            return None
        same = same and mine[k] is q and (p.default is p.empty or p.default == q.default)
    if any(q.default is q.empty and q.name not in theirs.parameters for q in mine if q.kind is not q.VAR_POSITIONAL):
        return None
    if same:
        return twin

    def adapter(*args, **kwargs):
        bound = theirs.bind(*args, **kwargs)
        bound.apply_defaults()
        return twin(**bound.arguments)

    adapter.__name__, adapter.__qualname__ = original.__name__, original.__qualname__
    adapter.__doc__ = f"deepinit.{twin.__name__}, called with the signature and defaults of {original.__module__}." \
                      f"{original.__qualname__}.\n\n{twin.__doc__ or ''}"
    adapter.__signature__ = theirs
    return adapter


class _TensorMethods:
    """Tensor.normal_ and Tensor.uniform_, routed to deepinit while any patch is active."""

    ORIGINALS = {"normal_": torch.Tensor.normal_, "uniform_": torch.Tensor.uniform_}
    _lock = threading.Lock()
    _active = 0

    @classmethod
    def acquire(cls):
        with cls._lock:
            if cls._active == 0:
                torch.Tensor.normal_ = _normal_method
                torch.Tensor.uniform_ = _uniform_method
            cls._active += 1

    @classmethod
    def release(cls):
        with cls._lock:
            cls._active -= 1
            if cls._active == 0:
                del torch.Tensor.normal_, torch.Tensor.uniform_  # TensorBase's methods again


def deepinit_fills(tensor) -> bool:
    """Whether deepinit fills this tensor: its dtype, a strided layout, a device it has kernels for."""
    return (tensor.dtype in FILLED_DTYPES and tensor.layout is torch.strided and not tensor.is_nested
            and tensor.device.type in FILLED_DEVICES)


def _normal_method(self, mean=0.0, std=1.0, *, generator=None):
    if deepinit_fills(self):
        return _init.normal_(self, mean, std, generator)
    return _TensorMethods.ORIGINALS["normal_"](self, mean, std, generator=generator)


def _uniform_method(self, *bounds, generator=None, **named):
    if len(bounds) > 2 or set(named) - {"from", "to"}:
        raise TypeError(f"uniform_() takes from, to and generator, but got {len(bounds)} positional arguments and "
                        f"{sorted(named)}")
    low = bounds[0] if len(bounds) > 0 else named.get("from", 0.0)
    high = bounds[1] if len(bounds) > 1 else named.get("to", 1.0)
    if deepinit_fills(self):
        return _init.uniform_(self, low, high, generator)
    return _TensorMethods.ORIGINALS["uniform_"](self, low, high, generator=generator)


_normal_method.__doc__ = "Tensor.normal_, routed to deepinit.normal_ while a deepinit patch is active."
_uniform_method.__doc__ = "Tensor.uniform_, routed to deepinit.uniform_ while a deepinit patch is active."


class patch:
    """Routes the init functions of `module` to their deepinit twins, and Tensor.normal_ and
    Tensor.uniform_ to deepinit, until ``undo()``.

    `module` is ``torch.nn.init`` (the default), DeePMD-kit's ``deepmd.pt.model.network.init``,
    timm's ``timm.layers.weight_init``, or any module (or its dotted name) whose functions have
    the names of deepinit's: each such function, ``module.<fn>`` and every module-level name bound
    to it in any loaded module, is replaced by deepinit's function of that name, called with the
    arguments that the module's own signature and defaults give (timm's ``variance_scaling_``
    defaults to ``'normal'``, and stays so). torch.nn.init's helpers are routed too, so that its
    functions captured earlier (in partials, dicts, closures) reach deepinit. ``patch(m)``
    patches at once and returns a handle whose ``undo()`` restores everything; ``with patch(m):
    ...`` restores on exit. Patches nest. `twins` ({name: function}) replaces deepinit's choice.
    ``replaced`` lists the functions replaced; ``kept`` those whose arguments deepinit's twin
    does not take, which stay the module's own.
    """

    def __init__(self, module=None, twins: Optional[Mapping[str, Callable]] = None):
        if module is None:
            module = torch.nn.init
        elif isinstance(module, str):
            module = importlib.import_module(module)
        twins = dict(TWINS if twins is None else twins)
        twins.update({helper: twins[name] for helper, name in HELPERS.items() if name in twins})
        present = {name: getattr(module, name) for name in twins if callable(getattr(module, name, None))}
        if not present:
            raise ValueError(f"{getattr(module, '__name__', module)!r} has none of the functions deepinit replaces "
                             f"({', '.join(sorted(twins))})")
        replacements, self.replaced, self.kept = {}, [], []
        for name, original in present.items():
            replacement = original if original is twins[name] else _replacement(original, twins[name])
            if replacement is None:
                self.kept.append(name)
            else:
                self.replaced.append(name)
                if replacement is not original:
                    replacements[id(original)] = replacement
        self.replaced.sort()
        self.kept.sort()
        self._saved = []  # (namespace, name, original)
        namespaces = list(sys.modules.values())
        if not any(m is module for m in namespaces):
            namespaces.append(module)
        for namespace in namespaces:
            members = getattr(namespace, "__dict__", None)
            if not isinstance(members, dict):
                continue
            for key, value in list(members.items()):
                replacement = replacements.get(id(value))
                if replacement is not None:
                    self._saved.append((namespace, key, value))
                    setattr(namespace, key, replacement)
        _TensorMethods.acquire()
        self._active = True

    def undo(self):
        if self._active:
            for namespace, key, value in reversed(self._saved):
                setattr(namespace, key, value)
            _TensorMethods.release()
            self._active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.undo()
        return False


def patch_torch(twins: Optional[Mapping[str, Callable]] = None) -> patch:
    """``patch(torch.nn.init)``: torch.nn.init's functions, every name bound to them, their
    helpers and Tensor.normal_ / Tensor.uniform_ route to deepinit."""
    return patch(torch.nn.init, twins)
