#include "fill.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <torch/csrc/autograd/variable.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>
#include <limits>
#include <mutex>
#include <string>

namespace deepinit {
namespace {

// "torch.int64", as Python users know the dtype.
std::string dtype_name(at::ScalarType type) { return "torch." + std::string(c10::getDtypeNames(type).first); }

OutDtype check_target(const at::Tensor& self, const char* op) {
  TORCH_CHECK(self.layout() == at::kStrided, "deepinit.", op, ": tensor must be dense (strided), but it has layout ",
              self.layout());
  TORCH_CHECK(!self.is_quantized(), "deepinit.", op, ": tensor must not be quantized");
  TORCH_CHECK(at::has_internal_overlap(self) != at::MemOverlap::Yes, "deepinit.", op,
              ": tensor has elements that share memory (an expanded or stride-0 view); "
              "filling it would write some locations more than once. Call .contiguous() or .clone() first.");
  switch (self.scalar_type()) {
    case at::kFloat:
      return OutDtype::kFloat32;
    case at::kDouble:
      return OutDtype::kFloat64;
    case at::kHalf:
      return OutDtype::kFloat16;
    case at::kBFloat16:
      return OutDtype::kBFloat16;
    default:
      TORCH_CHECK(false, "deepinit.", op, ": tensor has dtype ", dtype_name(self.scalar_type()),
                  ", but only float32, float64, float16 and bfloat16 tensors can be filled");
  }
}

void check_finite(double value, const char* op, const char* name) {
  TORCH_CHECK(std::isfinite(value), "deepinit.", op, ": ", name, " must be finite, but got ", value);
}

template <class Transform>
FillJob make_job(FillKind kind, OutDtype dtype, const Transform& transform) {
  FillJob job{};
  job.kind = kind;
  job.dtype = dtype;
  store_transform(job, transform);
  return job;
}

// A 16-bit float one step up or down, by its bits (sign-magnitude order).
template <class Half16>
Half16 step16(Half16 h, bool up) {
  const uint16_t bits = h.x;
  const bool negative = bits & 0x8000;
  uint16_t next;
  if ((bits & 0x7fff) == 0) {
    next = up ? 0x0001 : 0x8001;
  } else {
    next = (negative != up) ? bits + 1 : bits - 1;
  }
  return Half16(next, Half16::from_bits());
}

template <class Half16>
double round_to_16bit(double x, bool up) {
  Half16 h(static_cast<float>(x));
  // The conversion went through float, so step until h is the first value on the right side.
  while (up ? static_cast<double>(static_cast<float>(h)) < x : static_cast<double>(static_cast<float>(h)) > x) {
    h = step16(h, up);
  }
  for (Half16 closer = step16(h, !up); up ? static_cast<double>(static_cast<float>(closer)) >= x
                                          : static_cast<double>(static_cast<float>(closer)) <= x;
       closer = step16(h, !up)) {
    h = closer;
  }
  return static_cast<float>(h);
}

// The dtype's closest value on the inner side of bound x (up: smallest >= x; else largest <= x).
double round_inward(double x, OutDtype dtype, bool up) {
  if (std::isinf(x)) {
    return x;
  }
  switch (dtype) {
    case OutDtype::kFloat64:
      return x;
    case OutDtype::kFloat32: {
      float f = static_cast<float>(x);
      if (up ? f < x : f > x) {
        f = std::nextafter(f, up ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity());
      }
      return f;
    }
    case OutDtype::kFloat16:
      return round_to_16bit<c10::Half>(x, up);
    case OutDtype::kBFloat16:
      return round_to_16bit<c10::BFloat16>(x, up);
  }
  return x;
}

}  // namespace

FillJob plan_uniform(const at::Tensor& self, double low, double high) {
  const OutDtype dtype = check_target(self, "uniform_");
  check_finite(low, "uniform_", "low");
  check_finite(high, "uniform_", "high");
  TORCH_CHECK(low <= high, "deepinit.uniform_: low must not exceed high, but got low=", low, " > high=", high);
  const double span = high - low;
  if (dtype == OutDtype::kFloat64) {
    TORCH_CHECK(std::isfinite(span), "deepinit.uniform_: high - low overflows float64");
    return make_job(FillKind::kUniform, dtype, core::UniformTransform<double>{low, span});
  }
  TORCH_CHECK(std::isfinite(static_cast<float>(span)), "deepinit.uniform_: high - low = ", span,
              " overflows float32, in which ", dtype_name(self.scalar_type()), " fills are computed");
  return make_job(FillKind::kUniform, dtype,
                  core::UniformTransform<float>{static_cast<float>(low), static_cast<float>(span)});
}

FillJob plan_normal(const at::Tensor& self, double mean, double std) {
  const OutDtype dtype = check_target(self, "normal_");
  check_finite(mean, "normal_", "mean");
  check_finite(std, "normal_", "std");
  TORCH_CHECK(std >= 0.0, "deepinit.normal_: std must be >= 0, but got std=", std);
  if (dtype == OutDtype::kFloat64) {
    return make_job(FillKind::kNormal, dtype, core::NormalTransform<double>{mean, std});
  }
  return make_job(FillKind::kNormal, dtype,
                  core::NormalTransform<float>{static_cast<float>(mean), static_cast<float>(std)});
}

FillJob plan_trunc_normal(const at::Tensor& self, double mean, double std, double a, double b) {
  const OutDtype dtype = check_target(self, "trunc_normal_");
  // std > 0 first, so that a NaN std is the ValueError that torch's division by it would give.
  TORCH_CHECK_VALUE(std > 0.0, "deepinit.trunc_normal_: std must be positive, but got std=", std);
  check_finite(mean, "trunc_normal_", "mean");
  check_finite(std, "trunc_normal_", "std");
  TORCH_CHECK(!std::isnan(a) && !std::isnan(b), "deepinit.trunc_normal_: bounds a and b must not be NaN");
  TORCH_CHECK(a < b, "deepinit.trunc_normal_: a must be less than b, but got a=", a, ", b=", b);
  const double lo = round_inward(a, dtype, /*up=*/true);
  const double hi = round_inward(b, dtype, /*up=*/false);
  // A finite bound past the dtype's largest value leaves only an infinity, which is no value.
  const bool admits_a_value = lo <= hi && lo != std::numeric_limits<double>::infinity() &&
                              hi != -std::numeric_limits<double>::infinity();
  TORCH_CHECK(admits_a_value, "deepinit.trunc_normal_: no ", dtype_name(self.scalar_type()), " value lies in [a, b] = [",
              a, ", ", b, "]");
  if (dtype == OutDtype::kFloat64) {
    return make_job(FillKind::kTruncatedNormal, dtype,
                    core::TruncatedNormalTransform<double>{core::plan_truncated_normal<double>(mean, std, a, b, lo, hi)});
  }
  return make_job(FillKind::kTruncatedNormal, dtype,
                  core::TruncatedNormalTransform<float>{core::plan_truncated_normal<float>(mean, std, a, b, lo, hi)});
}

void check_stream_request(const at::Tensor& self, const StreamRequest& stream) {
  TORCH_CHECK_VALUE(!(stream.seed.has_value() && stream.generator.has_value() && stream.generator->defined()),
                    "deepinit: pass either seed= or generator=, not both");
  TORCH_CHECK_VALUE(stream.seed.has_value() || stream.offset == 0,
                    "deepinit: offset= needs seed=: with a generator the stream position comes from the generator");
  TORCH_CHECK_VALUE(stream.global_shape.has_value() == stream.start.has_value(),
                    "deepinit: a window needs both global_shape= and start=");
  if (!stream.global_shape.has_value()) {
    return;
  }
  const auto& shape = *stream.global_shape;
  const auto& start = *stream.start;
  TORCH_CHECK(
      static_cast<int64_t>(shape.size()) == self.dim() && static_cast<int64_t>(start.size()) == self.dim(),
      "deepinit: global_shape= and start= need one entry per dim of the tensor (", self.dim(), "), but got ",
      shape.size(), " and ", start.size());
  for (int64_t d = 0; d < self.dim(); ++d) {
    TORCH_CHECK(start[d] >= 0 && shape[d] >= 0 && start[d] + self.size(d) <= shape[d],
                "deepinit: the window does not fit global_shape in dim ", d, ": start ", start[d], " + size ",
                self.size(d), " > ", shape[d]);
  }
}

uint64_t logical_numel(const at::Tensor& self, const StreamRequest& stream) {
  if (!stream.global_shape.has_value()) {
    return static_cast<uint64_t>(self.numel());
  }
  uint64_t n = 1;
  for (const int64_t size : *stream.global_shape) {
    n *= static_cast<uint64_t>(size);
  }
  return n;
}

bool generator_serves(c10::Device generator, c10::Device tensor) {
  return generator.type() == tensor.type() &&
         (!generator.has_index() || !tensor.has_index() || generator.index() == tensor.index());
}

void check_generator_device(const at::Generator& generator, const at::Tensor& self) {
  TORCH_CHECK(generator_serves(generator.device(), self.device()), "deepinit: generator is on ", generator.device(),
              " but the tensor is on ", self.device());
}

GeneratorStart cpu_generator_start(const std::optional<at::Generator>& generator) {
  auto* impl = at::get_generator_or_default<at::CPUGeneratorImpl>(generator, at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(impl->mutex_);
  return {impl->random64(), 0};  // a fresh key per call: calls never share a stream
}

StreamRequest stream_request(const at::Tensor& self, std::optional<int64_t> seed, int64_t offset,
                             std::optional<at::Generator> generator, at::OptionalIntArrayRef global_shape,
                             at::OptionalIntArrayRef start) {
  StreamRequest stream{seed, offset, std::move(generator), std::nullopt, std::nullopt};
  if (global_shape.has_value()) {
    stream.global_shape = global_shape->vec();
  }
  if (start.has_value()) {
    stream.start = start->vec();
  }
  check_stream_request(self, stream);
  if (stream.generator.has_value() && stream.generator->defined()) {
    check_generator_device(*stream.generator, self);
  }
  return stream;
}

ElementPositions element_positions(const at::Tensor& self, const StreamRequest& stream) {
  const int64_t ndim = self.dim();
  ElementPositions positions{static_cast<uint64_t>(stream.offset), std::vector<int64_t>(ndim)};
  const auto& shape = stream.global_shape.has_value() ? *stream.global_shape : self.sizes().vec();
  uint64_t stride = 1;  // row-major strides of the logical tensor, modulo 2^64 like g itself
  for (int64_t d = ndim - 1; d >= 0; --d) {
    positions.strides[d] = static_cast<int64_t>(stride);
    if (stream.start.has_value()) {
      positions.base += static_cast<uint64_t>((*stream.start)[d]) * stride;
    }
    stride *= static_cast<uint64_t>(shape[d]);
  }
  return positions;
}

RowLayout row_layout(const at::Tensor& self, const ElementPositions& positions) {
  RowLayout layout{};
  int64_t sizes[RowLayout::kMaxDims + 1], memory[RowLayout::kMaxDims + 1], stream[RowLayout::kMaxDims + 1];
  int dims = 0;
  for (int64_t d = 0; d < self.dim(); ++d) {
    const int64_t size = self.size(d);
    if (size == 1) {
      continue;
    }
    if (dims > 0 && memory[dims - 1] == self.stride(d) * size && stream[dims - 1] == positions.strides[d] * size) {
      sizes[dims - 1] *= size;
      memory[dims - 1] = self.stride(d);
      stream[dims - 1] = positions.strides[d];
      continue;
    }
    sizes[dims] = size;
    memory[dims] = self.stride(d);
    stream[dims] = positions.strides[d];
    ++dims;
  }
  // Rows run along the stream: unless the innermost dim left moves it by 1 (a window whose last
  // dims are of size 1 here but not in the logical tensor, or a single element), rows are single
  // elements.
  if (dims == 0 || stream[dims - 1] != 1) {
    sizes[dims] = 1;
    memory[dims] = 1;
    stream[dims] = 1;
    ++dims;
  }
  layout.length = sizes[dims - 1];
  layout.row_stride = memory[dims - 1];
  layout.outer_dims = dims - 1;
  layout.count = 1;
  for (int d = 0; d < dims - 1; ++d) {
    layout.sizes[d] = sizes[d];
    layout.memory_strides[d] = memory[d];
    layout.stream_strides[d] = stream[d];
    layout.count *= sizes[d];
  }
  return layout;
}

void set_key(FillJob& job, uint64_t seed) {
  const core::PhiloxKey key = core::philox_key_from_seed(seed);
  job.key0 = key.k0;
  job.key1 = key.k1;
}

namespace {

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

const at::Tensor& self_of(const c10::OperatorHandle& op, const torch::jit::Stack* stack) {
  return (*stack)[stack->size() - op.schema().arguments().size()].toTensor();
}

void refuse_layout_kernel(const c10::OperatorHandle& op, c10::DispatchKeySet, torch::jit::Stack* stack) {
  refuse_layout(op, self_of(op, stack));
}

// Initialisation is not differentiable: the fills record no autograd history (torch.nn.init runs
// its fills under no_grad), so a parameter that requires grad can be filled without a no_grad
// block, and a Python caller pays for none. Nested tensors are refused here, before a Python
// subclass of them (torch.jagged) would answer for itself.
void fill_below_autograd(const c10::OperatorHandle& op, c10::DispatchKeySet keys, torch::jit::Stack* stack) {
  if (self_of(op, stack).is_nested()) {
    refuse_layout(op, self_of(op, stack));
  }
  at::AutoDispatchBelowAutograd guard;
  op.redispatchBoxed(keys & c10::after_autograd_keyset, stack);
}

// Like every in-place op, a fill bumps the version counter of `self`, so that autograd refuses
// a backward pass through a tensor that a fill overwrote after it was saved.
void fill_and_bump_version(const c10::OperatorHandle& op, c10::DispatchKeySet keys, torch::jit::Stack* stack) {
  const at::Tensor self = self_of(op, stack);
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    op.redispatchBoxed(keys & c10::after_ADInplaceOrView_keyset, stack);
  }
  torch::autograd::impl::bump_version(self);
}

std::vector<int64_t> stream_start(const at::Tensor& self, int64_t counters, std::optional<int64_t> seed,
                                  int64_t offset, std::optional<at::Generator> generator) {
  const StreamRequest stream = stream_request(self, seed, offset, std::move(generator), std::nullopt, std::nullopt);
  TORCH_CHECK_VALUE(counters >= 0, "deepinit._stream_start: counters must be >= 0, but got ", counters);
  if (stream.seed.has_value()) {
    return {*stream.seed, stream.offset};
  }
  GeneratorStart start;
  if (self.is_cpu()) {
    start = cpu_generator_start(stream.generator);
  } else {
#if defined(DEEPINIT_WITH_CUDA)
    TORCH_CHECK(self.is_cuda(), "deepinit: no stream rule for device ", self.device());
    start = cuda_generator_start(stream.generator, self.device(), static_cast<uint64_t>(counters));
#else
    TORCH_CHECK(false, "deepinit: no stream rule for device ", self.device(), " (built without CUDA)");
#endif
  }
  const uint64_t per_counter = self.scalar_type() == at::kDouble ? 2 : 4;
  return {static_cast<int64_t>(start.seed), static_cast<int64_t>(start.counter * per_counter)};
}

template <auto Kernel>
void register_for_every_fill(torch::Library& m) {
  for (const char* name : {"uniform_", "normal_", "trunc_normal_"}) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<Kernel>());
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

TORCH_LIBRARY_IMPL(deepinit, CatchAll, m) {
  m.impl("_stream_start", &deepinit::stream_start);
  m.impl("_generator_serves", &deepinit::generator_serves);
}
