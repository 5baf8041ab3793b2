// A fill, planned at the op boundary: everything a backend needs, decided once for every
// backend. The stream is started (a generator advances here), the ids of rows picked by id are
// checked, and every element's place in memory and in the stream is laid out; a backend's run()
// only launches its kernels over the plan.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "job.h"
#include "layout.h"
#include "stream_request.h"

namespace deepinit {

// The tensor's elements, laid out for the kernels: one run of the stream in memory (any
// contiguous tensor, and windows of whole rows), runs of the innermost dim (any other layout),
// or slices along dim 0 picked by id (rows=).
struct FillPlacement {
  enum class Shape { kOneRun, kRuns, kPickedSlices };

  const at::Tensor* self = nullptr;  // the call's tensor (a placement lives as long as the call)
  StreamStart start;
  uint64_t base = 0;  // the stream position of the tensor's origin: the window's start in the logical tensor
  Shape shape = Shape::kOneRun;
  RunLayout runs;      // kOneRun, kRuns (not cleared: a layout is large, and a call's cost counts)
  SliceLayout slices;  // kPickedSlices
  at::Tensor ids;      // kPickedSlices: the ids, contiguous, checked
};

// Places a fill of `self` of `dtype` by `request` into `placement`; false when there is nothing
// to write (the stream is reserved all the same, as a fill of the whole logical tensor reserves
// it, unless the logical tensor is empty).
bool place_fill(const at::Tensor& self, OutDtype dtype, const StreamRequest& request, FillPlacement& placement);

template <OutDtype D, template <class> class Params>
struct FillPlan {
  static constexpr OutDtype kDtype = D;
  const Params<ComputeOf<D>>& params;
  const FillPlacement& placement;
};

}  // namespace deepinit
