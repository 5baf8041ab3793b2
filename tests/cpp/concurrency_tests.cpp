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

#include "cpu/contiguous_fill.h"

using namespace deepinit;

namespace {

struct Kernel {
  const char* name;
  cpu::ContiguousFillFn fill;
};

std::vector<Kernel> kernels() {
  std::vector<Kernel> found{{"scalar", &cpu::fill_contiguous_scalar}};
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  if (avx2) {
    found.push_back({"avx2", &cpu::fill_contiguous_avx2});
  }
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    found.push_back({"avx512vl", &cpu::fill_contiguous_avx2_evex});
  }
#endif
  return found;
}

template <class Transform>
FillJob job(FillKind kind, OutDtype dtype, const Transform& transform) {
  FillJob j{};
  j.kind = kind;
  j.dtype = dtype;
  j.key0 = 0x12345678u;
  j.key1 = 0x9abcdef0u;
  store_transform(j, transform);
  return j;
}

std::vector<FillJob> jobs() {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<FillJob> all;
  for (OutDtype d : {OutDtype::kFloat32, OutDtype::kFloat16, OutDtype::kBFloat16}) {
    all.push_back(job(FillKind::kUniform, d, core::UniformTransform<float>{-1.0f, 2.0f}));
    all.push_back(job(FillKind::kNormal, d, core::NormalTransform<float>{0.0f, 1.0f}));
    all.push_back(job(FillKind::kTruncatedNormal, d,
                      core::TruncatedNormalTransform<float>{core::plan_truncated_normal<float>(0, 1, -2, 2, -2, 2)}));
    all.push_back(job(FillKind::kTruncatedNormal, d,
                      core::TruncatedNormalTransform<float>{core::plan_truncated_normal<float>(0, 1, 20, inf, 20, inf)}));
  }
  all.push_back(job(FillKind::kUniform, OutDtype::kFloat64, core::UniformTransform<double>{-1.0, 2.0}));
  all.push_back(job(FillKind::kNormal, OutDtype::kFloat64, core::NormalTransform<double>{0.0, 1.0}));
  all.push_back(job(FillKind::kTruncatedNormal, OutDtype::kFloat64,
                    core::TruncatedNormalTransform<double>{core::plan_truncated_normal<double>(0, 1, 0, 1e-7, 0, 1e-7)}));
  return all;
}

std::size_t bytes_of(OutDtype d) { return d == OutDtype::kFloat64 ? 8 : d == OutDtype::kFloat32 ? 4 : 2; }

}  // namespace

int main() {
  constexpr int kThreads = 8;
  constexpr int64_t kPerThread = 3001;  // odd, so that parts start mid-counter
  constexpr int64_t kTotal = kThreads * kPerThread;
  constexpr uint64_t kOffset = ~uint64_t{0} - 5000;  // wraps past 2^64 inside the buffer
  int failures = 0;
  for (const Kernel& kernel : kernels()) {
    for (const FillJob& j : jobs()) {
      const std::size_t bytes = bytes_of(j.dtype);
      std::vector<unsigned char> serial(kTotal * bytes);
      cpu::fill_contiguous_scalar(j, serial.data(), kOffset, cpu::Runs{1, kTotal, 0, 0});
      std::vector<unsigned char> shared(kTotal * bytes);
      std::vector<std::vector<unsigned char>> own(kThreads, std::vector<unsigned char>(kTotal * bytes));
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          const int64_t begin = t * kPerThread;
          kernel.fill(j, shared.data() + begin * bytes, kOffset + begin, cpu::Runs{1, kPerThread, 0, 0});
          kernel.fill(j, own[t].data(), kOffset, cpu::Runs{1, kTotal, 0, 0});
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
        std::printf("FAIL: kernel %s, kind %d, dtype %d\n", kernel.name, static_cast<int>(j.kind),
                    static_cast<int>(j.dtype));
      }
    }
    std::printf("kernel %s: %s\n", kernel.name, failures ? "FAILED" : "concurrent results equal serial ones");
  }
  return failures ? 1 : 0;
}
