// What every backend shares: argument validation, the job each op describes, and the op
// registration. Every check runs here, on the host, before a backend writes anything, so a bad
// call raises and leaves the tensor (and the generator) untouched.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include <optional>
#include <vector>

#include "fill_job.h"

namespace deepinit {

FillJob plan_uniform(const at::Tensor& self, double low, double high);
FillJob plan_normal(const at::Tensor& self, double mean, double std);
FillJob plan_trunc_normal(const at::Tensor& self, double mean, double std, double a, double b);

// Where the stream starts: explicit (seed, offset), or drawn by the backend from a generator;
// optionally a window: self is the block [start, start + self.sizes()) of a logical tensor of
// shape global_shape, and takes the values the whole logical tensor would get there (with a
// generator, the values and the generator's advance of a fill of the whole logical tensor).
struct StreamRequest {
  std::optional<int64_t> seed;  // two's complement of the 64-bit seed
  int64_t offset;               // two's complement of the 64-bit element offset
  std::optional<at::Generator> generator;
  std::optional<std::vector<int64_t>> global_shape;
  std::optional<std::vector<int64_t>> start;
};

void set_key(FillJob& job, uint64_t seed);

// seed and generator exclude each other, offset needs seed (a generator gives the position) and
// a window names both global_shape and start (ValueError otherwise); a window fits its logical
// tensor (RuntimeError otherwise).
void check_stream_request(const at::Tensor& self, const StreamRequest& stream);

// Elements of the logical tensor: the window's global_shape, else self's.
uint64_t logical_numel(const at::Tensor& self, const StreamRequest& stream);

// Whether a generator of `generator` may serve a tensor on `tensor`: same device type, and the
// same index unless the generator has none (torch.Generator("cuda") serves every CUDA device,
// as it does for ATen's own kernels).
bool generator_serves(c10::Device generator, c10::Device tensor);
void check_generator_device(const at::Generator& generator, const at::Tensor& self);

// The key rule of each device type, shared by the fills and by _stream_start: a generator's
// (key, first Philox counter) for a draw of `counters` counters, advancing the generator as
// such a fill does. CPU: one random64() as the key, counter 0. CUDA: csrc/cuda/fill_cuda.cu.
struct GeneratorStart {
  uint64_t seed;
  uint64_t counter;
};
GeneratorStart cpu_generator_start(const std::optional<at::Generator>& generator);
#if defined(DEEPINIT_WITH_CUDA)
GeneratorStart cuda_generator_start(const std::optional<at::Generator>& generator, c10::Device device,
                                    uint64_t counters);
#endif

// The stream position of every element: g = base + sum_d j_d * strides[d] (mod 2^64) for the
// element at multi-index j. Without a window, strides are self's own row-major strides (g is
// base + the row-major index); with one, they are the logical tensor's, and base includes start.
// The last stride is 1 either way, so each row of the innermost dim is one run of the stream.
struct ElementPositions {
  uint64_t base;                 // offset, plus the window's start; 0 before a generator's start
  std::vector<int64_t> strides;  // one per dim of self
};
ElementPositions element_positions(const at::Tensor& self, const StreamRequest& stream);

// The elements of self as rows of its innermost dim, computed once for every backend: adjacent
// dims merged wherever both memory and stream positions allow, dims of size 1 dropped. Row r
// starts in memory at offsets(r).memory (elements from self's first) and in the stream at
// base + offsets(r).stream; along a row, memory moves by row_stride and the stream by 1. A
// tensor laid out in the stream's order (contiguous, or a window of whole rows) is one row.
struct RowLayout {
  static constexpr int kMaxDims = 64;  // torch's own limit
  int64_t count;                       // rows
  int64_t length;                      // elements per row
  int64_t row_stride;
  int outer_dims;  // the dims above the rows, after merging
  int64_t sizes[kMaxDims];
  int64_t memory_strides[kMaxDims];
  int64_t stream_strides[kMaxDims];

  DEEPINIT_HD void offsets(int64_t row, int64_t& memory, uint64_t& stream) const {
    memory = 0;
    stream = 0;
    for (int d = outer_dims - 1; d >= 0; --d) {
      const int64_t q = row / sizes[d];
      const int64_t j = row - q * sizes[d];
      memory += j * memory_strides[d];
      stream += static_cast<uint64_t>(j) * static_cast<uint64_t>(stream_strides[d]);
      row = q;
    }
  }
};
RowLayout row_layout(const at::Tensor& self, const ElementPositions& positions);

// A backend's fill: run `job` over `self`, taking the stream from `stream`.
using RunFillFn = void (*)(const at::Tensor& self, FillJob job, const StreamRequest& stream);

// The registered signature's window arguments, as a StreamRequest.
StreamRequest stream_request(const at::Tensor& self, std::optional<int64_t> seed, int64_t offset,
                             std::optional<at::Generator> generator, at::OptionalIntArrayRef global_shape,
                             at::OptionalIntArrayRef start);

// Registers the three fill ops for one dispatch key with that backend's RunFill.
template <RunFillFn RunFill>
void register_fill_kernels(torch::Library& m) {
  m.impl("uniform_", [](const at::Tensor& self, double low, double high, std::optional<int64_t> seed, int64_t offset,
                        std::optional<at::Generator> generator, at::OptionalIntArrayRef global_shape,
                        at::OptionalIntArrayRef start) {
    const StreamRequest stream = stream_request(self, seed, offset, std::move(generator), global_shape, start);
    RunFill(self, plan_uniform(self, low, high), stream);
  });
  m.impl("normal_", [](const at::Tensor& self, double mean, double std, std::optional<int64_t> seed, int64_t offset,
                       std::optional<at::Generator> generator, at::OptionalIntArrayRef global_shape,
                       at::OptionalIntArrayRef start) {
    const StreamRequest stream = stream_request(self, seed, offset, std::move(generator), global_shape, start);
    RunFill(self, plan_normal(self, mean, std), stream);
  });
  m.impl("trunc_normal_", [](const at::Tensor& self, double mean, double std, double a, double b,
                             std::optional<int64_t> seed, int64_t offset, std::optional<at::Generator> generator,
                             at::OptionalIntArrayRef global_shape, at::OptionalIntArrayRef start) {
    const StreamRequest stream = stream_request(self, seed, offset, std::move(generator), global_shape, start);
    RunFill(self, plan_trunc_normal(self, mean, std, a, b), stream);
  });
}

}  // namespace deepinit
