// One store of a pack of values to global memory at an address aligned to the pack's size (8 or
// 16 bytes): on the GPU a single vector store (STG.E.64 or STG.E.128, which the compiler would not
// emit through the generic output pointer), on the host a copy.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/platform.h"

namespace deepinit {

template <class Pack>
DEEPINIT_HD void store_global(void* at, const Pack& pack) {
  static_assert(sizeof(Pack) == 16 || sizeof(Pack) == 8);
#if defined(__CUDA_ARCH__)
  uint32_t w[sizeof(Pack) / 4];
  std::memcpy(w, &pack, sizeof w);
  if constexpr (sizeof(Pack) == 16) {
    asm("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(at), "r"(w[0]), "r"(w[1]), "r"(w[2]), "r"(w[3]) : "memory");
  } else {
    asm("st.global.v2.b32 [%0], {%1, %2};" ::"l"(at), "r"(w[0]), "r"(w[1]) : "memory");
  }
#else
  std::memcpy(at, &pack, sizeof pack);
#endif
}

}  // namespace deepinit
