"""Builds deepinit._C with torch.utils.cpp_extension and ninja.

CUDA kernels (csrc/cuda/*.cu) compile whenever a CUDA build of torch and a CUDA toolkit (nvcc
and the runtime library, in torch's CUDA_HOME) are present, with or without a GPU; a CUDA_HOME
that lacks them makes a CPU build, and says so in one line. DEEPINIT_FORCE_CUDA=1 / DEEPINIT_NO_CUDA=1 override that choice,
TORCH_CUDA_ARCH_LIST picks the GPU targets (default 8.0;9.0), DEBUG=1 builds with -O0 -g (release builds carry no debug info), and
DEEPINIT_SANITIZE=address,undefined instruments the C++ (docs/guarantees.md says how to run it).
"""

import glob
import os
import sys

from setuptools import find_packages, setup

try:
    import torch
except ImportError:
    # pip's default isolated build environment holds only build-system.requires, and torch is left
    # out of it on purpose: the extension must be built against the torch it will run with.
    sys.exit("deepinit: the build found no torch: add --no-build-isolation to build against the torch you installed "
             "(`pip install --no-build-isolation .`; pip's isolated build environment holds none, on purpose)")
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

ROOT = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"


def cuda_toolkit_missing():
    """What torch's CUDA_HOME lacks for the CUDA kernels (nvcc, and the runtime library the link
    asks for with -lcudart), or None. torch guesses CUDA_HOME from the nvcc on PATH, which may be
    a wrapper outside any toolkit."""
    if not os.path.exists(os.path.join(CUDA_HOME, "bin", "nvcc")):
        return "no bin/nvcc"
    libraries = [os.path.join(CUDA_HOME, d, "libcudart.so*") for d in ("lib64", "lib", "targets/x86_64-linux/lib")]
    if not any(glob.glob(pattern) for pattern in libraries):
        return "no libcudart in lib64/"
    return None


def want_cuda() -> bool:
    if os.environ.get("DEEPINIT_NO_CUDA") == "1":
        return False
    if os.environ.get("DEEPINIT_FORCE_CUDA") == "1":
        return True
    if torch.version.cuda is None or CUDA_HOME is None:
        return False
    missing = cuda_toolkit_missing()
    if missing:
        print(f"deepinit: building the CPU kernels only: CUDA_HOME={CUDA_HOME} is not a CUDA toolkit ({missing}); "
              "set CUDA_HOME to one (e.g. /usr/local/cuda) for the CUDA kernels, or DEEPINIT_NO_CUDA=1", file=sys.stderr)
        return False
    return True


def cuda_include_dirs():
    # ATen's CUDA headers include curand/cublas headers that CUDA 13 wheels of torch ship in
    # site-packages/nvidia/cu13/include rather than in the toolkit.
    site = os.path.dirname(os.path.dirname(torch.__file__))
    return [d for d in glob.glob(os.path.join(site, "nvidia", "cu*", "include")) if os.path.isdir(d)]


def extensions():
    debug = os.environ.get("DEBUG") == "1"
    # Release builds carry no debug info: Python's own CFLAGS hold -g, which made a 70 MB library
    # of about 4 MB of code; the last of -g / -g0 wins.
    opt = ["-O0", "-g"] if debug else ["-O3", "-g0"]
    # No contraction of a*b+c into fused multiply-adds: the stream contract's values depend on
    # every backend rounding each operation the same way.
    # -fopenmp: at::parallel_for runs its OpenMP loop from inline headers, so without it every
    # fill would run on one thread. The runtime is torch's own libgomp, resolved at load time.
    cxx = opt + ["-ffp-contract=off", "-fno-fast-math", "-fopenmp"]
    link = [] if debug else ["-Wl,--strip-debug"]
    sanitize = os.environ.get("DEEPINIT_SANITIZE")
    if sanitize:
        # -O0: instrumented at -O1, the SIMD units took 15 minutes to build on 2 cores (GCC 12),
        # at -O0 two; the Python tests of the fills use small tensors.
        cxx = ["-O0"] + [f for f in cxx[1:] if f != "-g0"]
        cxx += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all", "-g1"]
        link = [f"-fsanitize={sanitize}"]
    sources = sorted(glob.glob(os.path.join(CSRC, "*.cpp")) + glob.glob(os.path.join(CSRC, "cpu", "*.cpp")))
    include_dirs = [os.path.join(ROOT, CSRC)]
    kwargs = dict(py_limited_api=True, include_dirs=include_dirs, extra_link_args=link)
    cu_sources = sorted(glob.glob(os.path.join(CSRC, "cuda", "*.cu")))
    if want_cuda() and cu_sources:
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0")
        nvcc = (["-O0", "-g"] if debug else ["-O3", "-Xcompiler", "-g0"]) + [
            "--fmad=false", "-Xcompiler", "-ffp-contract=off", "-DDEEPINIT_WITH_CUDA"]
        return [
            CUDAExtension(
                "deepinit._C",
                sources + cu_sources,
                extra_compile_args={"cxx": cxx + ["-DDEEPINIT_WITH_CUDA"], "nvcc": nvcc},
                **{**kwargs, "include_dirs": include_dirs + cuda_include_dirs()},
            )
        ]
    return [CppExtension("deepinit._C", sources, extra_compile_args={"cxx": cxx}, **kwargs)]


def torch_requirement() -> str:
    """The torch release the extension was built against, which is the only one it can load in:
    it registers its ops through TORCH_LIBRARY, on torch's C++ ABI. (LibTorch's stable ABI, which
    later releases keep, offers no access to a generator's state: no random64() under the
    generator's lock for the CPU rule, no philox_cuda_state for CUDA's counters and graphs.)"""
    return f"torch=={torch.__version__.split('+')[0]}"


setup(
    packages=find_packages(include=["deepinit", "deepinit.*"]),
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExtension},
    install_requires=[torch_requirement(), "numpy"],  # numpy: the .npy/.safetensors table writer
    # The library uses no Python C API (ops are loaded by torch), so one wheel serves every
    # CPython from requires-python's 3.10 on.
    options={"bdist_wheel": {"py_limited_api": "cp310"}},
)
