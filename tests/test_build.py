"""The build as a user's machine meets it: a CUDA_HOME that is not a CUDA toolkit makes a CPU
build and says so in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.version.cuda is None, reason="needs a CUDA build of torch (a CPU build never tries CUDA)")
def test_a_cuda_home_without_the_runtime_library_makes_a_cpu_build_and_says_why(tmp_path):
    fake = tmp_path / "cuda"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "nvcc").write_text("#!/bin/sh\nexit 1\n")  # a wrapper, as on PATH in some images
    (fake / "bin" / "nvcc").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPINIT_")}
    result = subprocess.run([sys.executable, "setup.py", "--name"], cwd=ROOT, env={**env, "CUDA_HOME": str(fake)},
                            capture_output=True, text=True)
    lines = [line for line in result.stderr.splitlines() if line.startswith("deepinit:")]
    assert result.returncode == 0 and len(lines) == 1
    assert "CPU kernels only" in lines[0] and str(fake) in lines[0] and "libcudart" in lines[0]


def _import_from_parent(checkout, *flags):
    """`import deepinit` run from the directory that holds `checkout` (a directory named deepinit)."""
    code = "import deepinit; print(deepinit.__file__); print(deepinit.calculate_gain('relu'))"
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=checkout.parent, capture_output=True, text=True)


def test_a_checkout_named_deepinit_hands_the_import_on_to_the_installed_package(tmp_path):
    checkout = tmp_path / "deepinit"
    checkout.symlink_to(ROOT, target_is_directory=True)
    result = _import_from_parent(checkout)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.splitlines()[0]).resolve() != (ROOT / "__init__.py").resolve()
    assert result.stdout.splitlines()[1] == str(2 ** 0.5)


def test_a_checkout_named_deepinit_without_a_usable_package_says_so_in_one_line(tmp_path):
    checkout = tmp_path / "deepinit"
    (checkout / "deepinit").mkdir(parents=True)
    (checkout / "__init__.py").write_text((ROOT / "__init__.py").read_text())
    (checkout / "deepinit" / "__init__.py").write_text("raise ImportError('the package could not load')\n")
    result = _import_from_parent(checkout, "-S")  # no site-packages: no installed deepinit to hand on to
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert last.startswith(f"ImportError: 'import deepinit' found {checkout}, a checkout of deepinit's source")
    assert "the package could not load" in last
