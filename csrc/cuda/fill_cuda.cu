// CUDA backend of the fill ops: thin loops over the torch-free core. Values depend only on each
// element's stream position, never on the launch configuration or the GPU model, and equal the
// CPU's bit for bit (the core uses only correctly rounded operations, and this file is compiled
// with --fmad=false so that nvcc fuses nothing the core did not write).
//
// Two paths: a run of the stream that is one contiguous block of memory (any contiguous
// tensor, and windows of whole rows) goes to the warp-tiled kernel of cuda/warp_fill.h; any
// other layout (windows, strided views, rows picked by id) to groups of lanes a row.
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cuda/generator_rule.h"
#include "cuda/row_fill.h"
#include "cuda/warp_fill.h"
#include "fill_op.h"

namespace deepinit {
namespace cuda {
namespace {

// Any layout that is not one run, as rows of its first dim (layout.h's SliceLayout: the rows of a
// window or of a strided view, or rows picked by id), by groups of lanes a row (row_fill.h).
// Three kernels:
// - fill_aligned_rows_kernel: rows that start on a counter at an aligned address and hold whole
//   counters (row_fill::AlignedRows): every counter one store, no bounds checks;
// - fill_shifted_rows_kernel: any other rows of unit stride that are single runs (a column window
//   from column 5, rows by id of a table whose rows are not whole counters;
//   row_fill::ShiftedRows): values realigned across a group's lanes by warp shuffles, every pack
//   inside the row one store;
// - fill_rows_kernel, the rest (windows of 3 or more dims, strided views): a counter whose
//   elements all lie in the row goes to memory in one store when the row is unit-stride and
//   starts on a counter at an aligned address; the others, out of line, element by element.
using row_fill::kRowLaneCounters;
using row_fill::row_pack;
using row_fill::RowPack;

// The elements of a counter's pack that lie in the row [0, length), `stride` apart.
template <class Storage, int N>
__device__ __noinline__ void store_row_edge(Storage* at, const RowPack<Storage, N> pack, int64_t first,
                                            int64_t length, int64_t stride) {
  for (int k = 0; k < N; ++k) {
    if (first + k >= 0 && first + k < length) {
      at[k * stride] = pack.v[k];
    }
  }
}

// Row i at out + i * memory_stride, its stream at position first + base + id(i) * id_stride, a
// counter's first element (id(i): ids[i] for rows=, else i).
template <OutDtype D, class Transform>
__global__ void __launch_bounds__(256)
    fill_aligned_rows_kernel(typename DtypeTraits<D>::Storage* out, const int64_t* __restrict__ ids, int64_t count,
                             int64_t memory_stride, uint64_t id_stride, row_fill::AlignedRows<D, Transform> rows,
                             uint64_t base, StreamStart start, Transform transform) {
  using Compute = typename DtypeTraits<D>::Compute;
  const core::StreamOrigin origin = origin_on_device<D>(start);
  const core::PhiloxRoundKeys<uint32_t> keys(origin.key);
  const uint64_t counter0 = core::counter_of<Compute>(origin.first + base);
  const uint64_t id_counters = id_stride / DtypeTraits<D>::kElementsPerCounter;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t lane = t & ((int64_t{1} << rows.group_shift) - 1);
  if (!rows.has_counters(lane)) {
    return;
  }
  const int64_t last = rows.last_counter(lane);
  const int64_t groups = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> rows.group_shift;
  for (int64_t row = t >> rows.group_shift; row < count; row += groups) {
    const uint64_t id = static_cast<uint64_t>(ids != nullptr ? ids[row] : row);
    rows.fill_row(out + row * memory_stride, counter0 + id * id_counters, lane, last, keys, transform);
  }
}

// Counter k - 1's values for the lane that makes counter k: those of the lane before it in its
// group (source: that lane's number in the warp), and for the group's first lane those of the
// group's last lane in the slot before (carry). Every lane of the warp calls it together.
template <class Pack>
__device__ __forceinline__ Pack from_previous_lane(const Pack& own, Pack& carry, bool first_lane, int source) {
  constexpr int kWords = sizeof(Pack) / 4;
  uint32_t words[kWords];
  memcpy(words, &own, sizeof own);
#pragma unroll
  for (int k = 0; k < kWords; ++k) {
    words[k] = __shfl_sync(0xffffffffu, words[k], source);
  }
  Pack before;
  memcpy(&before, words, sizeof before);
  const Pack previous = first_lane ? carry : before;
  carry = before;
  return previous;
}

// The round keys in registers of their own: the compiler would otherwise make each again from
// the key before every use (an add each, 20 a counter), as their values are that cheap to make.
// A value passed through a shuffle is one it cannot make again.
__device__ __forceinline__ core::PhiloxRoundKeys<uint32_t> held_in_registers(core::PhiloxRoundKeys<uint32_t> keys) {
#pragma unroll
  for (int round = 0; round < core::kPhiloxRounds; ++round) {
    keys.k0[round] = __shfl_sync(0xffffffffu, keys.k0[round], 0);
    keys.k1[round] = __shfl_sync(0xffffffffu, keys.k1[round], 0);
  }
  return keys;
}

__device__ __forceinline__ unsigned warp_max(unsigned value) {
#if __CUDA_ARCH__ >= 800
  return __reduce_max_sync(0xffffffffu, value);
#else
#pragma unroll
  for (int mask = warp_fill::kWarp / 2; mask > 0; mask /= 2) {
    value = max(value, __shfl_xor_sync(0xffffffffu, value, mask));
  }
  return value;
#endif
}

// Rows of unit stride that are single runs: row i at out + i * memory_stride, its stream at
// position first + base + id(i) * id_stride (id(i): ids[i] for rows=, else i). A warp's groups
// step together (the shuffles take the whole warp): a row's steps run to the longest row of the
// warp, and a group past the last row runs with no packs.
template <OutDtype D, class Transform>
__global__ void __launch_bounds__(256)
    fill_shifted_rows_kernel(typename DtypeTraits<D>::Storage* out, const int64_t* __restrict__ ids, int64_t count,
                             int64_t memory_stride, uint64_t id_stride, int length, int group_shift,
                             uint64_t base, StreamStart start, Transform transform) {
  using Rows = row_fill::ShiftedRows<D, Transform>;
  using Pack = typename Rows::Pack;
  const core::StreamOrigin origin = origin_on_device<D>(start);
  const core::PhiloxRoundKeys<uint32_t> keys = held_in_registers(core::PhiloxRoundKeys<uint32_t>(origin.key));
  const uint64_t g0 = origin.first + base;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int width = 1 << group_shift;
  const int lane = static_cast<int>(t) & (width - 1);
  const int source = (static_cast<int>(threadIdx.x) & (warp_fill::kWarp - width)) | ((lane - 1) & (width - 1));
  const int64_t groups = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> group_shift;
  const int64_t warp_first = (t & ~int64_t{warp_fill::kWarp - 1}) >> group_shift;  // the warp's first group's row
  for (int64_t i0 = warp_first; i0 < count; i0 += groups) {
    const int64_t i = i0 + ((t >> group_shift) - warp_first);
    typename Rows::Row row{};
    if (i < count) {
      const uint64_t id = static_cast<uint64_t>(ids != nullptr ? ids[i] : i);
      row = Rows::row(out + i * memory_stride, g0 + id * id_stride, length);
    }
    const int packs = static_cast<int>(warp_max(static_cast<unsigned>(row.packs)));
    Pack carry{};
    for (int s0 = 0; s0 < packs; s0 += Rows::kCountersPerLane << group_shift) {
      const int slots = (packs - s0 + width - 1) >> group_shift;  // slots of this step that some lane needs
#pragma unroll
      for (int j = 0; j < Rows::kCountersPerLane; ++j) {
        if (j >= slots) {
          break;
        }
        const int k = s0 + (j << group_shift) + lane;
        const Pack own = Rows::counter_values(row, k, keys, transform);
        const Pack previous = from_previous_lane(own, carry, lane == 0, source);
        Rows::store(row, k, previous, own);
      }
    }
  }
}

template <OutDtype D, class Transform>
__global__ void __launch_bounds__(256)
    fill_rows_kernel(typename DtypeTraits<D>::Storage* out, const int64_t* __restrict__ ids, SliceLayout listed,
                     int group_shift, uint64_t base, StreamStart start, Transform transform) {
  using Traits = DtypeTraits<D>;
  using Compute = typename Traits::Compute;
  using Storage = typename Traits::Storage;
  using Pack = RowPack<Storage, Traits::kElementsPerCounter>;
  constexpr int per_counter = Traits::kElementsPerCounter;
  constexpr int counters_per_lane = kRowLaneCounters<Transform>;
  const core::StreamOrigin origin = origin_on_device<D>(start);
  const core::PhiloxRoundKeys<uint32_t> keys(origin.key);
  const uint64_t g0 = origin.first + base;
  const RunLayout& inner = listed.inner;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t group = int64_t{1} << group_shift;
  const int64_t lane = t & (group - 1);
  const int64_t groups = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> group_shift;
  const int64_t total = listed.count * inner.count;
  for (int64_t row = t >> group_shift; row < total; row += groups) {
    int64_t memory = 0;
    uint64_t stream = 0;
    const int64_t id_index = row / inner.count;
    inner.offsets(row - id_index * inner.count, memory, stream);
    memory += id_index * listed.memory_stride;
    const uint64_t id = static_cast<uint64_t>(ids != nullptr ? ids[id_index] : id_index);  // ids: rows=
    const uint64_t g_row = g0 + id * listed.id_stride + stream;
    const int64_t lead = static_cast<int64_t>(g_row % per_counter);
    const int64_t span = (lead + inner.length + per_counter - 1) / per_counter;
    const uint64_t first_counter = core::counter_of<Compute>(g_row);
    Storage* const row_out = out + (memory - lead * inner.run_stride);  // where counter 0's first element goes
    const bool packed = inner.run_stride == 1 && reinterpret_cast<uintptr_t>(row_out) % sizeof(Pack) == 0;
    for (int64_t c0 = lane; c0 < span; c0 += group * counters_per_lane) {
#pragma unroll
      for (int j = 0; j < counters_per_lane; ++j) {
        const int64_t c = c0 + j * group;
        if (c >= span) {
          break;
        }
        const Pack pack = row_pack<D>(first_counter + static_cast<uint64_t>(c), keys, transform);
        const int64_t first = c * per_counter - lead;  // the counter's first element in the row
        if (packed && first >= 0 && first + per_counter <= inner.length) {
          store_global(row_out + c * per_counter, pack);
        } else {
          store_row_edge(out + (memory + first * inner.run_stride), pack, first, inner.length, inner.run_stride);
        }
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
  const core::StreamOrigin origin = origin_on_device<D>(start);
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
void launch_rows(const at::Tensor& self, const int64_t* ids, const SliceLayout& listed, uint64_t base,
                 const StreamStart& start, const Transform& transform);

int row_blocks(int64_t rows, int group_shift, int threads) {
  const int64_t threads_needed = rows << group_shift;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((threads_needed + threads - 1) / threads, max_blocks())));
}

// ids: rows picked by id (rows=), or null for the rows of any other layout.
template <OutDtype D, class Transform>
void launch_rows(const at::Tensor& self, const int64_t* ids, const SliceLayout& listed, uint64_t base,
                 const StreamStart& start, const Transform& transform) {
  using Traits = DtypeTraits<D>;
  using Storage = typename Traits::Storage;
  constexpr int per_counter = Traits::kElementsPerCounter;
  constexpr int threads = 256;
  constexpr size_t pack_bytes = per_counter * sizeof(Storage);
  auto* out = static_cast<Storage*>(self.data_ptr());
  const auto stream = at::cuda::getCurrentCUDAStream();
  const RunLayout& inner = listed.inner;
  // A source's first counter is whole, so the lead of every row is that of the offset, the
  // window and the row's stride.
  const bool aligned_rows = inner.count == 1 && inner.run_stride == 1 && inner.length % per_counter == 0 &&
                            (start.offset + base) % per_counter == 0 && listed.id_stride % per_counter == 0 &&
                            reinterpret_cast<uintptr_t>(out) % pack_bytes == 0 &&
                            (listed.memory_stride * sizeof(Storage)) % pack_bytes == 0;
  if (aligned_rows) {
    const int64_t counters = inner.length / per_counter;
    const int group_shift = row_fill::group_shift_for<Transform>(counters);
    const int blocks = row_blocks(listed.count, group_shift, threads);
    warp_fill::with_fixed_form(transform, [&](const auto& fixed) {
      using Fixed = std::decay_t<decltype(fixed)>;
      const row_fill::AlignedRows<D, Fixed> rows{counters, group_shift};
      fill_aligned_rows_kernel<D><<<blocks, threads, 0, stream>>>(out, ids, listed.count, listed.memory_stride,
                                                                  listed.id_stride, rows, base, start, fixed);
    });
  } else if (inner.count == 1 && inner.run_stride == 1 && inner.length < (int64_t{1} << 31)) {
    // Rows that are single runs, of under 2^31 elements (whose packs a warp counts in 32 bits).
    warp_fill::with_fixed_form(transform, [&](const auto& fixed) {
      using Rows = row_fill::ShiftedRows<D, std::decay_t<decltype(fixed)>>;
      const int group_shift = Rows::group_shift_for(listed.count, inner.length, int64_t{max_blocks()} * threads);
      const int blocks = row_blocks(listed.count, group_shift, threads);
      fill_shifted_rows_kernel<D><<<blocks, threads, 0, stream>>>(out, ids, listed.count, listed.memory_stride,
                                                                  listed.id_stride, static_cast<int>(inner.length),
                                                                  group_shift, base, start, fixed);
    });
  } else {
    const int group_shift = row_fill::group_shift_for<Transform>((inner.length + per_counter - 1) / per_counter);
    const int blocks = row_blocks(listed.count * inner.count, group_shift, threads);
    // A truncated normal's kernel holds its form's code alone, as a contiguous run's does.
    warp_fill::with_fixed_form(transform, [&](const auto& fixed) {
      fill_rows_kernel<D><<<blocks, threads, 0, stream>>>(out, ids, listed, group_shift, base, start, fixed);
    });
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// The CUDA backend of every fill (fill_op.h): launches over the plan's layout.
struct CudaBackend {
  template <OutDtype D, template <class> class Params>
  static void run(const FillPlan<D, Params>& plan) {
    using Storage = typename DtypeTraits<D>::Storage;
    const FillPlacement& placement = plan.placement;
    const c10::cuda::CUDAGuard guard(placement.self->device());
    const auto transform = core::transform_of(plan.params);
    switch (placement.shape) {
      case FillPlacement::Shape::kOneRun:
        warp_fill::with_fixed_form(transform, [&](const auto& fixed) {
          launch_run<D>(static_cast<Storage*>(placement.self->data_ptr()), placement.runs.length, placement.base,
                        placement.start, fixed);
        });
        return;
      case FillPlacement::Shape::kRuns:
        launch_rows<D>(*placement.self, nullptr, slices_of_first_dim(placement.runs), placement.base, placement.start,
                       transform);
        return;
      case FillPlacement::Shape::kPickedSlices:
        launch_rows<D>(*placement.self, placement.ids.const_data_ptr<int64_t>(), placement.slices, placement.base,
                       placement.start, transform);
        return;
    }
  }
};

}  // namespace
}  // namespace cuda

int64_t cuda_runtime_version() { return CUDART_VERSION; }

}  // namespace deepinit

TORCH_LIBRARY_IMPL(deepinit, CUDA, m) { deepinit::register_fills<deepinit::cuda::CudaBackend>(m); }
