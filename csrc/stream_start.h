// Where a fill's stream starts, decided in one place: a call's stream arguments (a seed and an
// offset, or a generator; optionally a window of a larger logical tensor) are checked and turned
// into a key and the stream position of the logical tensor's element 0, by the generator rule of
// the tensor's device. Every backend, and the Python paths that split one stream between several
// fills (_stream_positions), take their start from here.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/OptionalArrayRef.h>

#include <optional>
#include <vector>

#include "job.h"

namespace deepinit {

// A call's stream arguments, checked (check_stream_request).
struct StreamRequest {
  std::optional<int64_t> seed;  // two's complement of the 64-bit seed
  int64_t offset;               // two's complement of the 64-bit element offset
  std::optional<at::Generator> generator;
  // A window: the tensor is the block [start, start + sizes) of a logical tensor of this shape,
  // and takes the values the whole logical tensor would get there (with a generator, the values
  // and the generator's advance of a fill of the whole logical tensor).
  std::optional<std::vector<int64_t>> global_shape;
  std::optional<std::vector<int64_t>> start;
  // Rows picked by id: row i of the tensor is row rows[i] of the logical tensor (int64 ids, one
  // per row, on the tensor's device); start then places the tensor's rows within logical rows
  // (its first entry is 0, and is given as zeros when start= is not). A logical row count of
  // kKeyedRows is a keyed table: any id in [0, 2^64 / row size), with seed= only.
  std::optional<at::Tensor> rows;

  bool keyed() const { return global_shape.has_value() && !global_shape->empty() && (*global_shape)[0] == kKeyedRows; }
  static constexpr int64_t kKeyedRows = -1;
};

// seed and generator exclude each other, offset needs seed (a generator gives the position) and
// a window names both global_shape and start, rows= needs global_shape=, a keyed table needs
// rows= and seed= (ValueError otherwise); a window fits its logical tensor (RuntimeError
// otherwise); rows= holds one int64 id per row on the tensor's device (TypeError, ValueError);
// a generator serves the device (RuntimeError otherwise). The ids' values are checked by
// check_row_ids, which reads them.
StreamRequest stream_request(at::IntArrayRef sizes, c10::Device device, std::optional<int64_t> seed, int64_t offset,
                             std::optional<at::Generator> generator, c10::OptionalIntArrayRef global_shape,
                             c10::OptionalIntArrayRef start, const std::optional<at::Tensor>& rows);

// Every id of rows= names a row of the logical tensor: in [0, global_shape[0]), or for a keyed
// table in [0, 2^64 / row size), where rows of different ids take disjoint stream positions
// (ValueError naming the first id outside, before anything is written). Reads the ids (on CUDA,
// one copy of a flag to the host).
void check_row_ids(const StreamRequest& request);

// Elements of the logical tensor: the window's global_shape, else the tensor's own; for a keyed
// table, those of one row (its stream is the key's whole: no generator draws for it).
uint64_t logical_numel(at::IntArrayRef sizes, const StreamRequest& request);

// Whether a generator on device `generator` may serve a tensor on `tensor`: same device type, and
// the same index unless the generator has none (torch.Generator("cuda") serves every CUDA device,
// as it does for ATen's own kernels).
bool generator_serves(c10::Device generator, c10::Device tensor);

// The start of a fill of `numel` logical elements of `dtype` on `device` (and, with a generator,
// the generator's advance): an explicit seed gives key = seed, first position = offset; a
// generator gives its key and first counter by its device's rule:
//   CPU:  one random64() of the generator is the key; counter 0.
//   CUDA: the generator's seed is the key; the counters come from its Philox offset (which counts
//         32-bit words, 4 per counter), reserved for every counter the fill uses, as ATen's
//         kernels reserve theirs. While a CUDA graph is being captured the reservation is read
//         on the device at each replay (StreamStart::origin), so replays draw fresh values.
StreamStart start_stream(const StreamRequest& request, c10::Device device, OutDtype dtype, uint64_t numel);

// For Python paths that split one stream between consecutive fills (sparse_: values, then keys):
// the key, then the first position of each fill (in its own dtype's positions), each fill
// starting on the first counter after the one before. The generator is drawn from once, for all.
std::vector<int64_t> stream_positions(c10::Device device, at::ArrayRef<c10::ScalarType> dtypes,
                                      at::IntArrayRef numels, std::optional<int64_t> seed, int64_t offset,
                                      std::optional<at::Generator> generator);
// The op _stream_positions: a fill of `numel` elements of tensor's dtype on its device, then
// optionally a fill of all of `then`.
std::vector<int64_t> stream_positions_of(const at::Tensor& tensor, int64_t numel, const std::optional<at::Tensor>& then,
                                         std::optional<int64_t> seed, int64_t offset,
                                         std::optional<at::Generator> generator);

OutDtype out_dtype_of(c10::ScalarType type, const char* op);

#if defined(DEEPINIT_WITH_CUDA)
// The CUDA generator rule (csrc/cuda/fill_cuda.cu): reserves `counters` counters of the generator
// (or the device's default generator).
GeneratorReservation reserve_cuda_counters(const std::optional<at::Generator>& generator, c10::Device device,
                                           uint64_t counters);
#endif

}  // namespace deepinit
