// Where a fill's stream comes from: seed= (the key is the seed, the counters start at 0) or a
// generator, by the rule of its device (the CPU's here, CUDA's in cuda/generator_rule.h). A source
// reserves the Philox counters a fill uses, so that the next fill from the same generator starts
// after them; every path that starts streams (the fills, and the Python paths that split one
// stream between several fills: sparse_, a DTensor's several local shards) goes through it.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/cuda/PhiloxCudaState.h>  // a plain struct (CPU builds of torch have it too)
#include <c10/core/Device.h>
#include <c10/util/ArrayRef.h>

#include <optional>
#include <vector>

#include "dtypes.h"

namespace deepinit {

// A CUDA generator's Philox offset counts 32-bit output words: 4 to a counter.
constexpr uint64_t kWordsPerCounter = 4;

// Counters reserved from a source: the key's seed and the first counter, known on the host; or,
// while a CUDA graph is being captured, known on the device only, at each replay: ATen's state of
// the capture, which cuda/generator_rule.h reads there with ATen's unpack.
struct Reservation {
  uint64_t seed = 0;
  uint64_t counter = 0;
  at::PhiloxCudaState captured{};  // captured_ while a graph is being captured

  DEEPINIT_HD bool is_captured() const { return captured.captured_; }
};

// Where a fill's stream starts: `offset` elements after the first position of the reservation's
// first counter lies the logical tensor's element 0.
struct StreamStart {
  Reservation reservation;
  uint64_t offset = 0;

  // The key and the position of element 0, on the host (a captured start is read on the device:
  // cuda/generator_rule.h).
  template <OutDtype D>
  core::StreamOrigin origin() const {
    return core::stream_origin<ComputeOf<D>>(reservation.seed, reservation.counter, offset);
  }
};

// Philox counters that n elements of `dtype` from stream position `first` use (0 for none).
uint64_t counters_used(OutDtype dtype, uint64_t first, uint64_t n);

// The stream position of a counter's first element, in `dtype`'s positions, and the counter of a
// position.
uint64_t position(uint64_t counter, OutDtype dtype);
uint64_t counter_of(uint64_t position, OutDtype dtype);

class StreamSource {
 public:
  // seed= (the two's complement of the 64-bit key) or a generator (none: the device's default),
  // which the source refers to: it lives as long as the call that starts streams from it.
  StreamSource(std::optional<int64_t> seed, const std::optional<at::Generator>& generator, c10::Device device);

  // Reserves `counters` counters, for one fill or several in turn:
  //   seed:  the key is the seed; counter 0 (nothing is consumed);
  //   CPU:   one random64() of the generator, under its lock, is the key; counter 0: a fresh key
  //          per reservation, so that reservations never share a stream;
  //   CUDA:  the generator's seed is the key; the counters come from its Philox offset, advanced
  //          past them (cuda/generator_rule.h).
  Reservation reserve(uint64_t counters) const;

  // The start of one fill of `numel` logical elements of `dtype` from element offset `offset`.
  StreamStart start(OutDtype dtype, uint64_t offset, uint64_t numel) const;

  // One reservation split between consecutive fills: fill k holds numels[k] elements of
  // dtypes[k], the first from element offset `offset`, each later one from the first counter
  // after the one before. Returns the key's seed, then each fill's first position (in its own
  // dtype's positions), as int64 two's complements. A captured reservation is refused in one
  // line: its seed and counters exist on the device only.
  std::vector<int64_t> split(uint64_t offset, at::ArrayRef<OutDtype> dtypes, at::ArrayRef<int64_t> numels) const;

 private:
  std::optional<int64_t> seed_;
  const std::optional<at::Generator>& generator_;
  c10::Device device_;
};

// Whether a generator on device `generator` may serve a tensor on `tensor`: same device type, and
// the same index unless the generator has none (torch.Generator("cuda") serves every CUDA device,
// as it does for ATen's own kernels).
bool generator_serves(c10::Device generator, c10::Device tensor);

}  // namespace deepinit
