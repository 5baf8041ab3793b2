// A fill's stream arguments: as the schema takes them (kStreamParameters), unpacked once into
// StreamArgs at the op boundary, then checked into a StreamRequest: the source of the stream
// (seed= or a generator), its element offset, and the part of a logical tensor that the tensor
// is (a window, or rows picked by id).
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/OptionalArrayRef.h>

#include <optional>
#include <vector>

#include "stream_source.h"

namespace deepinit {

// Every fill's stream arguments, after the law's own (docs/stream.md, docs/ops.md).
constexpr const char* kStreamParameters =
    "int? seed=None, int offset=0, Generator? generator=None, int[]? global_shape=None, int[]? start=None, "
    "Tensor? rows=None";

// The stream arguments of one call, as its op received them (they live as long as the call).
struct StreamArgs {
  std::optional<int64_t> seed;  // two's complement of the 64-bit seed
  int64_t offset = 0;           // two's complement of the 64-bit element offset
  std::optional<at::Generator> generator;
  at::OptionalIntArrayRef global_shape;
  at::OptionalIntArrayRef start;
  std::optional<at::Tensor> ids;  // rows=
};

// A call's stream arguments, checked (check_stream).
struct StreamRequest {
  std::optional<int64_t> seed;
  uint64_t offset = 0;
  std::optional<at::Generator> generator;
  // A window: the tensor is the block [start, start + sizes) of a logical tensor of this shape,
  // and takes the values the whole logical tensor would get there (with a generator, the values
  // and the generator's advance of a fill of the whole logical tensor).
  std::optional<std::vector<int64_t>> global_shape;
  std::optional<std::vector<int64_t>> start;
  // Rows picked by id (rows=): row i of the tensor is row ids[i] of the logical tensor (int64
  // ids, one per row, on the tensor's device); start then places the tensor's rows within logical
  // rows (its first entry is 0, and is given as zeros when start= is not). A logical row count of
  // kKeyedRows is a keyed table: any id in [0, 2^64 / row size), with seed= only.
  std::optional<at::Tensor> ids;

  static constexpr int64_t kKeyedRows = -1;
  bool keyed() const { return global_shape.has_value() && !global_shape->empty() && (*global_shape)[0] == kKeyedRows; }
  StreamSource source(c10::Device device) const { return StreamSource(seed, generator, device); }
};

// seed and generator exclude each other, offset needs seed (a generator gives the position) and
// a window names both global_shape and start, rows= needs global_shape=, a keyed table needs
// rows= and seed= (ValueError otherwise); a window fits its logical tensor (RuntimeError
// otherwise); rows= holds one int64 id per row on the tensor's device (TypeError, ValueError);
// a generator serves the device (RuntimeError otherwise). The ids' values are checked by
// check_ids, which reads them.
StreamRequest check_stream(at::IntArrayRef sizes, c10::Device device, StreamArgs args);

// Every id of rows= names a row of the logical tensor: in [0, global_shape[0]), or for a keyed
// table in [0, 2^64 / row size), where rows of different ids take disjoint stream positions
// (ValueError naming the first id outside, before anything is written). Reads the ids (on CUDA,
// one copy of a flag to the host).
void check_ids(const StreamRequest& request);

// Elements of the logical tensor: the window's global_shape, else the tensor's own; for a keyed
// table, those of one row (its stream is the key's whole: no generator draws for it).
uint64_t logical_numel(at::IntArrayRef sizes, const StreamRequest& request);

}  // namespace deepinit
