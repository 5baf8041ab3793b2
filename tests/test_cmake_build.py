"""The CMake build (CMakeLists.txt): it builds the C++ unit tests (the core's, the CUDA kernel's
tiling simulated on the host against the scalar kernel, the stream sources with a captured
reservation driven on the host), which ctest runs, and the op library, which
torch.ops.load_library loads into a fresh interpreter (the namespace can be registered once per
process) to give the same values as deepinit._C."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import deepinit

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "cmake-tests"


def _tool(name):
    """A build tool from PATH or from this interpreter's environment (pip-installed cmake, ninja)."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


@pytest.fixture(scope="session")
def cmake_build(pytestconfig):
    cmake = _tool("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed (pip install cmake)")
    # A debug build: what is tested is that the build works and gives the same values, which an
    # unoptimised build shows as well and compiles in a fraction of the time.
    configure = [cmake, "-S", str(ROOT), "-B", str(BUILD), f"-DPython3_EXECUTABLE={sys.executable}",
                 "-DCMAKE_BUILD_TYPE=Debug"]
    ninja = _tool("ninja")
    if ninja and not (BUILD / "CMakeCache.txt").exists():
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    env = dict(os.environ)
    env.setdefault("CUDA_HOME", "/usr/local/cuda")
    subprocess.run(configure, check=True, env=env, stdout=subprocess.DEVNULL)
    # The build takes minutes on a small machine the first time: show its progress, not silence.
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        # The core's tests, the CUDA tiling simulated on the host, and the op library; the kernels'
        # concurrency test runs in CI under ThreadSanitizer, where its own build belongs.
        build = subprocess.Popen([cmake, "--build", str(BUILD), "--parallel", "--target", "deepinit_core_tests",
                                  "deepinit_warp_sim_tests", "deepinit_stream_source_tests", "deepinit_ops"], env=env,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        output = []
        for line in build.stdout:
            output.append(line)
            if line.startswith("["):
                sys.stderr.write(f"\r\033[Kbuilding the CMake targets {line.split(']')[0]}]")
                sys.stderr.flush()
        sys.stderr.write("\r\033[K")
    if build.wait() != 0:
        pytest.fail("the CMake build failed:\n" + "".join(output[-40:]))
    return BUILD


@pytest.mark.parametrize("suite", ["core_tests", "warp_sim_tests", "stream_source_tests"])
def test_cpp_unit_tests_pass_under_ctest(cmake_build, suite):
    ctest = str(Path(_tool("cmake")).with_name("ctest"))
    result = subprocess.run([ctest, "--test-dir", str(cmake_build), "-R", f"^{suite}$", "--output-on-failure"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


SCRIPT = """
import sys, torch
torch.ops.load_library(sys.argv[1])
t = torch.empty(1000)
torch.ops.deepinit.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, seed=77, offset=5)
torch.save(t, sys.argv[2])
"""


def test_cmake_library_loads_and_matches(cmake_build, tmp_path):
    out = tmp_path / "t.pt"
    library = cmake_build / "libdeepinit_ops.so"
    subprocess.run([sys.executable, "-c", SCRIPT, str(library), str(out)], check=True)
    expected = deepinit.trunc_normal_(torch.empty(1000), seed=77, offset=5)
    assert torch.equal(torch.load(out), expected)
