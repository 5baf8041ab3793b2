// The fills' kernels for the dispatch keys above and beside the backends: autograd (no history),
// the in-place bookkeeping (the version counter), and the layouts that have no dense elements
// to fill (sparse, quantized, nested), which are refused with the layout named. Boxed kernels,
// the same for every fill.
#include <ATen/core/LegacyTypeDispatch.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/library.h>

#include <string>

#include "fill_op.h"

namespace deepinit {
namespace {

// The tensor a fill fills: its first argument, below the others on the stack.
const at::Tensor& filled_tensor(const c10::OperatorHandle& op, const torch::jit::Stack* stack) {
  return (*stack)[stack->size() - op.schema().arguments().size()].toTensor();
}

// Sparse, quantized and nested tensors have no dense elements to fill in stream order.
[[noreturn]] void refuse_layout(const c10::OperatorHandle& op, const at::Tensor& self) {
  std::string kind;
  if (self.is_quantized()) {
    kind = "quantized";
  } else if (self.is_nested()) {
    kind = "nested";
  } else {
    // As Python prints them.
    switch (self.layout()) {
      case at::kSparse: kind = "torch.sparse_coo"; break;
      case at::kSparseCsr: kind = "torch.sparse_csr"; break;
      case at::kSparseCsc: kind = "torch.sparse_csc"; break;
      case at::kSparseBsr: kind = "torch.sparse_bsr"; break;
      case at::kSparseBsc: kind = "torch.sparse_bsc"; break;
      default: kind = c10::str(self.layout());
    }
  }
  const std::string& name = op.schema().name();
  TORCH_CHECK_NOT_IMPLEMENTED(false, "deepinit.", name.substr(name.find("::") + 2),
                              ": tensor must be a dense (strided) tensor, but it is ", kind);
}

void refuse_layout_kernel(const c10::OperatorHandle& op, c10::DispatchKeySet, torch::jit::Stack* stack) {
  refuse_layout(op, filled_tensor(op, stack));
}

// Initialisation is not differentiable: the fills record no autograd history (torch.nn.init runs
// its fills under no_grad), so a parameter that requires grad can be filled without a no_grad
// block, and a Python caller pays for none. Nested tensors are refused here, before a Python
// subclass of them (torch.jagged) would answer for itself.
void fill_below_autograd(const c10::OperatorHandle& op, c10::DispatchKeySet keys, torch::jit::Stack* stack) {
  if (filled_tensor(op, stack).is_nested()) {
    refuse_layout(op, filled_tensor(op, stack));
  }
  at::AutoDispatchBelowAutograd guard;
  op.redispatchBoxed(keys & c10::after_autograd_keyset, stack);
}

// Like every in-place op, a fill bumps the version counter of `self`, so that autograd refuses
// a backward pass through a tensor that a fill overwrote after it was saved.
void fill_and_bump_version(const c10::OperatorHandle& op, c10::DispatchKeySet keys, torch::jit::Stack* stack) {
  const at::Tensor self = filled_tensor(op, stack);
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    op.redispatchBoxed(keys & c10::after_ADInplaceOrView_keyset, stack);
  }
  torch::autograd::impl::bump_version(self);
}

template <auto Kernel>
void register_for_every_fill(torch::Library& m) {
  for (const std::string& name : fill_names()) {
    m.impl(name.c_str(), torch::CppFunction::makeFromBoxedFunction<Kernel>());
  }
}

}  // namespace
}  // namespace deepinit

TORCH_LIBRARY_IMPL(deepinit, Autograd, m) { deepinit::register_for_every_fill<&deepinit::fill_below_autograd>(m); }
TORCH_LIBRARY_IMPL(deepinit, ADInplaceOrView, m) {
  deepinit::register_for_every_fill<&deepinit::fill_and_bump_version>(m);
}
#define DEEPINIT_REFUSE_LAYOUT(key) \
  TORCH_LIBRARY_IMPL(deepinit, key, m) { deepinit::register_for_every_fill<&deepinit::refuse_layout_kernel>(m); }
DEEPINIT_REFUSE_LAYOUT(SparseCPU)
DEEPINIT_REFUSE_LAYOUT(SparseCUDA)
DEEPINIT_REFUSE_LAYOUT(SparseCsrCPU)
DEEPINIT_REFUSE_LAYOUT(SparseCsrCUDA)
DEEPINIT_REFUSE_LAYOUT(QuantizedCPU)
DEEPINIT_REFUSE_LAYOUT(QuantizedCUDA)
DEEPINIT_REFUSE_LAYOUT(NestedTensorCPU)
DEEPINIT_REFUSE_LAYOUT(NestedTensorCUDA)
#undef DEEPINIT_REFUSE_LAYOUT
