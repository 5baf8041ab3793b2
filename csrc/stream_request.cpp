#include "stream_request.h"

#include <c10/util/Exception.h>

#include "torch_dtypes.h"

namespace deepinit {
namespace {

void check_ids_tensor(at::IntArrayRef sizes, c10::Device device, const at::Tensor& ids) {
  TORCH_CHECK_TYPE(ids.scalar_type() == c10::kLong, "deepinit: rows= must be a tensor of int64 ids, but it has dtype ",
                   dtype_name(ids.scalar_type()));
  TORCH_CHECK_VALUE(ids.device() == device, "deepinit: rows= is on ", ids.device(), " but the tensor is on ", device);
  TORCH_CHECK_VALUE(ids.dim() == 1, "deepinit: rows= must be a 1-d tensor of ids, but it has ", ids.dim(), " dims");
  TORCH_CHECK_VALUE(!sizes.empty() && ids.size(0) == sizes[0], "deepinit: rows= holds ", ids.size(0),
                    " ids, but the tensor has ", sizes.empty() ? 0 : sizes[0], " rows (one id per row of dim 0)");
}

void check_window(at::IntArrayRef sizes, c10::Device device, StreamRequest& request) {
  if (request.ids.has_value()) {
    TORCH_CHECK_VALUE(request.global_shape.has_value(),
                      "deepinit: rows= needs global_shape=, the shape of the table the ids pick rows of");
    check_ids_tensor(sizes, device, *request.ids);
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
    TORCH_CHECK_VALUE(request.ids.has_value(),
                      "deepinit: a keyed table (global_shape with None rows) is filled by rows= only");
    TORCH_CHECK_VALUE(request.seed.has_value(),
                      "deepinit: a keyed table (global_shape with None rows) needs seed=: a generator would give "
                      "each call a table of its own");
  }
  for (int64_t d = 0; d < dims; ++d) {
    if (request.ids.has_value() && d == 0) {
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

}  // namespace

StreamRequest check_stream(at::IntArrayRef sizes, c10::Device device, StreamArgs args) {
  if (args.generator.has_value() && !args.generator->defined()) {
    args.generator.reset();
  }
  TORCH_CHECK_VALUE(!(args.seed.has_value() && args.generator.has_value()),
                    "deepinit: pass either seed= or generator=, not both");
  TORCH_CHECK_VALUE(args.seed.has_value() || args.offset == 0,
                    "deepinit: offset= needs seed=: with a generator the stream position comes from the generator");
  StreamRequest request;
  request.seed = args.seed;
  request.offset = static_cast<uint64_t>(args.offset);
  request.generator = std::move(args.generator);
  if (args.global_shape.has_value()) {
    request.global_shape = args.global_shape->vec();
  }
  if (args.start.has_value()) {
    request.start = args.start->vec();
  }
  if (args.ids.has_value() && args.ids->defined()) {
    request.ids = std::move(args.ids);
  }
  check_window(sizes, device, request);
  if (request.generator.has_value()) {
    TORCH_CHECK(generator_serves(request.generator->device(), device), "deepinit: generator is on ",
                request.generator->device(), " but the tensor is on ", device);
  }
  return request;
}

void check_ids(const StreamRequest& request) {
  if (!request.ids.has_value() || request.ids->numel() == 0) {
    return;
  }
  const at::Tensor& ids = *request.ids;
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

}  // namespace deepinit
