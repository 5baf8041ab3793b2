// Where each element of a tensor lies in memory and in the stream, for every backend: the
// stream position of every element (the logical tensor's row-major index, from the stream's
// start), and the tensor as runs along which both move by one step.
#pragma once

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <vector>

#include "core/platform.h"

namespace deepinit {

struct StreamRequest;  // stream_request.h

// The stream position of every element: g = first + base + sum_d j_d * strides[d] (mod 2^64)
// for the element at multi-index j, first being the position of the logical tensor's element 0
// (StreamStart). Without a window, strides are the tensor's own row-major strides; with one,
// they are the logical tensor's, and base is the window's start. The last stride is 1 either
// way, so each line of the innermost dim is one run of the stream.
struct ElementPositions {
  uint64_t base;
  std::vector<int64_t> strides;  // one per dim
};
ElementPositions element_positions(at::IntArrayRef sizes, const StreamRequest& request);

// The elements as runs of the innermost dim, computed once for every backend: adjacent dims
// merged wherever both memory and stream positions allow, dims of size 1 dropped. Run r starts
// in memory at offsets(r).memory (elements from the tensor's first) and in the stream at
// base + offsets(r).stream; along a run, memory moves by run_stride and the stream by 1. A
// tensor laid out in the stream's order (contiguous, or a window of whole rows) is one run.
struct RunLayout {
  static constexpr int kMaxDims = 64;  // torch's own limit
  int64_t count;                       // runs
  int64_t length;                      // elements per run
  int64_t run_stride;
  int outer_dims;  // the dims above the runs, after merging
  int64_t sizes[kMaxDims];
  int64_t memory_strides[kMaxDims];
  int64_t stream_strides[kMaxDims];

  DEEPINIT_HD bool is_one_run() const { return count == 1 && run_stride == 1; }

  DEEPINIT_HD void offsets(int64_t run, int64_t& memory, uint64_t& stream) const {
    memory = 0;
    stream = 0;
#if defined(__CUDA_ARCH__)
#pragma unroll 1  // a division per dim, and dims are few: unrolled, nvcc copies the division 4 times
#endif
    for (int d = outer_dims - 1; d >= 0; --d) {
      const int64_t q = run / sizes[d];
      const int64_t j = run - q * sizes[d];
      memory += j * memory_strides[d];
      stream += static_cast<uint64_t>(j) * static_cast<uint64_t>(stream_strides[d]);
      run = q;
    }
  }
};
RunLayout run_layout(at::IntArrayRef sizes, at::IntArrayRef strides, const ElementPositions& positions);

// Slices along a first dim, each laid out by one RunLayout: element (i, j...) lies in memory at
// i * memory_stride + the inner layout's offset of j, and in the stream at base + id(i) *
// id_stride + its inner offset, where id(i) is ids[i] for rows picked by id (rows=) and i itself
// for any other layout.
struct SliceLayout {
  int64_t count;  // slices
  int64_t memory_stride;
  uint64_t id_stride;
  RunLayout inner;
};
// Rows picked by id: the tensor's slices along dim 0, and their own layout (the dims after the
// first, which the window's start places in the logical row).
SliceLayout picked_slices(at::IntArrayRef sizes, at::IntArrayRef strides, const ElementPositions& positions);
// A layout as the slices of its first outer dim (one slice, the whole, when it has none).
SliceLayout slices_of_first_dim(const RunLayout& runs);

}  // namespace deepinit
