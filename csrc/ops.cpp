// Every deepinit op schema, in one place: the fills, made from the law catalog (fill_op.h), and the
// helpers of the Python layer and the tests. Backends register the fills' kernels with
// TORCH_LIBRARY_IMPL (csrc/cpu, csrc/cuda, dispatch_keys.cpp); the fakes live in deepinit/_ops.py.
//
// The fills mutate `self` and return nothing: an aliased Tensor(a!) return would keep
// torch.compile's functionalization (and opcheck) from handling them. The Python API returns
// the tensor. Like torch.nn.init's functions, they record no autograd history and bump the
// version counter of `self` (dispatch_keys.cpp). seed and offset are the two's complement of
// 64-bit unsigned values; global_shape and start make self a window of a larger logical tensor,
// and rows picks its rows by id (docs/stream.md, docs/sharding.md).
#include <torch/library.h>

#include "cpu/capability.h"
#include "fill_op.h"
#include "torch_dtypes.h"

namespace deepinit {
#if defined(DEEPINIT_WITH_CUDA)
int64_t cuda_runtime_version();  // csrc/cuda/fill_cuda.cu
#endif

namespace {

// The CUDA runtime version this library was compiled against (e.g. 13000), or -1 without CUDA.
int64_t compiled_cuda_version() {
#if defined(DEEPINIT_WITH_CUDA)
  return cuda_runtime_version();
#else
  return -1;
#endif
}

template <template <class> class Params>
void define_fill(torch::Library& m, LawTag<Params>) {
  m.def(fill_schema<Params>().c_str());
}

// _split_stream: a fill of `numel` elements of tensor's dtype on its device, then optionally a
// fill of all of `then`, from one reservation (StreamSource::split).
std::vector<int64_t> split_stream(const at::Tensor& tensor, int64_t numel, const std::optional<at::Tensor>& then,
                                  std::optional<int64_t> seed, int64_t offset, std::optional<at::Generator> generator) {
  const StreamRequest request = check_stream({}, tensor.device(), StreamArgs{seed, offset, std::move(generator)});
  std::vector<OutDtype> dtypes{out_dtype_of(tensor.scalar_type(), "_split_stream")};
  std::vector<int64_t> numels{numel};
  if (then.has_value()) {
    dtypes.push_back(out_dtype_of(then->scalar_type(), "_split_stream"));
    numels.push_back(then->numel());
  }
  return request.source(tensor.device()).split(request.offset, dtypes, numels);
}

// The output dtypes' names, in OutDtype's order (for the Python layer's list of them).
std::vector<std::string> dtype_names() {
  std::vector<std::string> names;
  for_each_dtype([&](auto tag) { names.emplace_back(DtypeTraits<decltype(tag)::value>::kName); });
  return names;
}

}  // namespace
}  // namespace deepinit

TORCH_LIBRARY(deepinit, m) {
  deepinit::for_each_law([&](auto law) { deepinit::define_fill(m, law); });
  // The fakes' checks: what the fill `name` would raise for this tensor and these arguments.
  m.def(
      "_check_fill(str name, ScalarType dtype, Device device, SymInt[] sizes, SymInt[] strides, float[] params, *, "
      "int? seed=None, int offset=0, Generator? generator=None, int[]? global_shape=None, int[]? start=None, "
      "Tensor? rows=None) -> ()",
      &deepinit::check_fill);
  m.def("_fill_names() -> str[]", &deepinit::fill_names);
  // The stream of a Python path that splits one reservation between two consecutive fills on the
  // device of `tensor` (sparse_: the values, then the keys; a DTensor's several local shards):
  // [key, first position of a fill of `numel` elements of tensor's dtype, first position of a
  // fill of all of `then` after it], from seed= and offset= as given, or reserved from the
  // generator (or the default generator of the device) by the rule of the device's fills, once
  // for both. (Tensors name the dtypes and the device: they cost a call less than lists and a
  // Device would.)
  m.def(
      "_split_stream(Tensor tensor, int numel, Tensor? then=None, *, int? seed=None, int offset=0, "
      "Generator? generator=None) -> int[]",
      &deepinit::split_stream);
  m.def("_dtype_names() -> str[]", &deepinit::dtype_names);
  // Whether a generator on device `generator` may fill a tensor on device `tensor`.
  m.def("_generator_serves(Device generator, Device tensor) -> bool", &deepinit::generator_serves);
  // Which CPU kernel runs ("avx512vl", "avx2" or "scalar"); returns the previous choice. For tests and
  // benchmarks that compare instruction sets.
  m.def("_set_cpu_capability(str capability) -> str", &deepinit::cpu::set_cpu_capability);
  m.def("_cpu_capability() -> str", &deepinit::cpu::cpu_capability);
  m.def("_compiled_cuda_version() -> int", &deepinit::compiled_cuda_version);
}
