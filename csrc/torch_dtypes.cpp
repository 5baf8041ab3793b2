#include "torch_dtypes.h"

#include <c10/util/Exception.h>

namespace deepinit {

std::string dtype_name(c10::ScalarType type) { return "torch." + std::string(c10::getDtypeNames(type).first); }

OutDtype out_dtype_of(c10::ScalarType type, const char* op) {
  std::optional<OutDtype> found;
  for_each_dtype([&](auto tag) {
    if (type == scalar_type_of<decltype(tag)::value>()) {
      found = decltype(tag)::value;
    }
  });
  TORCH_CHECK(found.has_value(), "deepinit.", op, ": tensor has dtype ", dtype_name(type),
              ", but only float32, float64, float16 and bfloat16 tensors can be filled");
  return *found;
}

}  // namespace deepinit
