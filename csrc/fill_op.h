// The fill ops, made from the law catalog (laws.h): their schemas (ops.cpp), and one kernel per
// law for each backend. A kernel unpacks its stream arguments once (StreamArgs), checks the
// tensor, the law's arguments and the stream request, in the order the fakes check them
// (check_fill), decides the output dtype once, plans the fill (fill_plan.h) and hands the plan,
// typed by dtype and law, to its backend:
//
//   Backend::run(const FillPlan<D, Params>& plan)
//
// which only launches its kernels. Nothing is written before every check has passed.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include <optional>
#include <string>
#include <vector>

#include "fill_plan.h"
#include "laws.h"

namespace deepinit {

template <template <class> class Params>
std::string fill_schema() {
  return std::string(Law<Params>::kName) + "(Tensor(a!) self, " + Law<Params>::kParameters + ", *, " +
         kStreamParameters + ") -> ()";
}

// The tensor can be filled: no element shares memory with another (an expanded view), and its
// dtype is one of the four; returns that dtype.
OutDtype check_target(c10::ScalarType dtype, at::IntArrayRef sizes, at::IntArrayRef strides, const char* op);

template <template <class> class Params, class Signature = decltype(&Law<Params>::template plan<OutDtype::kFloat32>)>
struct FillKernel;

template <template <class> class Params, class Planned, class... Args>
struct FillKernel<Params, Planned (*)(Args...)> {
  static constexpr size_t kArity = sizeof...(Args);

  // Every check of a call, in order; then fn(DtypeTag<D>{}, the law's parameters, the request).
  template <class Fn>
  static void checked(c10::ScalarType type, at::IntArrayRef sizes, at::IntArrayRef strides, c10::Device device,
                      Args... args, StreamArgs stream, Fn&& fn) {
    const OutDtype dtype = check_target(type, sizes, strides, Law<Params>::kName);
    with_dtype(dtype, [&](auto tag) {
      const auto params = Law<Params>::template plan<decltype(tag)::value>(args...);
      fn(tag, params, check_stream(sizes, device, std::move(stream)));
    });
  }

  template <class Backend>
  static void run(const at::Tensor& self, Args... args, std::optional<int64_t> seed, int64_t offset,
                  std::optional<at::Generator> generator, at::OptionalIntArrayRef global_shape,
                  at::OptionalIntArrayRef start, const std::optional<at::Tensor>& rows) {
    checked(self.scalar_type(), self.sizes(), self.strides(), self.device(), args...,
            StreamArgs{seed, offset, std::move(generator), global_shape, start, rows},
            [&](auto tag, const auto& params, const StreamRequest& request) {
              constexpr OutDtype D = decltype(tag)::value;
              FillPlacement placement;
              if (place_fill(self, D, request, placement)) {
                Backend::run(FillPlan<D, Params>{params, placement});
              }
            });
  }

  // The checks alone, with the law's arguments as a list (check_fill).
  static void check(c10::ScalarType type, at::IntArrayRef sizes, at::IntArrayRef strides, c10::Device device,
                    at::ArrayRef<double> args, StreamArgs stream) {
    TORCH_CHECK(args.size() == kArity, "deepinit.", Law<Params>::kName, " takes ", kArity, " parameters, but got ",
                args.size());
    check_with(type, sizes, strides, device, args, std::move(stream), std::make_index_sequence<kArity>{});
  }

 private:
  template <size_t... I>
  static void check_with(c10::ScalarType type, at::IntArrayRef sizes, at::IntArrayRef strides, c10::Device device,
                         at::ArrayRef<double> args, StreamArgs stream, std::index_sequence<I...>) {
    checked(type, sizes, strides, device, static_cast<Args>(args[I])..., std::move(stream),
            [](auto, const auto&, const StreamRequest&) {});
  }
};

template <class Backend, template <class> class Params>
void register_fill(torch::Library& m, LawTag<Params>) {
  m.impl(Law<Params>::kName, &FillKernel<Params>::template run<Backend>);
}

// Registers Backend's kernel of every law for the dispatch key of m.
template <class Backend>
void register_fills(torch::Library& m) {
  for_each_law([&](auto law) { register_fill<Backend>(m, law); });
}

// Every fill's name, in the order of core::Laws.
std::vector<std::string> fill_names();

// The fakes' checks (deepinit/_ops.py): a call of fill `name` on a tensor of this dtype, device,
// sizes and strides raises what the kernel would raise, and writes nothing. The ids of rows= are
// checked for their dtype, device and count; their values only by the kernels, which read them.
void check_fill(const std::string& name, c10::ScalarType dtype, c10::Device device, c10::SymIntArrayRef sizes,
                c10::SymIntArrayRef strides, at::ArrayRef<double> params, std::optional<int64_t> seed, int64_t offset,
                std::optional<at::Generator> generator, at::OptionalIntArrayRef global_shape,
                at::OptionalIntArrayRef start, const std::optional<at::Tensor>& rows);

}  // namespace deepinit
