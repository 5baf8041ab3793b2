"""Streamed table init into .npy and .safetensors files equals the in-memory init."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import deepinit
from deepinit.tables import read_safetensors

CASES = [
    ("normal_", {"std": 0.02}, "float32"),
    ("trunc_normal_", {"std": 0.5, "a": -1.0, "b": 1.0}, "float64"),
    ("kaiming_uniform_", {"a": 5 ** 0.5}, "float16"),
    ("xavier_normal_", {}, "bfloat16"),
    ("uniform_", {"a": -3.0, "b": 3.0}, "float32"),
]


@pytest.mark.parametrize("init,kwargs,dtype", CASES)
@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_streamed_file_equals_the_in_memory_init(tmp_path, init, kwargs, dtype, suffix):
    if suffix == ".npy" and dtype == "bfloat16":
        with pytest.raises(ValueError, match="safetensors"):
            deepinit.init_table_file(tmp_path / "t.npy", (10, 3), init, seed=1, dtype=dtype, **kwargs)
        return
    shape = (1003, 37)
    path = deepinit.init_table_file(tmp_path / f"t{suffix}", shape, init, seed=77, offset=5, dtype=dtype,
                                    chunk_bytes=5000, progress=False, **kwargs)  # many chunks, uneven last one
    loaded = torch.from_numpy(np.load(path, mmap_mode="r").copy()) if suffix == ".npy" else read_safetensors(path)
    expected = getattr(deepinit, init)(torch.empty(shape, dtype=getattr(torch, dtype)), seed=77, offset=5, **kwargs)
    assert loaded.dtype == expected.dtype and torch.equal(loaded, expected)


def test_safetensors_header_is_standard(tmp_path):
    """The file opens with the safetensors library when it is installed."""
    safetensors = pytest.importorskip("safetensors.torch")
    path = deepinit.init_table_file(tmp_path / "t.safetensors", (50, 4), "normal_", seed=1, progress=False)
    assert torch.equal(safetensors.load_file(str(path))["weight"], deepinit.normal_(torch.empty(50, 4), seed=1))


def test_cli(tmp_path):
    path = tmp_path / "t.npy"
    subprocess.run([sys.executable, "-m", "deepinit", "table", str(path), "--shape", "300x8", "--init",
                    "trunc_normal_", "--std", "0.02", "--seed", "9", "--chunk-mb", "1", "--quiet"], check=True)
    assert torch.equal(torch.from_numpy(np.load(path)), deepinit.trunc_normal_(torch.empty(300, 8), std=0.02, seed=9))
