// CUDA backend of the fill ops: a thin grid-stride loop over the torch-free core. Each thread
// takes one Philox counter at a time (4 float-family or 2 float64 elements) from the element
// index alone, so values never depend on the launch configuration or the GPU model, and equal
// the CPU's bit for bit (the core uses only correctly rounded operations, and this file is
// compiled with --fmad=false so that nvcc fuses nothing the core did not write).
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/PhiloxUtils.cuh>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <torch/library.h>

#include <mutex>

#include "fill.h"

namespace deepinit {
namespace cuda {
namespace {

// Where a launch's stream starts: an explicit (seed, offset), or the generator's reservation,
// which is unpacked on the device so that replays of a captured CUDA graph move on.
struct StreamStart {
  at::PhiloxCudaState philox;
  bool from_generator;
  uint64_t seed;
  uint64_t offset;
};

template <class Compute>
__device__ __forceinline__ void resolve_stream(const StreamStart& start, core::PhiloxKey& key, uint64_t& g0) {
  if (start.from_generator) {
    const auto seed_and_words = at::cuda::philox::unpack(start.philox);
    key = core::philox_key_from_seed(std::get<0>(seed_and_words));
    // ATen counts its offset in 32-bit words, in multiples of 4: one Philox counter per 4.
    g0 = (std::get<1>(seed_and_words) / 4) * core::StreamLayout<Compute>::kElementsPerCounter;
  } else {
    key = core::philox_key_from_seed(start.seed);
    g0 = start.offset;
  }
}

constexpr int kMaxDims = 25;

// Memory offset (in elements) of logical index i.
struct ContiguousLayout {
  __device__ __forceinline__ int64_t offset(int64_t i) const { return i; }
};
struct StridedLayout {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims];
  __device__ __forceinline__ int64_t offset(int64_t i) const {
    int64_t at = 0;
    for (int d = ndim - 1; d > 0; --d) {
      const int64_t size = sizes[d];
      const int64_t q = i / size;
      at += (i - q * size) * strides[d];
      i = q;
    }
    return at + i * strides[0];
  }
};

template <OutDtype D>
struct DeviceOut;
template <>
struct DeviceOut<OutDtype::kFloat32> {
  using type = float;
};
template <>
struct DeviceOut<OutDtype::kFloat64> {
  using type = double;
};
template <>
struct DeviceOut<OutDtype::kFloat16> {
  using type = c10::Half;  // __float2half_rn
};
template <>
struct DeviceOut<OutDtype::kBFloat16> {
  using type = c10::BFloat16;  // __float2bfloat16_rn
};

template <class Out, int N>
struct alignas(sizeof(Out) * N) Pack {
  Out v[N];
};

// Thread j of the grid-stride loop handles counter j: elements j * per_counter - lead, ....
// kAligned: contiguous output whose counter-sized groups are aligned, stored as one vector.
template <OutDtype D, class Transform, class Layout, bool kAligned>
__global__ void fill_kernel(typename DeviceOut<D>::type* out, int64_t n, StreamStart start, Transform transform,
                            Layout layout) {
  using Out = typename DeviceOut<D>::type;
  using Compute = std::conditional_t<D == OutDtype::kFloat64, double, float>;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  core::PhiloxKey key;
  uint64_t g0;
  resolve_stream<Compute>(start, key, g0);
  const int64_t lead = static_cast<int64_t>(g0 % per_counter);
  const uint64_t first_counter = core::counter_of<Compute>(g0);
  const int64_t counters = (lead + n + per_counter - 1) / per_counter;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < counters; j += stride) {
    uint32_t words[4];
    core::philox_words(key, (first_counter + j) & core::kCounterMask<Compute>, words);
    Pack<Out, per_counter> pack;
#pragma unroll
    for (int k = 0; k < per_counter; ++k) {
      pack.v[k] = static_cast<Out>(transform(core::uniform_from_words<Compute>(words, static_cast<uint64_t>(k))));
    }
    const int64_t base = j * per_counter - lead;
    if (kAligned && base >= 0 && base + per_counter <= n) {
      *reinterpret_cast<Pack<Out, per_counter>*>(out + base) = pack;
    } else {
#pragma unroll
      for (int k = 0; k < per_counter; ++k) {
        const int64_t i = base + k;
        if (i >= 0 && i < n) {
          out[layout.offset(i)] = pack.v[k];
        }
      }
    }
  }
}

// Sizes and strides with adjacent dims merged where memory allows, size-1 dims dropped.
StridedLayout strided_layout(const at::Tensor& self) {
  StridedLayout layout{};
  for (int64_t d = 0; d < self.dim(); ++d) {
    const int64_t size = self.size(d);
    const int64_t stride = self.stride(d);
    if (size == 1) {
      continue;
    }
    if (layout.ndim > 0 && layout.strides[layout.ndim - 1] == stride * size) {
      layout.sizes[layout.ndim - 1] *= size;
      layout.strides[layout.ndim - 1] = stride;
      continue;
    }
    TORCH_CHECK(layout.ndim < kMaxDims, "deepinit: tensors of more than ", kMaxDims, " dims are not supported on CUDA");
    layout.sizes[layout.ndim] = size;
    layout.strides[layout.ndim] = stride;
    ++layout.ndim;
  }
  if (layout.ndim == 0) {
    layout.ndim = 1;
    layout.sizes[0] = 1;
    layout.strides[0] = 1;
  }
  return layout;
}

template <OutDtype D, class Transform>
void launch(const at::Tensor& self, const StreamStart& start, const Transform& transform) {
  using Out = typename DeviceOut<D>::type;
  using Compute = std::conditional_t<D == OutDtype::kFloat64, double, float>;
  constexpr int per_counter = core::StreamLayout<Compute>::kElementsPerCounter;
  const int64_t n = self.numel();
  // One extra counter covers an offset that is not a multiple of per_counter.
  const int64_t counters = n / per_counter + 2;
  constexpr int threads = 256;
  const int64_t max_blocks = static_cast<int64_t>(at::cuda::getCurrentDeviceProperties()->multiProcessorCount) * 8;
  const int blocks = static_cast<int>(std::max<int64_t>(1, std::min((counters + threads - 1) / threads, max_blocks)));
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  Out* out = static_cast<Out*>(self.data_ptr());
  if (self.is_contiguous()) {
    const int64_t lead = start.from_generator ? 0 : static_cast<int64_t>(start.offset % per_counter);
    const auto group_start = reinterpret_cast<uintptr_t>(out) - static_cast<uintptr_t>(lead * sizeof(Out));
    if (group_start % sizeof(Pack<Out, per_counter>) == 0) {
      fill_kernel<D, Transform, ContiguousLayout, true>
          <<<blocks, threads, 0, stream>>>(out, n, start, transform, ContiguousLayout{});
    } else {
      fill_kernel<D, Transform, ContiguousLayout, false>
          <<<blocks, threads, 0, stream>>>(out, n, start, transform, ContiguousLayout{});
    }
  } else {
    fill_kernel<D, Transform, StridedLayout, false>
        <<<blocks, threads, 0, stream>>>(out, n, start, transform, strided_layout(self));
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void run_fill(const at::Tensor& self, FillJob job, const StreamRequest& request) {
  if (self.numel() == 0) {
    return;
  }
  const c10::cuda::CUDAGuard guard(self.device());
  StreamStart start{};
  if (request.seed.has_value()) {
    start.seed = static_cast<uint64_t>(*request.seed);
    start.offset = static_cast<uint64_t>(request.offset);
  } else {
    auto* generator = at::get_generator_or_default<at::CUDAGeneratorImpl>(
        request.generator, at::cuda::detail::getDefaultCUDAGenerator(self.device().index()));
    TORCH_CHECK(generator->device() == self.device(), "deepinit: generator is on ", generator->device(),
                " but the tensor is on ", self.device());
    const int64_t per_counter = job.dtype == OutDtype::kFloat64 ? 2 : 4;
    // Reserve the 32-bit words of every counter this call uses, as ATen's kernels do.
    const uint64_t words = 4 * static_cast<uint64_t>((self.numel() + per_counter - 1) / per_counter);
    std::lock_guard<std::mutex> lock(generator->mutex_);
    start.philox = generator->philox_cuda_state(words);
    start.from_generator = true;
  }
  visit_job(job, [&](const auto& transform, auto tag) { launch<decltype(tag)::value>(self, start, transform); });
}

}  // namespace
}  // namespace cuda

int64_t compiled_cuda_version() { return CUDART_VERSION; }

}  // namespace deepinit

TORCH_LIBRARY_IMPL(deepinit, CUDA, m) { deepinit::register_fill_kernels<&deepinit::cuda::run_fill>(m); }
