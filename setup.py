"""Builds deepinit._C with torch.utils.cpp_extension and ninja.

CUDA kernels (csrc/cuda/*.cu) compile whenever nvcc and a CUDA build of torch are present,
with or without a GPU. DEEPINIT_FORCE_CUDA=1 / DEEPINIT_NO_CUDA=1 override that choice,
TORCH_CUDA_ARCH_LIST picks the GPU targets (default 8.0;9.0), DEBUG=1 builds with -O0 -g (release builds carry no debug info), and
DEEPINIT_SANITIZE=address,undefined instruments the C++ (docs/guarantees.md says how to run it).
"""

import glob
import os

import torch
from setuptools import find_packages, setup
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

ROOT = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"


def want_cuda() -> bool:
    if os.environ.get("DEEPINIT_NO_CUDA") == "1":
        return False
    if os.environ.get("DEEPINIT_FORCE_CUDA") == "1":
        return True
    return torch.version.cuda is not None and CUDA_HOME is not None


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


setup(
    packages=find_packages(include=["deepinit", "deepinit.*"]),
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExtension},
    options={"bdist_wheel": {"py_limited_api": "cp39"}},
)
