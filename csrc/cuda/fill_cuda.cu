// CUDA backend of the fill ops: thin loops over the torch-free core. Values depend only on each
// element's stream position, never on the launch configuration or the GPU model, and equal the
// CPU's bit for bit (the core uses only correctly rounded operations, and this file is compiled
// with --fmad=false so that nvcc fuses nothing the core did not write).
//
// Two kernels: a run of the stream that is one contiguous block of memory (any contiguous
// tensor, and windows of whole rows) goes to the warp-tiled kernel of cuda/warp_fill.h; any
// other layout to a grid-stride loop over (row, counter) items.
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <mutex>

#include "cuda/warp_fill.h"
#include "fill_op.h"
#include "layout.h"

namespace deepinit {
namespace cuda {
namespace {

// Any layout: work item t of the grid-stride loop is Philox counter `slot` of row t / slots, the
// counter holding the row's stream position plus slot, whose elements it writes where they fall
// in the row.
template <OutDtype D, class Transform>
__global__ void fill_rows_kernel(typename DtypeTraits<D>::Storage* out, RowLayout rows, uint64_t base, StreamStart start,
                                 Transform transform) {
  using Traits = DtypeTraits<D>;
  using Compute = typename Traits::Compute;
  constexpr int per_counter = Traits::kElementsPerCounter;
  const core::StreamOrigin origin = start.origin<Compute>();
  const core::PhiloxKey key = origin.key;
  const uint64_t g0 = origin.first + base;
  const int64_t slots = (rows.length + per_counter - 1) / per_counter + 1;
  const int64_t items = rows.count * slots;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < items; t += stride) {
    const int64_t row = t / slots;
    const int64_t slot = t - row * slots;
    int64_t memory;
    uint64_t g_row;
    rows.offsets(row, memory, g_row);
    g_row += g0;
    const int64_t lead = static_cast<int64_t>(g_row % per_counter);
    const int64_t first = slot * per_counter - lead;  // position in the row of the counter's first element
    if (first >= rows.length) {
      continue;
    }
    uint32_t words[4];
    core::philox_words(key, (core::counter_of<Compute>(g_row) + slot) & core::kCounterMask<Compute>, words);
#pragma unroll
    for (int k = 0; k < per_counter; ++k) {
      const int64_t i = first + k;
      if (i >= 0 && i < rows.length) {
        out[memory + i * rows.row_stride] =
            Traits::store(transform(core::bits_from_words<Compute>(words, static_cast<uint64_t>(k))));
      }
    }
  }
}

constexpr int kWarpsPerBlock = 8;

// The warps' tail queues, in the kernel's dynamic shared memory: warp w's is the Capacity values
// from w * Capacity. Indexed from the symbol itself, so that every access is a plain shared one.
extern __shared__ __align__(16) unsigned char shared_queues[];

template <class Compute, int Capacity>
struct WarpQueue {
  int first;
  __device__ __forceinline__ Compute& operator[](int i) const {
    return reinterpret_cast<Compute*>(shared_queues)[first + i];
  }
};

// One tile of a contiguous run, by one warp (warp_fill.h): its lanes generate, queue and solve
// the tails of quantile transforms together in the warp's share of shared memory, and store.
template <class Fill>
using QueueOf = WarpQueue<typename Fill::Compute, Fill::kQueueCapacity>;

template <class Fill, bool kInterior>
__device__ __forceinline__ void fill_tile(const typename Fill::RunT& run, int64_t tile, int lane, QueueOf<Fill> queue) {
  typename Fill::Lane s;
  const int count = Fill::generate(run, tile, lane, s);
  if constexpr (Fill::kCompact) {
    // Where this lane's tails go: an exclusive scan of the counts across the warp.
    int inclusive = count;
#pragma unroll
    for (int shift = 1; shift < warp_fill::kWarp; shift *= 2) {
      const int below = __shfl_up_sync(0xffffffffu, inclusive, shift);
      inclusive += lane >= shift ? below : 0;
    }
    const int total = __shfl_sync(0xffffffffu, inclusive, warp_fill::kWarp - 1);
    Fill::enqueue(s, queue, inclusive - count);
    __syncwarp();
    Fill::solve(queue, total, lane);
    __syncwarp();
    Fill::dequeue(s, queue, inclusive - count);
    __syncwarp();  // before the next tile's enqueue overwrites the queue
  }
  if constexpr (kInterior) {
    Fill::store_interior(run, tile, lane, s);
  } else {
    Fill::store_edge(run, tile, lane, s);
  }
}

// The run's first and last tiles (every tile of an unaligned run): out of line, so that the
// interior loop's code holds no bounds checks.
template <class Fill>
__device__ __noinline__ void fill_edge_tile(const typename Fill::RunT& run, int64_t tile, int lane, QueueOf<Fill> queue) {
  fill_tile<Fill, false>(run, tile, lane, queue);
}

// A contiguous run: each warp takes tiles of the run in turn, interior tiles first.
template <OutDtype D, class Transform>
__global__ void __launch_bounds__(kWarpsPerBlock * warp_fill::kWarp)
    fill_run_kernel(warp_fill::Run<typename DtypeTraits<D>::Storage, Transform> run, StreamStart start, uint64_t base) {
  using Fill = warp_fill::WarpFill<D, Transform>;
  using Compute = typename Fill::Compute;
  // The key and counter are read here: while a graph is being captured the host does not know
  // them (the run's lead in its counter it does know).
  const core::StreamOrigin origin = start.origin<Compute>();
  run.key = origin.key;
  run.base_counter = core::counter_of<Compute>(origin.first + base);
  const int lane = static_cast<int>(threadIdx.x) % warp_fill::kWarp;
  const int warp = static_cast<int>(threadIdx.x) / warp_fill::kWarp;
  const QueueOf<Fill> queue{warp * Fill::kQueueCapacity};
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  const typename Fill::TileRange interior = Fill::interior_tiles(run);
  for (int64_t tile = interior.begin + first; tile < interior.end; tile += stride) {
    fill_tile<Fill, true>(run, tile, lane, queue);
  }
  const int64_t edges = Fill::tiles(run) - (interior.end - interior.begin);
  for (int64_t k = first; k < edges; k += stride) {
    fill_edge_tile<Fill>(run, Fill::edge_tile(interior, k), lane, queue);
  }
}

int max_blocks() { return at::cuda::getCurrentDeviceProperties()->multiProcessorCount * 8; }

template <OutDtype D, class Transform>
void launch_run(typename DtypeTraits<D>::Storage* out, int64_t n, uint64_t base, const StreamStart& start,
                const Transform& transform) {
  using Fill = warp_fill::WarpFill<D, Transform>;
  constexpr int per_counter = Fill::kPerCounter;
  // A source's first counter is whole, so the lead is that of the offset and the window.
  const int lead = static_cast<int>((start.offset + base) % per_counter);
  const bool aligned = (reinterpret_cast<uintptr_t>(out) - lead * sizeof(*out)) % 16 == 0;
  const warp_fill::Run<typename Fill::Storage, Transform> run{out, n, 0, lead, aligned, {}, transform};
  const int64_t tiles = Fill::tiles(run);
  const int blocks = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>((tiles + kWarpsPerBlock - 1) / kWarpsPerBlock, max_blocks())));
  const size_t queue_bytes = Fill::kCompact ? kWarpsPerBlock * Fill::kQueueCapacity * sizeof(typename Fill::Compute) : 0;
  fill_run_kernel<D, Transform>
      <<<blocks, kWarpsPerBlock * warp_fill::kWarp, queue_bytes, at::cuda::getCurrentCUDAStream()>>>(run, start, base);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <OutDtype D, class Transform>
void launch(const at::Tensor& self, const ElementPositions& positions, const StreamStart& start,
            const Transform& transform) {
  using Traits = DtypeTraits<D>;
  using Storage = typename Traits::Storage;
  auto* out = static_cast<Storage*>(self.data_ptr());
  const RowLayout rows = row_layout(self.sizes(), self.strides(), positions);
  if (rows.is_one_run()) {
    warp_fill::with_fixed_form(transform, [&](const auto& fixed) {
      launch_run<D>(out, rows.length, positions.base, start, fixed);
    });
    return;
  }
  constexpr int per_counter = Traits::kElementsPerCounter;
  const int64_t items = rows.count * ((rows.length + per_counter - 1) / per_counter + 1);
  constexpr int threads = 256;
  const int blocks = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((items + threads - 1) / threads, max_blocks())));
  fill_rows_kernel<D, Transform><<<blocks, threads, 0, at::cuda::getCurrentCUDAStream()>>>(out, rows, positions.base,
                                                                                             start, transform);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::CUDAGeneratorImpl* default_or(const std::optional<at::Generator>& generator, c10::Device device) {
  return at::get_generator_or_default<at::CUDAGeneratorImpl>(
      generator, at::cuda::detail::getDefaultCUDAGenerator(device.has_index() ? device.index() : -1));
}

// The CUDA backend of every fill (fill_op.h).
struct CudaBackend {
  template <OutDtype D, template <class> class Params>
  static void fill(const at::Tensor& self, const Params<ComputeOf<D>>& params, const StreamRequest& request) {
    const uint64_t numel = logical_numel(self.sizes(), request);
    // An empty window of a non-empty tensor (a rank's empty shard) still draws, as the whole would.
    if (numel == 0) {
      return;
    }
    const c10::cuda::CUDAGuard guard(self.device());
    const StreamStart start = start_stream(request, self.device(), D, numel);
    if (self.numel() == 0) {
      return;
    }
    launch<D>(self, element_positions(self.sizes(), request), start, core::transform_of(params));
  }
};

}  // namespace
}  // namespace cuda

GeneratorReservation reserve_cuda_counters(const std::optional<at::Generator>& generator, c10::Device device,
                                           uint64_t counters) {
  auto* impl = cuda::default_or(generator, device);
  std::lock_guard<std::mutex> lock(impl->mutex_);
  const at::PhiloxCudaState state = impl->philox_cuda_state(4 * counters);
  if (state.captured_) {
    return {0, 0, reinterpret_cast<const uint64_t*>(state.seed_.ptr), reinterpret_cast<const uint64_t*>(state.offset_.ptr),
            state.offset_intragraph_};
  }
  return {state.seed_.val, state.offset_.val / 4, nullptr, nullptr, 0};
}

int64_t cuda_runtime_version() { return CUDART_VERSION; }

}  // namespace deepinit

TORCH_LIBRARY_IMPL(deepinit, CUDA, m) { deepinit::register_fills<deepinit::cuda::CudaBackend>(m); }
