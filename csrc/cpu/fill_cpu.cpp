// CPU backend of the fill ops: starts the stream, splits the logical index range over threads
// with at::parallel_for, and hands runs to the instruction-set kernels chosen at load time. A
// value depends only on its logical index, so neither the thread count nor the split changes any
// result.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/capability.h"
#include "cpu/kernel_table.h"
#include "fill_op.h"

namespace deepinit {
namespace cpu {
namespace {

struct Capability {
  const char* name;
  const KernelTable& (*kernels)();
};

std::vector<Capability> available_capabilities() {
  std::vector<Capability> found;
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  const bool avx512vl = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  if (avx512vl) {
    found.push_back({"avx512vl", &avx512vl_kernels});
  }
  if (avx2) {
    found.push_back({"avx2", &avx2_kernels});
  }
#endif
  found.push_back({"scalar", &scalar_kernels});
  return found;  // best first
}

const std::vector<Capability>& capabilities() {
  static const std::vector<Capability> all = available_capabilities();
  return all;
}

const Capability* find_capability(const std::string& name) {
  for (const Capability& c : capabilities()) {
    if (name == c.name) {
      return &c;
    }
  }
  return nullptr;
}

// The best kernel this CPU runs, unless DEEPINIT_CPU_CAPABILITY names another.
const Capability* initial_capability() {
  const char* requested = std::getenv("DEEPINIT_CPU_CAPABILITY");
  if (requested != nullptr && *requested != '\0') {
    const Capability* c = find_capability(requested);
    TORCH_CHECK(c != nullptr, "DEEPINIT_CPU_CAPABILITY=", requested, " is not available on this CPU");
    return c;
  }
  return &capabilities().front();
}

std::atomic<const Capability*>& current_capability() {
  static std::atomic<const Capability*> current{initial_capability()};
  return current;
}


constexpr int64_t kBlock = 1 << 15;     // elements a thread takes at a time
constexpr int64_t kScatterBlock = 512;  // elements staged on the stack for a strided innermost dim

// Calls body(begin, end) on blocks of [0, total), `block` long, which at::get_num_threads()
// threads take in turn from a shared counter: a thread slowed down (by another process on its
// core, or a slower core) takes fewer blocks instead of holding the others back.
template <class Body>
void for_each_block(int64_t total, int64_t block, const Body& body) {
  const int64_t blocks = (total + block - 1) / block;
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), blocks);
  if (threads <= 1 || at::in_parallel_region()) {
    body(0, total);
    return;
  }
  std::atomic<int64_t> next{0};
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    for (int64_t b = next.fetch_add(1); b < blocks; b = next.fetch_add(1)) {
      body(b * block, std::min(total, (b + 1) * block));
    }
  });
}

// Contiguous in memory and in logical order: runs straight into memory. fill(out, g0, runs) is
// the job's kernel.
template <class Fill>
void fill_contiguous(const at::Tensor& self, uint64_t g0, const Fill& fill) {
  auto* base = static_cast<unsigned char*>(self.data_ptr());
  const int64_t bytes = self.element_size();
  for_each_block(self.numel(), kBlock, [&](int64_t begin, int64_t end) {
    fill(base + begin * bytes, g0 + static_cast<uint64_t>(begin), Runs{1, end - begin, 0, 0});
  });
}

// `length` consecutive stream elements from g into memory `stride` elements apart, through a
// small stack buffer.
template <class Fill>
void fill_strided_run(const Fill& fill, unsigned char* dst, uint64_t g, int64_t length, int64_t stride, int64_t bytes) {
  alignas(64) unsigned char staged[kScatterBlock * 8];
  for (int64_t done = 0; done < length; done += kScatterBlock) {
    const int64_t m = std::min(kScatterBlock, length - done);
    fill(staged, g + static_cast<uint64_t>(done), Runs{1, m, 0, 0});
    for (int64_t k = 0; k < m; ++k) {
      std::memcpy(dst + (done + k) * stride * bytes, staged + k * bytes, bytes);
    }
  }
}

// Any other layout: the runs of run_layout (layout.h), walked by each block of its element range
// run by run, generating straight into memory when a run is unit-stride (whole runs along the
// next dim go to the kernel at once, as strided runs), else through a small stack buffer.
// Divisions happen once per block.
template <class Fill>
void fill_run_layout(const at::Tensor& self, uint64_t g0, const RunLayout& layout, const Fill& fill) {
  // The layout's dims, the rows' own last: sizes, memory strides and stream strides.
  const int ndim = layout.outer_dims + 1;
  int64_t sizes[RunLayout::kMaxDims + 1], strides[RunLayout::kMaxDims + 1], stream[RunLayout::kMaxDims + 1];
  for (int d = 0; d < layout.outer_dims; ++d) {
    sizes[d] = layout.sizes[d];
    strides[d] = layout.memory_strides[d];
    stream[d] = layout.stream_strides[d];
  }
  sizes[ndim - 1] = layout.length;
  strides[ndim - 1] = layout.run_stride;
  stream[ndim - 1] = 1;
  auto* base = static_cast<unsigned char*>(self.data_ptr());
  const int64_t bytes = self.element_size();
  const int64_t row = layout.length;
  const int64_t inner_stride = layout.run_stride;
  for_each_block(self.numel(), kBlock, [&](int64_t begin, int64_t end) {
    int64_t index[RunLayout::kMaxDims + 1];
    int64_t rest = begin;
    for (int d = ndim - 1; d >= 0; --d) {
      index[d] = rest % sizes[d];
      rest /= sizes[d];
    }
    int64_t i = begin;
    while (i < end) {
      int64_t offset = 0;
      uint64_t g = g0;
      for (int d = 0; d < ndim; ++d) {
        offset += index[d] * strides[d];
        g += static_cast<uint64_t>(index[d]) * static_cast<uint64_t>(stream[d]);
      }
      unsigned char* dst = base + offset * bytes;
      int64_t run = std::min(end - i, row - index[ndim - 1]);
      if (inner_stride == 1 && ndim >= 2 && index[ndim - 1] == 0 && run == row) {
        // Whole rows along the next dim go to the kernel at once, as strided runs.
        const int64_t count = std::min((end - i) / row, sizes[ndim - 2] - index[ndim - 2]);
        fill(dst, g, Runs{count, row, strides[ndim - 2] * bytes, static_cast<uint64_t>(stream[ndim - 2])});
        run = count * row;
      } else if (inner_stride == 1) {
        fill(dst, g, Runs{1, run, 0, 0});
      } else {
        fill_strided_run(fill, dst, g, run, inner_stride, bytes);
      }
      i += run;
      // Advance the multi-index by `run` elements (which end at a row boundary or at `end`).
      int64_t carry = run;
      for (int d = ndim - 1; d >= 0 && carry > 0; --d) {
        const int64_t total = index[d] + carry;
        index[d] = total % sizes[d];
        carry = total / sizes[d];
      }
    }
  });
}

constexpr int64_t kPickedBlockRows = 512;  // rows of a block of rows picked by id

// Rows picked by id (rows=): blocks of rows, each block's stream starts listed for the kernel
// at once when a row is one run of the stream and of memory (rows of a table, or of a column
// window of one); any other row layout fills each row as a window of its own.
template <class Fill>
void fill_picked_slices(const at::Tensor& self, uint64_t g0, const int64_t* ids, const SliceLayout& listed,
                        const Fill& fill) {
  auto* base = static_cast<unsigned char*>(self.data_ptr());
  const int64_t bytes = self.element_size();
  const RunLayout& inner = listed.inner;
  const int64_t row_elements = inner.count * inner.length;
  const int64_t rows_per_block = std::clamp<int64_t>(kBlock / std::max<int64_t>(row_elements, 1), 1, kPickedBlockRows);
  for_each_block(listed.count, rows_per_block, [&](int64_t row0, int64_t row1) {
    const int64_t rows = row1 - row0;
    uint64_t starts[kPickedBlockRows];
    for (int64_t r = 0; r < rows; ++r) {
      starts[r] = g0 + static_cast<uint64_t>(ids[row0 + r]) * listed.id_stride;
    }
    unsigned char* out = base + row0 * listed.memory_stride * bytes;
    if (inner.is_one_run()) {
      fill(out, 0, Runs{rows, inner.length, listed.memory_stride * bytes, 0, starts});
      return;
    }
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t q = 0; q < inner.count; ++q) {
        int64_t memory;
        uint64_t stream;
        inner.offsets(q, memory, stream);
        unsigned char* row_out = out + (r * listed.memory_stride + memory) * bytes;
        if (inner.run_stride == 1) {
          fill(row_out, starts[r] + stream, Runs{1, inner.length, 0, 0});
        } else {
          fill_strided_run(fill, row_out, starts[r] + stream, inner.length, inner.run_stride, bytes);
        }
      }
    }
  });
}

// The CPU backend of every fill (fill_op.h): threads over the plan's layout, each block handed to
// the instruction set's kernel.
struct CpuBackend {
  template <OutDtype D, template <class> class Params>
  static void run(const FillPlan<D, Params>& plan) {
    const FillPlacement& placement = plan.placement;
    const core::StreamOrigin origin = placement.start.template origin<D>();
    const FillJob<D, Params> job{origin.key, plan.params};
    const RunsFn<D, Params> kernel = current_capability().load()->kernels().template get<D, Params>();
    const auto fill = [&](void* out, uint64_t g0, const Runs& runs) { kernel(job, out, g0, runs); };
    const uint64_t g0 = origin.first + placement.base;
    switch (placement.shape) {
      case FillPlacement::Shape::kOneRun:
        fill_contiguous(*placement.self, g0, fill);
        return;
      case FillPlacement::Shape::kRuns:
        fill_run_layout(*placement.self, g0, placement.runs, fill);
        return;
      case FillPlacement::Shape::kPickedSlices:
        fill_picked_slices(*placement.self, g0, placement.ids.const_data_ptr<int64_t>(), placement.slices, fill);
        return;
    }
  }
};

}  // namespace

std::string set_cpu_capability(const std::string& name) {
  const Capability* c = find_capability(name);
  TORCH_CHECK(c != nullptr, "deepinit: CPU capability '", name, "' is not available on this CPU");
  return current_capability().exchange(c)->name;
}

std::string cpu_capability() { return current_capability().load()->name; }

}  // namespace cpu
}  // namespace deepinit

TORCH_LIBRARY_IMPL(deepinit, CPU, m) { deepinit::register_fills<deepinit::cpu::CpuBackend>(m); }
