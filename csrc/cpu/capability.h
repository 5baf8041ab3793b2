// Which CPU kernel runs (fill_cpu.cpp): the best this CPU has ("avx512vl", "avx2", "scalar"),
// unless the environment variable DEEPINIT_CPU_CAPABILITY or set_cpu_capability names another,
// for tests and benchmarks that compare instruction sets. set_cpu_capability returns the
// previous choice.
#pragma once

#include <string>

namespace deepinit {
namespace cpu {

std::string set_cpu_capability(const std::string& name);
std::string cpu_capability();

}  // namespace cpu
}  // namespace deepinit
