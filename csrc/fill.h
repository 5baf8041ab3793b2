// What every backend shares: argument validation, the job each op describes, and the op
// registration. Every check runs here, on the host, before a backend writes anything, so a bad
// call raises and leaves the tensor (and the generator) untouched.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include <optional>

#include "fill_job.h"

namespace deepinit {

FillJob plan_uniform(const at::Tensor& self, double low, double high);
FillJob plan_normal(const at::Tensor& self, double mean, double std);
FillJob plan_trunc_normal(const at::Tensor& self, double mean, double std, double a, double b);

// Where the stream starts: explicit (seed, offset), or drawn by the backend from a generator.
struct StreamRequest {
  std::optional<int64_t> seed;  // two's complement of the 64-bit seed
  int64_t offset;               // two's complement of the 64-bit element offset
  std::optional<at::Generator> generator;
};

void set_key(FillJob& job, uint64_t seed);

// seed and generator exclude each other; offset needs seed (a generator gives the position).
void check_stream_request(const StreamRequest& stream);

// A backend's fill: run `job` over `self`, taking the stream from `stream`.
using RunFillFn = void (*)(const at::Tensor& self, FillJob job, const StreamRequest& stream);

// Registers the three fill ops for one dispatch key with that backend's RunFill.
template <RunFillFn RunFill>
void register_fill_kernels(torch::Library& m) {
  m.impl("uniform_", [](const at::Tensor& self, double low, double high, std::optional<int64_t> seed, int64_t offset,
                        std::optional<at::Generator> generator) {
    const StreamRequest stream{seed, offset, std::move(generator)};
    check_stream_request(stream);
    RunFill(self, plan_uniform(self, low, high), stream);
  });
  m.impl("normal_", [](const at::Tensor& self, double mean, double std, std::optional<int64_t> seed, int64_t offset,
                       std::optional<at::Generator> generator) {
    const StreamRequest stream{seed, offset, std::move(generator)};
    check_stream_request(stream);
    RunFill(self, plan_normal(self, mean, std), stream);
  });
  m.impl("trunc_normal_", [](const at::Tensor& self, double mean, double std, double a, double b,
                             std::optional<int64_t> seed, int64_t offset, std::optional<at::Generator> generator) {
    const StreamRequest stream{seed, offset, std::move(generator)};
    check_stream_request(stream);
    RunFill(self, plan_trunc_normal(self, mean, std, a, b), stream);
  });
}

}  // namespace deepinit
