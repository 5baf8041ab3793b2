#include "fill_op.h"

#include <algorithm>

#include "torch_dtypes.h"

namespace deepinit {
namespace {

template <template <class> class Params>
const char* name_of(LawTag<Params>) {
  return Law<Params>::kName;
}

template <template <class> class Params>
void check_law(LawTag<Params>, c10::ScalarType dtype, at::IntArrayRef sizes, at::IntArrayRef strides,
               c10::Device device, at::ArrayRef<double> params, StreamArgs stream) {
  FillKernel<Params>::check(dtype, sizes, strides, device, params, std::move(stream));
}

// Sizes and strides of a fake tensor, which may be symbolic: the checks need their values.
std::vector<int64_t> concrete(c10::SymIntArrayRef values) {
  std::vector<int64_t> result;
  result.reserve(values.size());
  for (const c10::SymInt& value : values) {
    result.push_back(value.guard_int(__FILE__, __LINE__));
  }
  return result;
}

}  // namespace

OutDtype check_target(c10::ScalarType dtype, at::IntArrayRef sizes, at::IntArrayRef strides, const char* op) {
  // at::has_internal_overlap's certain case: a dim of stride 0 that holds several elements (of a
  // tensor that has elements).
  const bool empty = std::find(sizes.begin(), sizes.end(), 0) != sizes.end();
  for (size_t d = 0; d < sizes.size() && !empty; ++d) {
    TORCH_CHECK(!(strides[d] == 0 && sizes[d] > 1), "deepinit.", op,
                ": tensor has elements that share memory (an expanded or stride-0 view); "
                "filling it would write some locations more than once. Call .contiguous() or .clone() first.");
  }
  return out_dtype_of(dtype, op);
}

std::vector<std::string> fill_names() {
  std::vector<std::string> names;
  for_each_law([&](auto law) { names.emplace_back(name_of(law)); });
  return names;
}

void check_fill(const std::string& name, c10::ScalarType dtype, c10::Device device, c10::SymIntArrayRef sizes,
                c10::SymIntArrayRef strides, at::ArrayRef<double> params, std::optional<int64_t> seed, int64_t offset,
                std::optional<at::Generator> generator, at::OptionalIntArrayRef global_shape,
                at::OptionalIntArrayRef start, const std::optional<at::Tensor>& rows) {
  const std::vector<int64_t> concrete_sizes = concrete(sizes);
  const std::vector<int64_t> concrete_strides = concrete(strides);
  bool found = false;
  for_each_law([&](auto law) {
    if (!found && name == name_of(law)) {
      found = true;
      check_law(law, dtype, concrete_sizes, concrete_strides, device, params,
                StreamArgs{seed, offset, generator, global_shape, start, rows});
    }
  });
  TORCH_CHECK(found, "deepinit: no fill named ", name);
}

}  // namespace deepinit
