"""deepinit for whole models: one switch for existing code (patch), and reproducible
whole-model init keyed by parameter name (init_module_). docs/migration.md shows both.
"""

import fnmatch
import hashlib
import importlib
import inspect
import sys
from typing import Callable, Mapping, Optional, Union

import torch
import torch.nn as nn

from . import torchrec_tables as _torchrec
from .functions import FUNCTIONS

# deepinit's twins by name: torch.nn.init's functions and the seed page's (DeePMD-kit's
# deepmd.pt.model.network.init), which share their names and signatures.
TWINS = {f.name: f.function for f in FUNCTIONS if f.torch_twin or f.seed_page}


class patch:
    """Routes the init functions of `module` to their deepinit twins, everywhere they are referenced.

    `module` is ``torch.nn.init`` (the default), DeePMD-kit's ``deepmd.pt.model.network.init``, or
    any module (or its dotted name) whose functions have the names of torch.nn.init's or the seed
    page's: each such function that `module` holds is replaced by deepinit's function of that
    name. ``patch(m)`` patches at once and returns a handle whose ``undo()`` restores every
    binding; ``with patch(m): ...`` restores on exit. Patches nest: each restores what it
    replaced.

    Besides ``module.<fn>`` it rebinds every module-level name already bound to one of those
    functions (``from deepmd.pt.model.network.init import normal_`` in DeePMD-kit's layers, ``from
    torch.nn.init import xavier_uniform_`` in nn.MultiheadAttention, and the same in user code),
    so the layers that call them use deepinit. Names bound after the patch, or kept in closures
    and containers, are not seen. `twins` ({name: function}) replaces deepinit's choice.
    """

    def __init__(self, module=None, twins: Optional[Mapping[str, Callable]] = None):
        if module is None:
            module = torch.nn.init
        elif isinstance(module, str):
            module = importlib.import_module(module)
        twins = dict(TWINS if twins is None else twins)
        originals = {id(getattr(module, name)): twin for name, twin in twins.items()
                     if callable(getattr(module, name, None))}
        if not originals:
            raise ValueError(f"{getattr(module, '__name__', module)!r} has none of the functions deepinit replaces "
                             f"({', '.join(sorted(twins))})")
        self._saved = []  # (namespace, name, original)
        namespaces = list(sys.modules.values())
        if not any(m is module for m in namespaces):
            namespaces.append(module)
        for namespace in namespaces:
            members = getattr(namespace, "__dict__", None)
            if not isinstance(members, dict):
                continue
            for key, value in list(members.items()):
                twin = originals.get(id(value))
                if twin is not None and value is not twin:
                    self._saved.append((namespace, key, value))
                    setattr(namespace, key, twin)
        self._active = True

    def undo(self):
        if self._active:
            for namespace, key, value in reversed(self._saved):
                setattr(namespace, key, value)
            self._active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.undo()
        return False


def patch_torch(twins: Optional[Mapping[str, Callable]] = None) -> patch:
    """``patch(torch.nn.init)``: torch.nn.init's functions, and every name bound to them, route
    to deepinit."""
    return patch(torch.nn.init, twins)


def parameter_key(seed: int, name: str) -> int:
    """The 64-bit stream key of parameter `name` under model seed `seed`: stable across runs,
    machines and Python versions (BLAKE2b of both), so a parameter's values depend on its name
    alone, not on what else the model holds or in which order it was built."""
    digest = hashlib.blake2b(f"deepinit-v1:{seed % (1 << 64)}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


Rule = Callable[..., torch.Tensor]


def _accepts_seed(fn) -> bool:
    try:
        return "seed" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class _Seeded:
    """torch.nn.init twins that give every parameter its own key and record what they fill."""

    def __init__(self, seed, params):
        from ._shards import is_dtensor

        self.seed = seed
        self.by_id = {id(p): name for name, p in params.items()}
        # Views of plain parameters (say, a slice one reset method fills) by storage.
        self.by_storage = {
            p.untyped_storage().data_ptr(): (name, p.storage_offset(), p.shape, p.stride())
            for name, p in params.items()
            if not p.is_meta and not is_dtensor(p)
        }
        self.filled = set()

    def name_of(self, tensor):
        """The key name of a tensor being filled: its parameter's name, or that name and where a
        view lies in it; None for tensors that are not (views of) parameters."""
        from ._shards import is_dtensor

        if not isinstance(tensor, torch.Tensor):
            return None
        name = self.by_id.get(id(tensor))
        if name is not None:
            return name
        if tensor.is_meta or is_dtensor(tensor):
            return None
        entry = self.by_storage.get(tensor.untyped_storage().data_ptr())
        if entry is None:
            return None
        name, offset, shape, stride = entry
        if tensor.storage_offset() == offset and tensor.shape == shape and tensor.stride() == stride:
            return name
        return f"{name}[{tensor.storage_offset() - offset}:{tuple(tensor.shape)}:{tuple(tensor.stride())}]"

    def wrap(self, fn):
        takes_seed = _accepts_seed(fn)

        def keyed(tensor=None, *args, **kwargs):
            name = self.name_of(tensor)
            if name is not None:
                self.filled.add(name.split("[")[0])
                if takes_seed:
                    kwargs.pop("generator", None)
                    if args and isinstance(args[-1], torch.Generator):
                        args = args[:-1]
                    kwargs["seed"] = parameter_key(self.seed, name)
            return fn(tensor, *args, **kwargs)

        keyed.__name__ = fn.__name__
        keyed.__doc__ = fn.__doc__
        return keyed


def _reset_method(module):
    """The module's own reset method (reset_parameters or _reset_parameters), if its class has one
    that takes no argument. (TorchRec's DistributedModelParallel has a _reset_parameters(module)
    that is not a module's own reset.)"""
    for name in ("reset_parameters", "_reset_parameters"):
        method = getattr(type(module), name, None)
        if callable(method):
            bound = getattr(module, name)
            try:
                inspect.signature(bound).bind()
            except TypeError:
                continue
            except ValueError:  # no signature (a builtin): trust it
                pass
            return bound
    return None


def init_module_(
    module: nn.Module,
    seed: int,
    rules: Optional[Mapping[Union[str, type], Rule]] = None,
    *,
    strict: bool = True,
) -> nn.Module:
    """Initialises every parameter of `module` from a stream keyed by (seed, its qualified name).

    Each module's own reset method (``reset_parameters`` or ``_reset_parameters``) runs, children
    before parents as at construction, with torch.nn.init routed to deepinit and every fill of a
    parameter keyed by ``parameter_key(seed, name)``: the defaults reproduce each torch module's
    own distributions. Then:

    * adding, removing or reordering layers leaves every other parameter's values unchanged;
    * a model built on the meta device, moved with ``to_empty`` and initialised here equals the
      same model built eagerly and initialised here, bit for bit, on CPU, CUDA or as DTensors;
    * TorchRec's embedding tables (``EmbeddingBagCollection``, ``EmbeddingCollection``, sharded or
      not) are filled by their global position, keyed by (seed, table name), with TorchRec's own
      law unless a rule names the table: every sharding plan gives the same tables
      (docs/torchrec.md).

    Args:
        module: the model; its parameters are filled in place.
        seed: the model seed (64 bits).
        rules: overrides, mapping a module type (``nn.Embedding``) or a parameter-name pattern
            (fnmatch: ``"*.bias"``, ``"encoder.*.weight"``) to an init function taking the tensor
            (and ``seed=`` where it accepts it, e.g. ``functools.partial(deepinit.normal_,
            std=0.02)``). Type rules replace that module's reset; name rules apply last.
        strict: raise if a parameter is left untouched (a custom module with neither a reset
            method nor a rule).

    Returns the module.
    """
    wrapper, module = module, _torchrec.unwrapped(module)
    rules = dict(rules or {})
    type_rules = {k: v for k, v in rules.items() if isinstance(k, type)}
    name_rules = {k: v for k, v in rules.items() if isinstance(k, str)}
    params = dict(module.named_parameters(remove_duplicate=True))
    if any(p.is_meta for p in params.values()):
        raise ValueError("init_module_: the module has meta parameters; call module.to_empty(device=...) first")
    seeded = _Seeded(seed, params)

    def apply_rule(rule, name, tensor):
        if _accepts_seed(rule):
            rule(tensor, seed=parameter_key(seed, name))
        else:
            with torch.no_grad():
                rule(tensor)
        seeded.filled.add(name)

    # TorchRec's embedding tables, sharded or not, by their global position (deepinit/torchrec.py).
    tables = _torchrec.init_tables(module, seed, name_rules, type_rules, parameter_key)
    seeded.filled |= tables
    # Their modules (the collections and every module inside them) keep their reset methods out.
    collections = {id(m) for _, c, _ in _torchrec.collections(module) for m in c.modules()}

    twins = {name: seeded.wrap(fn) if name != "calculate_gain" else fn for name, fn in TWINS.items()}
    with patch_torch(twins), torch.no_grad():
        for prefix, child in reversed(list(module.named_modules(remove_duplicate=True))):
            if id(child) in collections:
                continue
            rule = next((r for t, r in type_rules.items() if isinstance(child, t)), None)
            if rule is not None:
                for local_name, p in child.named_parameters(recurse=False):
                    apply_rule(rule, f"{prefix}.{local_name}" if prefix else local_name, p)
                continue
            reset = _reset_method(child)
            if reset is not None:
                reset()
        for pattern, rule in name_rules.items():
            for name, p in params.items():
                if name not in tables and fnmatch.fnmatchcase(name, pattern):
                    apply_rule(rule, name, p)
    missing = sorted(set(params) - seeded.filled)
    if strict and missing:
        raise ValueError(
            f"init_module_: no reset method or rule initialised {missing}; add rules for them (or strict=False)"
        )
    return wrapper
