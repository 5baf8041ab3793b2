// Every deepinit op schema, in one place. Backends register implementations with
// TORCH_LIBRARY_IMPL (csrc/cpu, csrc/cuda); fake kernels live in deepinit/_ops.py.
//
// The fills mutate `self` and return nothing: an aliased Tensor(a!) return would keep
// torch.compile's functionalization (and opcheck) from handling them. The Python API returns
// the tensor. Like torch.nn.init's functions, they record no autograd history and bump the
// version counter of `self` (csrc/fill.cpp). seed and offset are the two's complement of 64-bit unsigned values; global_shape
// and start make self a window of a larger logical tensor (docs/stream.md).
#include <torch/library.h>

namespace deepinit {
// The CUDA runtime version this library was compiled against (e.g. 13000), or -1 without CUDA.
#if defined(DEEPINIT_WITH_CUDA)
int64_t compiled_cuda_version();  // csrc/cuda/fill_cuda.cu
#else
int64_t compiled_cuda_version() { return -1; }
#endif
}  // namespace deepinit

TORCH_LIBRARY(deepinit, m) {
  m.def(
      "uniform_(Tensor(a!) self, float low=0., float high=1., *, int? seed=None, int offset=0, "
      "Generator? generator=None, int[]? global_shape=None, int[]? start=None) -> ()");
  m.def(
      "normal_(Tensor(a!) self, float mean=0., float std=1., *, int? seed=None, int offset=0, "
      "Generator? generator=None, int[]? global_shape=None, int[]? start=None) -> ()");
  m.def(
      "trunc_normal_(Tensor(a!) self, float mean=0., float std=1., float a=-2., float b=2., *, int? seed=None, "
      "int offset=0, Generator? generator=None, int[]? global_shape=None, int[]? start=None) -> ()");
  // The stream of a Python path that splits one draw between several fills (sparse_):
  // [seed, position of the first element], from seed= and offset= as given, or drawn from the
  // generator (or the default generator of self's device) by the rule of self's fills, as a fill
  // of `counters` Philox counters would draw it.
  m.def("_stream_start(Tensor self, int counters, *, int? seed=None, int offset=0, Generator? generator=None) -> int[]");
  // Whether a generator on device `generator` may fill a tensor on device `tensor`.
  m.def("_generator_serves(Device generator, Device tensor) -> bool");
  // Which CPU kernel runs ("avx512vl", "avx2" or "scalar"); returns the previous choice. For tests and
  // benchmarks that compare instruction sets.
  m.def("_set_cpu_capability(str capability) -> str");
  m.def("_cpu_capability() -> str");
  m.def("_compiled_cuda_version() -> int", &deepinit::compiled_cuda_version);
}
