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

// Any layout, as rows (layout.h): work item t = row * slots + slot is Philox counter `slot` of a
// row, counted from the counter that holds the row's first element, and writes the elements of
// that counter that fall in the row. A thread divides once, for its first item; then it steps by
// the grid's size, `rows_step` rows and `slots_step` slots, carrying a row when the slot passes
// the end.
struct RowWalk {
  int64_t slots;  // counters per row, one more than a row needs when its lead is 0
  int64_t rows_step;
  int64_t slots_step;
};

// Row r's first element in memory and in the stream: without division when the rows are one
// dim's (kOneDim: outer_dims is 1, as in a column window of a matrix).
template <bool kOneDim>
__device__ __forceinline__ void row_offsets(const RowLayout& rows, int64_t row, int64_t& memory, uint64_t& stream) {
  if constexpr (kOneDim) {
    memory = row * rows.memory_strides[0];
    stream = static_cast<uint64_t>(row) * static_cast<uint64_t>(rows.stream_strides[0]);
  } else {
    rows.offsets(row, memory, stream);
  }
}

template <OutDtype D, bool kOneDim, class Transform>
__global__ void __launch_bounds__(256) fill_rows_kernel(typename DtypeTraits<D>::Storage* out, RowLayout rows, RowWalk walk,
                                                        uint64_t base, StreamStart start, Transform transform) {
  using Traits = DtypeTraits<D>;
  using Compute = typename Traits::Compute;
  constexpr int per_counter = Traits::kElementsPerCounter;
  const core::StreamOrigin origin = start.origin<Compute>();
  const core::PhiloxRoundKeys<uint32_t> keys(origin.key);
  const uint64_t g0 = origin.first + base;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t row = t / walk.slots;
  int64_t slot = t - row * walk.slots;
  for (; row < rows.count; row += walk.rows_step, slot += walk.slots_step) {
    if (slot >= walk.slots) {
      slot -= walk.slots;
      if (++row >= rows.count) {
        break;
      }
    }
    int64_t memory;
    uint64_t g_row;
    row_offsets<kOneDim>(rows, row, memory, g_row);
    g_row += g0;
    const int64_t first = slot * per_counter - static_cast<int64_t>(g_row % per_counter);
    if (first >= rows.length) {
      continue;
    }
    const uint64_t counter = (core::counter_of<Compute>(g_row) + static_cast<uint64_t>(slot)) & core::kCounterMask<Compute>;
    uint32_t words[4] = {static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u};
    core::philox4x32_10(words, keys);
    // The counter's elements in memory, from its first (which may lie before the row).
    typename Traits::Storage* const at = out + (memory + first * rows.row_stride);
#pragma unroll
    for (int k = 0; k < per_counter; ++k) {
      const auto value = Traits::store(transform(core::bits_from_words<Compute>(words, static_cast<uint64_t>(k))));
      if (first + k >= 0 && first + k < rows.length) {
        at[k * rows.row_stride] = value;
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
__device__ __forceinline__ void fill_tile(const typename Fill::RunT& run, const core::PhiloxRoundKeys<uint32_t>& keys,
                                          int64_t tile, int lane, QueueOf<Fill> queue) {
  typename Fill::Lane s;
  const int count = Fill::generate(run, keys, tile, lane, s);
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
__device__ __noinline__ void fill_edge_tile(const typename Fill::RunT& run, const core::PhiloxRoundKeys<uint32_t>& keys,
                                            int64_t tile, int lane, QueueOf<Fill> queue) {
  fill_tile<Fill, false>(run, keys, tile, lane, queue);
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
  const core::PhiloxRoundKeys<uint32_t> keys(origin.key);
  const int lane = static_cast<int>(threadIdx.x) % warp_fill::kWarp;
  const int warp = static_cast<int>(threadIdx.x) / warp_fill::kWarp;
  const QueueOf<Fill> queue{warp * Fill::kQueueCapacity};
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  const typename Fill::TileRange interior = Fill::interior_tiles(run);
  for (int64_t tile = interior.begin + first; tile < interior.end; tile += stride) {
    fill_tile<Fill, true>(run, keys, tile, lane, queue);
  }
  const int64_t edges = Fill::tiles(run) - (interior.end - interior.begin);
  for (int64_t k = first; k < edges; k += stride) {
    fill_edge_tile<Fill>(run, keys, Fill::edge_tile(interior, k), lane, queue);
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
  const int64_t slots = (rows.length + per_counter - 1) / per_counter + 1;
  const int64_t items = rows.count * slots;
  constexpr int threads = 256;
  const int blocks = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((items + threads - 1) / threads, max_blocks())));
  const int64_t grid = int64_t{blocks} * threads;
  const RowWalk walk{slots, grid / slots, grid % slots};
  const auto stream = at::cuda::getCurrentCUDAStream();
  if (rows.outer_dims == 1) {
    fill_rows_kernel<D, true, Transform><<<blocks, threads, 0, stream>>>(out, rows, walk, positions.base, start, transform);
  } else {
    fill_rows_kernel<D, false, Transform><<<blocks, threads, 0, stream>>>(out, rows, walk, positions.base, start, transform);
  }
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
