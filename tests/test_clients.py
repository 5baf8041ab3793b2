"""Real clients, as they run: torchtitan's llama3, a Hugging Face Llama and timm's ViT, built on the
meta device and initialised by their own init code under init_module_(init=). Their weights
equal the single-process init bit for bit under FSDP2 (2 and 3 ranks), tensor parallelism,
FSDP+TP on a 2x2 mesh and pipeline stages, with ranks seeded differently; their laws and buffers
are the clients' own. Each client's tests skip when it is not installed (CI installs them in a
step of their own: .ci/run)."""

import dataclasses
import os
import tempfile
import types

import pytest
import scipy.stats
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import deepinit

SEED = 2026


def _spawn(worker, world, *args):
    """Runs worker(rank, world, result_path, *args) on `world` gloo ranks; returns what rank 0 saved."""
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "result.pt")
        mp.start_processes(_rank, args=(world, os.path.join(tmp, "store"), worker, result, args), nprocs=world,
                           join=True, start_method="spawn")
        return torch.load(result)


def _rank(rank, world, store, worker, result, args):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        torch.manual_seed(1000 + rank)  # ranks seeded differently: the keyed init must not care
        gathered = worker(rank, world, *args)
        if rank == 0:
            torch.save(gathered, result)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _gathered(model):
    return {name: (t.full_tensor() if deepinit.distributed.is_dtensor(t) else t).detach().clone()
            for name, t in [*model.named_parameters(), *model.named_buffers()]}


def _assert_equal(got, expected):
    assert got.keys() == expected.keys()
    differ = [name for name in expected if not torch.equal(got[name], expected[name])]
    assert not differ, f"{len(differ)} of {len(expected)} differ: {differ[:5]}"


def _assert_same_laws(ours, theirs):
    """Every random parameter of the keyed init and of the client's own init: one law (a
    two-sample Kolmogorov-Smirnov test each); every deterministic one: the same values."""
    for name, mine in ours.items():
        other = theirs[name]
        if not mine.is_floating_point():
            assert torch.equal(mine, other), name
        elif other.float().std() == 0 or mine.numel() < 64:
            assert torch.equal(mine, other), name
        else:
            p = scipy.stats.ks_2samp(mine.float().ravel().numpy(), other.float().ravel().numpy()).pvalue
            assert p > 1e-6, (name, p)


# --- torchtitan ------------------------------------------------------------------------------------


def _titan_model(layers=None, parallelism=None):
    from torchtitan.models.llama3 import model_registry

    config = model_registry("debugmodel").model
    if layers is not None:
        config = dataclasses.replace(config, layers=config.layers[:layers])
    if parallelism is not None:
        config.update_from_config(config=types.SimpleNamespace(parallelism=parallelism))
    with torch.device("meta"):
        return config.build()


def _titan_keyed(model):
    return deepinit.init_module_(model.to_empty(device="cpu"), SEED, init=lambda m: m.init_weights())


def _titan_worker(rank, world, dp, tp):
    """torchtitan's own parallelize_llama (its default SPMD backend), then the keyed init."""
    import torchtitan.distributed.parallel_dims as parallel_dims
    from torchtitan.config import CompileConfig, ParallelismConfig, TrainingConfig
    from torchtitan.models.llama3 import parallelize_llama

    parallel_dims.device_type = "cpu"  # torchtitan assumes CUDA
    parallelism = ParallelismConfig(data_parallel_shard_degree=dp, tensor_parallel_degree=tp)
    dims = parallel_dims.ParallelDims(dp_replicate=1, dp_shard=dp, cp=1, tp=tp, pp=1, ep=1, world_size=world,
                                      spmd_backend=parallelism.spmd_backend)
    model = parallelize_llama(_titan_model(parallelism=parallelism), parallel_dims=dims, training=TrainingConfig(),
                              parallelism=parallelism, compile_config=CompileConfig(), ac_config=None,
                              dump_folder=tempfile.gettempdir())
    placements = {type(p).__name__ for t in model.parameters() for p in t.placements}
    return _gathered(_titan_keyed(model)), placements


@pytest.fixture(scope="module")
def titan_reference():
    pytest.importorskip("torchtitan")
    return _gathered(_titan_keyed(_titan_model()))


@pytest.mark.parametrize("dp,tp", [(2, 1), (3, 1), (1, 2), (2, 2)], ids=["fsdp2-2", "fsdp2-3", "tp-2", "fsdp2+tp-2x2"])
def test_torchtitan_llama3_sharded_equals_one_process(titan_reference, dp, tp):
    gathered, placements = _spawn(_titan_worker, dp * tp, dp, tp)
    _assert_equal(gathered, titan_reference)
    if dp > 1 and tp > 1:
        assert "_StridedShard" in placements, placements


def test_torchtitan_pipeline_stages_equal_the_whole_model():
    """torchtitan's own split of a 4-layer model into 2 stages: each stage's parameters and buffers
    equal the whole model's."""
    pytest.importorskip("torchtitan")
    from torchtitan.distributed.pipeline_parallel import _generate_llm_fqn_per_model_part, _split_module

    whole_meta = _titan_model(layers=4)
    stages = [_split_module(whole_meta, names) for names in _generate_llm_fqn_per_model_part(2, 4)]
    whole = _gathered(_titan_keyed(whole_meta))
    for k, stage in enumerate(stages):
        torch.manual_seed(k)
        held = _gathered(_titan_keyed(stage))
        assert held and set(held) < set(whole)
        _assert_equal(held, {name: whole[name] for name in held})


def test_torchtitan_laws_and_buffers_are_its_own(titan_reference):
    model = _titan_model().to_empty(device="cpu")
    torch.manual_seed(0)
    with torch.no_grad():
        model.init_weights()
    _assert_same_laws(titan_reference, _gathered(model))


def test_torchtitan_init_weights_under_patch_torch_draws_every_value_from_deepinit():
    """Its partials of torch.nn.init, made at import, reach deepinit: the values are deepinit's
    (equal for equal seeds, none torch's)."""
    pytest.importorskip("torchtitan")

    def routed(seed):
        model = _titan_model().to_empty(device="cpu")
        torch.manual_seed(seed)
        with deepinit.patch_torch(), torch.no_grad():
            model.init_weights()
        return _gathered(model)

    first, again = routed(3), routed(3)
    _assert_equal(first, again)
    model = _titan_model().to_empty(device="cpu")
    torch.manual_seed(3)
    with torch.no_grad():
        model.init_weights()
    theirs = _gathered(model)
    assert not torch.equal(first["tok_embeddings.weight"], theirs["tok_embeddings.weight"])
    assert all(not torch.equal(first[n], theirs[n]) for n in first if first[n].is_floating_point() and first[n].std() > 0)


# --- Hugging Face transformers ----------------------------------------------------------------------


def _llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    with torch.device("meta"):
        return LlamaForCausalLM(config)


def _llama_fsdp2_worker(rank, world):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (world,))
    model = _llama()
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    return _gathered(deepinit.init_module_(model, SEED, init=lambda m: m.init_weights()))


def test_hugging_face_llama_in_one_process_and_under_fsdp2():
    pytest.importorskip("transformers")
    keyed = _gathered(deepinit.init_module_(_llama().to_empty(device="cpu"), SEED, init=lambda m: m.init_weights()))
    torch.manual_seed(4)
    applied = _gathered(deepinit.init_module_(_llama().to_empty(device="cpu"), SEED,
                                              init=lambda m: m.apply(m._init_weights)))
    _assert_equal(applied, keyed)
    _assert_equal(_spawn(_llama_fsdp2_worker, 2), keyed)
    theirs = _llama().to_empty(device="cpu")
    theirs.init_weights()
    _assert_same_laws(keyed, _gathered(theirs))


# --- timm --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["", "jax"])
def test_timm_vit_every_random_parameter_from_deepinit_with_timms_laws(mode):
    timm = pytest.importorskip("timm")

    def keyed(generator_seed):
        with torch.device("meta"):
            model = timm.create_model("vit_tiny_patch16_224", pretrained=False, weight_init=mode)
        model.to_empty(device="cpu")
        torch.manual_seed(generator_seed)
        state = torch.get_rng_state()
        with deepinit.patch("timm.layers.weight_init"):
            deepinit.init_module_(model, SEED, init=lambda m: m.init_weights(mode))
        assert torch.equal(torch.get_rng_state(), state)  # no value came from torch's generator
        return _gathered(model)

    ours = keyed(0)
    _assert_equal(keyed(1), ours)
    torch.manual_seed(0)
    theirs = timm.create_model("vit_tiny_patch16_224", pretrained=False, weight_init=mode)
    _assert_same_laws(ours, _gathered(theirs))
