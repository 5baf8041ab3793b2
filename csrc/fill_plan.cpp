#include "fill_plan.h"

namespace deepinit {

bool place_fill(const at::Tensor& self, OutDtype dtype, const StreamRequest& request, FillPlacement& placement) {
  const uint64_t numel = logical_numel(self.sizes(), request);
  // An empty window of a non-empty tensor (a rank's empty shard) still draws, as the whole would.
  if (numel == 0) {
    return false;
  }
  check_ids(request);
  placement.start = request.source(self.device()).start(dtype, request.offset, numel);
  if (self.numel() == 0) {
    return false;
  }
  placement.self = &self;
  const ElementPositions positions = element_positions(self.sizes(), request);
  placement.base = positions.base;
  if (request.ids.has_value()) {
    placement.shape = FillPlacement::Shape::kPickedSlices;
    placement.slices = picked_slices(self.sizes(), self.strides(), positions);
    placement.ids = request.ids->contiguous();
    return true;
  }
  placement.runs = run_layout(self.sizes(), self.strides(), positions);
  placement.shape = placement.runs.is_one_run() ? FillPlacement::Shape::kOneRun : FillPlacement::Shape::kRuns;
  return true;
}

}  // namespace deepinit
