"""TorchRec's embedding tables, sharded or not, initialised by their global position.

``init_module_`` fills every table of an ``EmbeddingBagCollection`` or ``EmbeddingCollection``,
and of their sharded forms (``DistributedModelParallel``, ``torchrec.distributed.shard``), as
windows of the whole table keyed by (seed, table name): each local shard of each rank gets the
values the unsharded table gets there, so the gathered tables are the same for every sharding
plan, kernel and world size, and no rank holds more than its own shards. docs/torchrec.md says
more. Nothing here imports TorchRec unless a model already did.
"""

import fnmatch
import functools
import sys
from dataclasses import dataclass, field

import torch

from . import init as _init
from ._stream import parameter_key


@dataclass
class Table:
    """One embedding table: its config, its weight's qualified name, and this rank's pieces of it."""

    name: str
    parameter: str
    shape: tuple
    config: object
    pieces: list = field(default_factory=list)  # (tensor, (row, column)) of the table held here


def key_name(table_name: str) -> str:
    """What parameter_key hashes with the model seed for a table: its name, not its module path,
    so that wrapping or sharding the model moves no value."""
    return f"torchrec table {table_name}"


def _kinds():
    """(collection type, sharded type, config method, module dict attribute), for the kinds the
    loaded TorchRec has; empty without TorchRec."""
    if "torchrec" not in sys.modules:
        return []
    from torchrec.modules.embedding_modules import EmbeddingBagCollection, EmbeddingCollection

    kinds = [(EmbeddingBagCollection, "embedding_bag_configs", "embedding_bags"),
             (EmbeddingCollection, "embedding_configs", "embeddings")]
    found = []
    for plain, configs, attribute in kinds:
        sharded = ()
        try:
            from torchrec.distributed.embedding import ShardedEmbeddingCollection
            from torchrec.distributed.embeddingbag import ShardedEmbeddingBagCollection

            sharded = ShardedEmbeddingBagCollection if plain is EmbeddingBagCollection else ShardedEmbeddingCollection
        except ImportError:
            pass
        found.append((plain, sharded, configs, attribute))
    return found


def unwrapped(module):
    """The model inside a DistributedModelParallel (and the DistributedDataParallel inside that),
    whose parameter names are the model's own, as DistributedModelParallel.named_parameters gives
    them; any other module as it is."""
    if "torchrec.distributed.model_parallel" in sys.modules:
        from torchrec.distributed.model_parallel import DistributedModelParallel

        if isinstance(module, DistributedModelParallel):
            return module.module
    return module


def collections(module):
    """(qualified name, collection, its unsharded type) of every TorchRec embedding collection in
    `module`, sharded or not."""
    kinds = _kinds()
    found = []
    for prefix, child in module.named_modules():
        for plain, sharded, _, _ in kinds:
            if isinstance(child, plain) or (sharded and isinstance(child, sharded)):
                found.append((prefix, child, plain))
    return found


def tables(prefix, collection):
    """The tables of one collection, with the pieces of each that this rank holds."""
    for plain, sharded, configs_method, attribute in _kinds():
        if isinstance(collection, plain):
            configs = getattr(collection, configs_method)()
            return [Table(c.name, _qualified(prefix, f"{attribute}.{c.name}.weight"), (c.num_embeddings, c.embedding_dim),
                          c, [(getattr(collection, attribute)[c.name].weight, (0, 0))]) for c in configs]
        if sharded and isinstance(collection, sharded):
            configs = collection._embedding_bag_configs if attribute == "embedding_bags" else collection._embedding_configs
            state = collection.state_dict()
            return [Table(c.name, _qualified(prefix, f"{attribute}.{c.name}.weight"), (c.num_embeddings, c.embedding_dim),
                          c, _pieces(state[f"{attribute}.{c.name}.weight"])) for c in configs]
    raise TypeError(f"{type(collection).__name__} is not a TorchRec embedding collection")


def _qualified(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _pieces(value):
    """(tensor, global start) of each local shard of a sharded table's state-dict entry: a
    ShardedTensor, a DTensor over a LocalShardsWrapper, or the whole replicated table."""
    if hasattr(value, "local_shards") and hasattr(value, "metadata"):  # ShardedTensor
        return [(s.tensor, tuple(s.metadata.shard_offsets)) for s in value.local_shards()]
    local = getattr(value, "_local_tensor", None)
    if local is not None and hasattr(local, "local_offsets"):  # DTensor over a LocalShardsWrapper
        return [(t, tuple(o)) for t, o in zip(local.local_shards(), local.local_offsets())]
    return [(value, (0, 0))]  # data parallel: every rank holds the whole table


def default_rule(config):
    """TorchRec's own law for a table: uniform on [weight_init_min, weight_init_max] (default
    +-sqrt(1 / num_embeddings)), as a deepinit fill; None for a config with another init_fn."""
    init_fn = config.init_fn
    if isinstance(init_fn, functools.partial) and not init_fn.args and set(init_fn.keywords) == {"a", "b"} and \
            init_fn.func in (torch.nn.init.uniform_, _init.uniform_):
        return functools.partial(_init.uniform_, a=init_fn.keywords["a"], b=init_fn.keywords["b"])
    return None


def init_tables(module, seed, name_rules, type_rules):
    """Fills every TorchRec table of `module`; returns the qualified names of their weights."""
    filled = set()
    for prefix, collection, plain in collections(module):
        type_rule = next((r for t, r in type_rules.items() if issubclass(plain, t) or isinstance(collection, t)), None)
        for table in tables(prefix, collection):
            rule = next((r for pattern, r in name_rules.items()
                         if fnmatch.fnmatchcase(table.parameter, pattern) or fnmatch.fnmatchcase(table.name, pattern)),
                        None) or type_rule or default_rule(table.config)
            if rule is None:
                raise ValueError(f"init_module_: TorchRec table {table.name!r} has its own init_fn, which deepinit cannot "
                                 "apply by position; give a rule for it (rules={'" + table.name + "': ...})")
            key = parameter_key(seed, key_name(table.name))
            for tensor, start in table.pieces:
                if tensor.numel() > 0:
                    with torch.no_grad():
                        rule(tensor, seed=key, global_shape=table.shape, start=start)
            filled.add(table.parameter)
    return filled
