// Runs every CPU kernel (scalar, and AVX2 / AVX-512VL where the CPU has them) from several
// threads at once, on buffers of their own and on disjoint parts of one shared buffer, and
// checks every result against a serial run. Built with -fsanitize=thread by CMake's
// DEEPINIT_SANITIZE=thread (see docs/guarantees.md), it shows the kernels free of data races.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "cpu/kernel_table.h"
#include "test_jobs.h"

using namespace deepinit;

namespace {

struct Kernel {
  const char* name;
  const cpu::KernelTable& table;
};

std::vector<Kernel> kernels() {
  std::vector<Kernel> found{{"scalar", cpu::scalar_kernels()}};
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (avx2) {
    found.push_back({"avx2", cpu::avx2_kernels()});
  }
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    found.push_back({"avx512vl", cpu::avx512vl_kernels()});
  }
#endif
  return found;
}

}  // namespace

int main() {
  constexpr int kThreads = 8;
  constexpr int64_t kPerThread = 3001;  // odd, so that parts start mid-counter
  constexpr int64_t kTotal = kThreads * kPerThread;
  constexpr uint64_t kOffset = ~uint64_t{0} - 5000;  // wraps past 2^64 inside the buffer
  int failures = 0;
  for (const Kernel& kernel : kernels()) {
    testing::for_each_test_job([&](const auto& j, const char* label) {
      const auto fill = testing::kernel_for(kernel.table, j);
      const auto reference = testing::kernel_for(cpu::scalar_kernels(), j);
      const std::size_t bytes = sizeof(typename DtypeTraits<std::decay_t<decltype(j)>::kDtype>::Storage);
      std::vector<unsigned char> serial(kTotal * bytes);
      reference(j, serial.data(), kOffset, cpu::Runs{1, kTotal, 0, 0});
      std::vector<unsigned char> shared(kTotal * bytes);
      std::vector<std::vector<unsigned char>> own(kThreads, std::vector<unsigned char>(kTotal * bytes));
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          const int64_t begin = t * kPerThread;
          fill(j, shared.data() + begin * bytes, kOffset + begin, cpu::Runs{1, kPerThread, 0, 0});
          fill(j, own[t].data(), kOffset, cpu::Runs{1, kTotal, 0, 0});
        });
      }
      for (std::thread& thread : threads) {
        thread.join();
      }
      bool ok = std::memcmp(shared.data(), serial.data(), serial.size()) == 0;
      for (const auto& buffer : own) {
        ok = ok && std::memcmp(buffer.data(), serial.data(), serial.size()) == 0;
      }
      if (!ok) {
        ++failures;
        std::printf("FAIL: kernel %s, %s, %s\n", kernel.name, label,
                    testing::dtype_label(std::decay_t<decltype(j)>::kDtype));
      }
    });
    std::printf("kernel %s: %s\n", kernel.name, failures ? "FAILED" : "concurrent results equal serial ones");
  }
  return failures ? 1 : 0;
}
