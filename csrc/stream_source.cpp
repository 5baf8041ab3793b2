#include "stream_source.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>

#include <mutex>

#if defined(DEEPINIT_WITH_CUDA)
#include "cuda/generator_rule.h"
#endif

namespace deepinit {

uint64_t counters_used(OutDtype dtype, uint64_t first, uint64_t n) {
  return with_dtype(dtype, [&](auto tag) -> uint64_t {
    return n == 0 ? 0 : core::counters_used<ComputeOf<decltype(tag)::value>>(first, n);
  });
}

uint64_t position(uint64_t counter, OutDtype dtype) {
  return with_dtype(dtype, [&](auto tag) { return counter << DtypeTraits<decltype(tag)::value>::kShift; });
}

uint64_t counter_of(uint64_t position, OutDtype dtype) {
  return with_dtype(dtype, [&](auto tag) { return position >> DtypeTraits<decltype(tag)::value>::kShift; });
}

bool generator_serves(c10::Device generator, c10::Device tensor) {
  return generator.type() == tensor.type() &&
         (!generator.has_index() || !tensor.has_index() || generator.index() == tensor.index());
}

StreamSource::StreamSource(std::optional<int64_t> seed, const std::optional<at::Generator>& generator,
                           c10::Device device)
    : seed_(seed), generator_(generator), device_(device) {}

Reservation StreamSource::reserve(uint64_t counters) const {
  if (seed_.has_value()) {
    return {static_cast<uint64_t>(*seed_), 0};
  }
  if (device_.is_cpu()) {
    auto* impl = at::get_generator_or_default<at::CPUGeneratorImpl>(generator_, at::detail::getDefaultCPUGenerator());
    std::lock_guard<std::mutex> lock(impl->mutex_);
    return {impl->random64(), 0};
  }
#if defined(DEEPINIT_WITH_CUDA)
  TORCH_CHECK(device_.is_cuda(), "deepinit: no stream rule for device ", device_);
  return reserve_cuda_counters(generator_, device_, counters);
#else
  TORCH_CHECK(false, "deepinit: no stream rule for device ", device_, " (built without CUDA)");
#endif
}

StreamStart StreamSource::start(OutDtype dtype, uint64_t offset, uint64_t numel) const {
  return {reserve(counters_used(dtype, offset, numel)), offset};
}

std::vector<int64_t> StreamSource::split(uint64_t offset, at::ArrayRef<OutDtype> dtypes,
                                         at::ArrayRef<int64_t> numels) const {
  TORCH_CHECK_VALUE(dtypes.size() == numels.size(), "deepinit: one numel per dtype, but got ", dtypes.size(),
                    " dtypes and ", numels.size(), " numels");
  std::vector<uint64_t> firsts;  // each fill's first position, from the reservation's first counter
  uint64_t next_counter = 0;     // the counter after the last one the fills so far use
  uint64_t reserved = 0;         // the counters every fill uses
  for (size_t k = 0; k < dtypes.size(); ++k) {
    TORCH_CHECK_VALUE(numels[k] >= 0, "deepinit: numels must be >= 0, but got ", numels[k]);
    const uint64_t first = k == 0 ? offset : position(next_counter, dtypes[k]);
    const uint64_t used = counters_used(dtypes[k], first, static_cast<uint64_t>(numels[k]));
    firsts.push_back(first);
    next_counter = counter_of(first, dtypes[k]) + used;
    reserved += used;
  }
  const Reservation reservation = reserve(reserved);
  TORCH_CHECK(!reservation.is_captured(),
              "deepinit: sparse_ and DTensors with several local shards on a rank split one stream on the host, "
              "which a CUDA graph being captured does not allow: pass seed=, or fill them outside the capture");
  std::vector<int64_t> result{static_cast<int64_t>(reservation.seed)};
  for (size_t k = 0; k < firsts.size(); ++k) {
    result.push_back(static_cast<int64_t>(position(reservation.counter, dtypes[k]) + firsts[k]));
  }
  return result;
}

}  // namespace deepinit
