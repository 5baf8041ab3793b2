#include "layout.h"

#include "stream_request.h"

namespace deepinit {

ElementPositions element_positions(at::IntArrayRef sizes, const StreamRequest& request) {
  const auto ndim = static_cast<int64_t>(sizes.size());
  ElementPositions positions{0, std::vector<int64_t>(ndim)};
  const at::IntArrayRef shape = request.global_shape.has_value() ? at::IntArrayRef(*request.global_shape) : sizes;
  uint64_t stride = 1;  // row-major strides of the logical tensor, modulo 2^64 like g itself
  for (int64_t d = ndim - 1; d >= 0; --d) {
    positions.strides[d] = static_cast<int64_t>(stride);
    if (request.start.has_value()) {
      positions.base += static_cast<uint64_t>((*request.start)[d]) * stride;
    }
    stride *= static_cast<uint64_t>(shape[d]);
  }
  return positions;
}

RunLayout run_layout(at::IntArrayRef tensor_sizes, at::IntArrayRef tensor_strides, const ElementPositions& positions) {
  RunLayout layout{};
  int64_t sizes[RunLayout::kMaxDims + 1], memory[RunLayout::kMaxDims + 1], stream[RunLayout::kMaxDims + 1];
  int dims = 0;
  for (size_t d = 0; d < tensor_sizes.size(); ++d) {
    const int64_t size = tensor_sizes[d];
    if (size == 1) {
      continue;
    }
    if (dims > 0 && memory[dims - 1] == tensor_strides[d] * size && stream[dims - 1] == positions.strides[d] * size) {
      sizes[dims - 1] *= size;
      memory[dims - 1] = tensor_strides[d];
      stream[dims - 1] = positions.strides[d];
      continue;
    }
    sizes[dims] = size;
    memory[dims] = tensor_strides[d];
    stream[dims] = positions.strides[d];
    ++dims;
  }
  // Runs go along the stream: unless the innermost dim left moves it by 1 (a window whose last
  // dims are of size 1 here but not in the logical tensor, or a single element), runs are single
  // elements.
  if (dims == 0 || stream[dims - 1] != 1) {
    sizes[dims] = 1;
    memory[dims] = 1;
    stream[dims] = 1;
    ++dims;
  }
  layout.length = sizes[dims - 1];
  layout.run_stride = memory[dims - 1];
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

SliceLayout picked_slices(at::IntArrayRef sizes, at::IntArrayRef strides, const ElementPositions& positions) {
  const ElementPositions inner{positions.base, std::vector<int64_t>(positions.strides.begin() + 1, positions.strides.end())};
  return {sizes[0], strides[0], static_cast<uint64_t>(positions.strides[0]),
          run_layout(sizes.slice(1), strides.slice(1), inner)};
}

SliceLayout slices_of_first_dim(const RunLayout& runs) {
  if (runs.outer_dims == 0) {
    return {1, 0, 0, runs};
  }
  RunLayout inner = runs;
  inner.outer_dims = runs.outer_dims - 1;
  inner.count = runs.count / runs.sizes[0];
  for (int d = 0; d < inner.outer_dims; ++d) {
    inner.sizes[d] = runs.sizes[d + 1];
    inner.memory_strides[d] = runs.memory_strides[d + 1];
    inner.stream_strides[d] = runs.stream_strides[d + 1];
  }
  return {runs.sizes[0], runs.memory_strides[0], static_cast<uint64_t>(runs.stream_strides[0]), inner};
}

}  // namespace deepinit
