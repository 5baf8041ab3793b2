#include "cuda/generator_rule.h"

#include <ATen/cuda/CUDAGeneratorImpl.h>

#include <mutex>

namespace deepinit {

Reservation reserve_cuda_counters(const std::optional<at::Generator>& generator, c10::Device device,
                                  uint64_t counters) {
  auto* impl = at::get_generator_or_default<at::CUDAGeneratorImpl>(
      generator, at::cuda::detail::getDefaultCUDAGenerator(device.has_index() ? device.index() : -1));
  std::lock_guard<std::mutex> lock(impl->mutex_);
  return reservation_of(impl->philox_cuda_state(kWordsPerCounter * counters));
}

}  // namespace deepinit
