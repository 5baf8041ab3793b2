// The CUDA generator rule: a fill's counters are reserved from the generator's Philox offset, as
// ATen's own kernels reserve theirs (CUDAGeneratorImpl::philox_cuda_state, under its lock: the
// offset counts 32-bit words, kWordsPerCounter to a counter), and the generator's seed is the key.
// While a CUDA graph is being captured, ATen hands out its state of the capture instead of values,
// and the kernels read the seed and the offset from it at each replay with ATen's unpack, so that
// every replay draws fresh values. Host code includes this for the reservation; device code also
// gets the read.
#pragma once

#include "stream_source.h"

#if defined(__CUDACC__)
#include <ATen/cuda/PhiloxUtils.cuh>
#endif

namespace deepinit {

// What a reservation of ATen's state `state` is: its seed and counter, or the captured state.
inline Reservation reservation_of(const at::PhiloxCudaState& state) {
  if (state.captured_) {
    return {0, 0, state};
  }
  return {state.seed_.val, state.offset_.val / kWordsPerCounter};
}

// Reserves `counters` counters of the CUDA generator (or the device's default generator).
Reservation reserve_cuda_counters(const std::optional<at::Generator>& generator, c10::Device device, uint64_t counters);

#if defined(__CUDACC__)
// The key and the position of the logical tensor's element 0, on the device: a captured start is
// read where ATen keeps it, at each replay.
template <OutDtype D>
__device__ __forceinline__ core::StreamOrigin origin_on_device(const StreamStart& start) {
  uint64_t seed = start.reservation.seed;
  uint64_t counter = start.reservation.counter;
  if (start.reservation.is_captured()) {
    const auto [captured_seed, words] = at::cuda::philox::unpack(start.reservation.captured);
    seed = captured_seed;
    counter = words / kWordsPerCounter;
  }
  return core::stream_origin<ComputeOf<D>>(seed, counter, start.offset);
}
#endif

}  // namespace deepinit
