"""Reproducible whole-model init keyed by parameter name (init_module_): each module's reset
methods, or the model's own init code (init=), with every fill of the model's tensors keyed by
(seed, its name). docs/migration.md shows it; deepinit.keyed says what is named.
"""

import fnmatch
import inspect
from typing import Callable, Mapping, Optional, Union

import torch
import torch.nn as nn

from . import torchrec_tables as _torchrec
from ._stream import parameter_key
from .keyed import InitMode, Keys, keyed
from .patching import _TensorMethods, patch_torch

Rule = Callable[..., torch.Tensor]


def _accepts_seed(fn) -> bool:
    try:
        return "seed" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


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
    init: Optional[Callable[[nn.Module], object]] = None,
) -> nn.Module:
    """Initialises every parameter of `module` from streams keyed by (seed, its qualified name).

    By default each module's own reset method (``reset_parameters`` or ``_reset_parameters``)
    runs, children before parents as at construction: the defaults reproduce each torch
    module's own distributions. With ``init=``, the model's own init code runs instead,
    ``init(module)`` (``lambda m: m.init_weights()`` for torchtitan and Hugging Face,
    ``lambda m: m.apply(m._init_weights)``, timm's ``lambda m: m.init_weights(mode)``), with its
    own laws. Either way torch.nn.init is routed to deepinit (``patch_torch``, which also reaches
    torch.nn.init functions captured earlier and ``Tensor.normal_``/``uniform_``) and every
    random fill of a parameter or buffer, of a view or ``.data`` of one, plain or DTensor, or,
    with ``init=``, of a tensor made from one while it runs (``new_empty``, ``empty_like``, ...)
    takes its stream from (seed, that name) (deepinit.keyed). Then:

    * a parameter's values depend on nothing else: not the default generator, not the order of
      the calls, not which other modules exist: adding, removing or reordering layers leaves
      every other parameter unchanged, and a pipeline stage gets the whole model's values for
      the parameters it holds;
    * a model built on the meta device, moved with ``to_empty`` and initialised here equals the
      same model built eagerly and initialised here, and sharded (FSDP2, tensor parallel, both)
      it equals the single-process init, bit for bit, on CPU or CUDA;
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
            std=0.02)``). Type rules replace that module's reset (with ``init=``, they apply
            after it); name rules apply last.
        strict: raise if a parameter is left untouched: no reset method, rule or ``init=`` fill
            reached it (deterministic fills such as ``ones_``, ``fill_`` and ``copy_`` count).
        init: the model's own init, called with `module`. A random fill it makes of a tensor
            that has no name (neither the model's, nor a view of or a tensor made from one), and
            a random draw no key can stand for (``torch.randn``, ``bernoulli_``, ...), raise
            ValueError: their values would differ between ranks and runs.

    Returns the module.
    """
    if init is not None and not callable(init):
        raise TypeError(f"init_module_: init= must be callable, the model's own init (e.g. init=lambda m: "
                        f"m.init_weights()), but got {type(init).__name__}")
    wrapper, module = module, _torchrec.unwrapped(module)
    rules = dict(rules or {})
    type_rules = {k: v for k, v in rules.items() if isinstance(k, type)}
    name_rules = {k: v for k, v in rules.items() if isinstance(k, str)}
    if any(p.is_meta for p in module.parameters()):
        raise ValueError("init_module_: the module has meta parameters; call module.to_empty(device=...) first")
    keys = Keys(module, seed, strict_names=init is not None)

    def apply_rule(rule, name, tensor):
        if _accepts_seed(rule):
            rule(tensor, seed=parameter_key(seed, name))
        else:
            rule(tensor)
        keys.filled.add(name)

    # TorchRec's embedding tables, sharded or not, by their global position (deepinit/torchrec_tables.py).
    tables = _torchrec.init_tables(module, seed, name_rules, type_rules)
    keys.filled |= tables
    # Their modules (the collections and every module inside them) keep their reset methods out.
    collections = {id(m) for _, c, _ in _torchrec.collections(module) for m in c.modules()}
    with patch_torch(), keyed(keys), InitMode(keys, _TensorMethods.ORIGINALS.values()), torch.no_grad():
        if init is not None:
            init(wrapper)
        for prefix, child in reversed(list(module.named_modules(remove_duplicate=True))):
            if id(child) in collections:
                continue
            rule = next((r for t, r in type_rules.items() if isinstance(child, t)), None)
            if rule is not None:
                for local_name, p in child.named_parameters(recurse=False):
                    apply_rule(rule, f"{prefix}.{local_name}" if prefix else local_name, p)
            elif init is None:
                reset = _reset_method(child)
                if reset is not None:
                    reset()
        for pattern, rule in name_rules.items():
            for name, p in module.named_parameters():
                if name not in tables and fnmatch.fnmatchcase(name, pattern):
                    apply_rule(rule, name, p)
    missing = keys.unfilled()
    if strict and missing:
        source = "init=" if init is not None else "no reset method"
        raise ValueError(
            f"init_module_: {source}, rule or fill initialised {missing}; pass the model's own init as init= (e.g. "
            "init=lambda m: m.init_weights()), add rules for them, or strict=False"
        )
    return wrapper
