#include "stream_start.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <mutex>
#include <string>

namespace deepinit {
namespace {

// "torch.int64", as Python users know the dtype.
std::string scalar_type_name(c10::ScalarType type) {
  return "torch." + std::string(c10::getDtypeNames(type).first);
}

void check_rows(at::IntArrayRef sizes, c10::Device device, const at::Tensor& rows) {
  TORCH_CHECK_TYPE(rows.scalar_type() == c10::kLong, "deepinit: rows= must be a tensor of int64 ids, but it has dtype ",
                   scalar_type_name(rows.scalar_type()));
  TORCH_CHECK_VALUE(rows.device() == device, "deepinit: rows= is on ", rows.device(), " but the tensor is on ", device);
  TORCH_CHECK_VALUE(rows.dim() == 1, "deepinit: rows= must be a 1-d tensor of ids, but it has ", rows.dim(), " dims");
  TORCH_CHECK_VALUE(!sizes.empty() && rows.size(0) == sizes[0], "deepinit: rows= holds ", rows.size(0),
                    " ids, but the tensor has ", sizes.empty() ? 0 : sizes[0], " rows (one id per row of dim 0)");
}

void check_window(at::IntArrayRef sizes, c10::Device device, StreamRequest& request) {
  if (request.rows.has_value()) {
    TORCH_CHECK_VALUE(request.global_shape.has_value(),
                      "deepinit: rows= needs global_shape=, the shape of the table the ids pick rows of");
    check_rows(sizes, device, *request.rows);
    if (!request.start.has_value()) {
      request.start = std::vector<int64_t>(sizes.size(), 0);
    }
  }
  TORCH_CHECK_VALUE(request.global_shape.has_value() == request.start.has_value(),
                    "deepinit: a window needs both global_shape= and start=");
  if (!request.global_shape.has_value()) {
    return;
  }
  const auto& shape = *request.global_shape;
  const auto& start = *request.start;
  const auto dims = static_cast<int64_t>(sizes.size());
  TORCH_CHECK(static_cast<int64_t>(shape.size()) == dims && static_cast<int64_t>(start.size()) == dims,
              "deepinit: global_shape= and start= need one entry per dim of the tensor (", dims, "), but got ",
              shape.size(), " and ", start.size());
  if (request.keyed()) {
    TORCH_CHECK_VALUE(request.rows.has_value(),
                      "deepinit: a keyed table (global_shape with None rows) is filled by rows= only");
    TORCH_CHECK_VALUE(request.seed.has_value(),
                      "deepinit: a keyed table (global_shape with None rows) needs seed=: a generator would give "
                      "each call a table of its own");
  }
  for (int64_t d = 0; d < dims; ++d) {
    if (request.rows.has_value() && d == 0) {
      TORCH_CHECK_VALUE(start[0] == 0, "deepinit: with rows=, the ids pick the rows: start[0] must be 0, but got ",
                        start[0]);
      TORCH_CHECK_VALUE(shape[0] >= 0 || request.keyed(), "deepinit: global_shape[0] must be >= 0 or None, but got ",
                        shape[0]);
      continue;
    }
    TORCH_CHECK(start[d] >= 0 && shape[d] >= 0 && start[d] + sizes[d] <= shape[d],
                "deepinit: the window does not fit global_shape in dim ", d, ": start ", start[d], " + size ",
                sizes[d], " > ", shape[d]);
  }
}

// Logical elements of one row of dim 0 (the ids' stride in the stream), modulo 2^64 like positions.
uint64_t row_size(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (size_t d = 1; d < shape.size(); ++d) {
    n *= static_cast<uint64_t>(shape[d]);
  }
  return n;
}

template <OutDtype D>
uint64_t counters_of(uint64_t first, uint64_t numel) {
  return numel == 0 ? 0 : core::counters_used<ComputeOf<D>>(first, numel);
}

uint64_t counters_of(OutDtype dtype, uint64_t first, uint64_t numel) {
  switch (dtype) {
    case OutDtype::kFloat64:
      return counters_of<OutDtype::kFloat64>(first, numel);
    default:
      return counters_of<OutDtype::kFloat32>(first, numel);
  }
}

uint64_t shift_of(OutDtype dtype) {
  return dtype == OutDtype::kFloat64 ? core::StreamLayout<double>::kShift : core::StreamLayout<float>::kShift;
}

// The source of a stream that needs `counters` counters (those of every fill that shares it).
GeneratorReservation reserve(const StreamRequest& request, c10::Device device, uint64_t counters) {
  if (request.seed.has_value()) {
    return {static_cast<uint64_t>(*request.seed), 0, nullptr, nullptr, 0};
  }
  if (device.is_cpu()) {
    auto* impl = at::get_generator_or_default<at::CPUGeneratorImpl>(request.generator,
                                                                    at::detail::getDefaultCPUGenerator());
    std::lock_guard<std::mutex> lock(impl->mutex_);
    return {impl->random64(), 0, nullptr, nullptr, 0};  // a fresh key per call: calls never share a stream
  }
#if defined(DEEPINIT_WITH_CUDA)
  TORCH_CHECK(device.is_cuda(), "deepinit: no stream rule for device ", device);
  return reserve_cuda_counters(request.generator, device, counters);
#else
  TORCH_CHECK(false, "deepinit: no stream rule for device ", device, " (built without CUDA)");
#endif
}

}  // namespace

OutDtype out_dtype_of(c10::ScalarType type, const char* op) {
  switch (type) {
    case c10::kFloat:
      return OutDtype::kFloat32;
    case c10::kDouble:
      return OutDtype::kFloat64;
    case c10::kHalf:
      return OutDtype::kFloat16;
    case c10::kBFloat16:
      return OutDtype::kBFloat16;
    default:
      TORCH_CHECK(false, "deepinit.", op, ": tensor has dtype ", scalar_type_name(type),
                  ", but only float32, float64, float16 and bfloat16 tensors can be filled");
  }
}

bool generator_serves(c10::Device generator, c10::Device tensor) {
  return generator.type() == tensor.type() &&
         (!generator.has_index() || !tensor.has_index() || generator.index() == tensor.index());
}

StreamRequest stream_request(at::IntArrayRef sizes, c10::Device device, std::optional<int64_t> seed, int64_t offset,
                             std::optional<at::Generator> generator, c10::OptionalIntArrayRef global_shape,
                             c10::OptionalIntArrayRef start, const std::optional<at::Tensor>& rows) {
  if (generator.has_value() && !generator->defined()) {
    generator.reset();
  }
  TORCH_CHECK_VALUE(!(seed.has_value() && generator.has_value()), "deepinit: pass either seed= or generator=, not both");
  TORCH_CHECK_VALUE(seed.has_value() || offset == 0,
                    "deepinit: offset= needs seed=: with a generator the stream position comes from the generator");
  StreamRequest request{seed, offset, std::move(generator), std::nullopt, std::nullopt, std::nullopt};
  if (global_shape.has_value()) {
    request.global_shape = global_shape->vec();
  }
  if (start.has_value()) {
    request.start = start->vec();
  }
  if (rows.has_value() && rows->defined()) {
    request.rows = *rows;
  }
  check_window(sizes, device, request);
  if (request.generator.has_value()) {
    TORCH_CHECK(generator_serves(request.generator->device(), device), "deepinit: generator is on ",
                request.generator->device(), " but the tensor is on ", device);
  }
  return request;
}

void check_row_ids(const StreamRequest& request) {
  if (!request.rows.has_value() || request.rows->numel() == 0) {
    return;
  }
  const at::Tensor& ids = *request.rows;
  // Ids in [0, end) are rows; a keyed table's end, 2^64 / row size, is the most rows whose
  // positions id * row size + [0, row size) stay apart modulo 2^64.
  const uint64_t row = row_size(*request.global_shape);
  const uint64_t end = request.keyed() ? (row == 0 ? 0 : (row == 1 ? UINT64_MAX : (uint64_t{0} - row) / row + 1))
                                       : static_cast<uint64_t>((*request.global_shape)[0]);
  const int64_t limit = end > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(end);
  const bool unlimited = end > static_cast<uint64_t>(INT64_MAX);  // every id >= 0 is a row
  int64_t first_bad = -1;
  if (ids.is_cpu()) {
    const at::Tensor values = ids.contiguous();
    const int64_t* id = values.const_data_ptr<int64_t>();
    for (int64_t i = 0; i < values.numel(); ++i) {
      if (id[i] < 0 || (!unlimited && id[i] >= limit)) {
        first_bad = i;
        break;
      }
    }
  } else {
    const at::Tensor bad = unlimited ? ids.lt(0) : ids.lt(0).logical_or_(ids.ge(limit));
    if (bad.any().item<bool>()) {
      first_bad = bad.to(c10::kByte).argmax().item<int64_t>();
    }
  }
  if (first_bad < 0) {
    return;
  }
  const int64_t id = ids[first_bad].item<int64_t>();
  if (request.keyed()) {
    TORCH_CHECK_VALUE(false, "deepinit: rows= holds id ", id, " at index ", first_bad, ", outside [0, ", end,
                      "): a keyed table's row k takes stream positions k * ", row, " + [0, ", row,
                      "), which for larger k would overlap another row's");
  }
  TORCH_CHECK_VALUE(false, "deepinit: rows= holds id ", id, " at index ", first_bad, ", outside [0, ", end,
                    "), the rows of global_shape[0]");
}

uint64_t logical_numel(at::IntArrayRef sizes, const StreamRequest& request) {
  if (request.keyed()) {
    return row_size(*request.global_shape);
  }
  uint64_t n = 1;
  for (const int64_t size : request.global_shape.has_value() ? at::IntArrayRef(*request.global_shape) : sizes) {
    n *= static_cast<uint64_t>(size);
  }
  return n;
}

StreamStart start_stream(const StreamRequest& request, c10::Device device, OutDtype dtype, uint64_t numel) {
  const uint64_t offset = static_cast<uint64_t>(request.offset);
  return {reserve(request, device, counters_of(dtype, offset, numel)), offset};
}

std::vector<int64_t> stream_positions(c10::Device device, at::ArrayRef<c10::ScalarType> dtypes,
                                      at::IntArrayRef numels, std::optional<int64_t> seed, int64_t offset,
                                      std::optional<at::Generator> generator) {
  TORCH_CHECK_VALUE(dtypes.size() == numels.size(), "deepinit._stream_positions: one numel per dtype, but got ",
                    dtypes.size(), " dtypes and ", numels.size(), " numels");
  const StreamRequest request =
      stream_request({}, device, seed, offset, std::move(generator), std::nullopt, std::nullopt, std::nullopt);
  // Each fill's first position; every fill after the first starts on a counter of its own.
  std::vector<uint64_t> firsts;
  uint64_t counter = 0;     // the next free counter, from the source's first
  uint64_t counters = 0;    // all the fills use
  for (size_t k = 0; k < dtypes.size(); ++k) {
    TORCH_CHECK_VALUE(numels[k] >= 0, "deepinit._stream_positions: numels must be >= 0, but got ", numels[k]);
    const OutDtype dtype = out_dtype_of(dtypes[k], "_stream_positions");
    const uint64_t first = k == 0 ? static_cast<uint64_t>(request.offset) : counter << shift_of(dtype);
    const uint64_t used = counters_of(dtype, first, static_cast<uint64_t>(numels[k]));
    firsts.push_back(first);
    counter = (first >> shift_of(dtype)) + used;
    counters += used;
  }
  const GeneratorReservation source = reserve(request, device, counters);
  std::vector<int64_t> result{static_cast<int64_t>(source.seed)};
  for (size_t k = 0; k < firsts.size(); ++k) {
    const uint64_t base = source.counter << shift_of(out_dtype_of(dtypes[k], "_stream_positions"));
    result.push_back(static_cast<int64_t>(base + firsts[k]));
  }
  return result;
}

std::vector<int64_t> stream_positions_of(const at::Tensor& tensor, int64_t numel, const std::optional<at::Tensor>& then,
                                         std::optional<int64_t> seed, int64_t offset,
                                         std::optional<at::Generator> generator) {
  if (then.has_value()) {
    const c10::ScalarType dtypes[] = {tensor.scalar_type(), then->scalar_type()};
    const int64_t numels[] = {numel, then->numel()};
    return stream_positions(tensor.device(), dtypes, numels, seed, offset, std::move(generator));
  }
  const c10::ScalarType dtype = tensor.scalar_type();
  return stream_positions(tensor.device(), dtype, numel, seed, offset, std::move(generator));
}

}  // namespace deepinit
