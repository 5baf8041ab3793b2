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
