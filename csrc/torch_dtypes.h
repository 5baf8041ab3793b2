// torch's dtypes and deepinit's output dtypes (dtypes.h): the fills' dtypes, and the one way a
// dtype is named in a message.
#pragma once

#include <c10/core/ScalarType.h>

#include <string>

#include "dtypes.h"

namespace deepinit {

// "torch.int64", as Python users know the dtype.
std::string dtype_name(c10::ScalarType type);

template <OutDtype D>
constexpr c10::ScalarType scalar_type_of() {
  constexpr c10::ScalarType types[] = {c10::kFloat, c10::kDouble, c10::kHalf, c10::kBFloat16};
  return types[static_cast<int>(D)];
}

template <OutDtype D>
std::string dtype_name() {
  return dtype_name(scalar_type_of<D>());
}

// The output dtype of a fill of a tensor of `type` (RuntimeError naming the dtype, for op `op`,
// when the fills do not write it).
OutDtype out_dtype_of(c10::ScalarType type, const char* op);

}  // namespace deepinit
