"""The CMake-built op library: loaded with torch.ops.load_library into a fresh interpreter (the
namespace can be registered once per process), it gives the same values as deepinit._C."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import deepinit

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = Path(os.environ.get("DEEPINIT_CMAKE_LIBRARY", ROOT / "build" / "cmake" / "libdeepinit_ops.so"))

SCRIPT = """
import sys, torch
torch.ops.load_library(sys.argv[1])
t = torch.empty(1000)
torch.ops.deepinit.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, seed=77, offset=5)
torch.save(t, sys.argv[2])
"""


@pytest.mark.skipif(not LIBRARY.exists(), reason=f"no CMake build at {LIBRARY} (cmake -S . -B build/cmake)")
def test_cmake_library_loads_and_matches(tmp_path):
    out = tmp_path / "t.pt"
    subprocess.run([sys.executable, "-c", SCRIPT, str(LIBRARY), str(out)], check=True)
    expected = deepinit.trunc_normal_(torch.empty(1000), seed=77, offset=5)
    assert torch.equal(torch.load(out), expected)
