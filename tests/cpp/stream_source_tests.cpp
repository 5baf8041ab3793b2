// The stream sources on the host: the reservations of a CUDA generator's state, captured by a
// CUDA graph or not, driven without a GPU (ATen's PhiloxCudaState is a plain struct, and a
// capture's seed and offset are two int64 in memory that the kernels read at each replay), and
// the two ways a stream starts: one fill (StreamSource::start) and several fills split from one
// reservation (StreamSource::split, which sparse_ and a DTensor's several local shards use).
// They agree on the key and the first position; a split of a captured reservation is refused in
// one line, since its values exist on the device only. Built with torch's headers (CMake,
// DEEPINIT_BUILD_OPS).
#include <c10/util/Exception.h>

#include <cstdio>
#include <string>

#include "cuda/generator_rule.h"
#include "stream_source.h"

using namespace deepinit;

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what);
  }
}

// A source whose reservations are given, as a CUDA generator's would be by ATen: start and split
// through StreamSource's own code, with reserve() answered by `state`.
struct Given {
  at::PhiloxCudaState state;
  uint64_t words_asked = 0;  // what the last reservation asked ATen for, in 32-bit words
};

Given* given = nullptr;

}  // namespace

// The CUDA rule, as a CPU-only build lacks it: ATen's answer is `given`'s state.
namespace deepinit {
Reservation reserve_cuda_counters(const std::optional<at::Generator>&, c10::Device, uint64_t counters) {
  given->words_asked = kWordsPerCounter * counters;
  return reservation_of(given->state);
}
}  // namespace deepinit

int main() {
  const c10::Device cuda(c10::DeviceType::CUDA, 0);
  const std::optional<at::Generator> default_generator;
  const StreamSource source(std::nullopt, default_generator, cuda);

  // Not captured: a seed and an offset of 12 words (3 counters) in.
  Given plain{at::PhiloxCudaState(0x1234abcdULL, 12)};
  given = &plain;
  const StreamStart start = source.start(OutDtype::kFloat32, 0, 10);  // 10 floats: 3 counters
  check(!start.reservation.is_captured(), "a plain state is not captured");
  check(plain.words_asked == 12, "one fill of 10 float32 values reserves 3 counters, 12 words");
  const core::StreamOrigin origin = start.origin<OutDtype::kFloat32>();
  const std::vector<int64_t> split = source.split(0, {OutDtype::kFloat32, OutDtype::kFloat64}, {10, 3});
  check(split.size() == 3, "a split gives the key and a position per fill");
  check(static_cast<uint64_t>(split[0]) == 0x1234abcdULL, "the key's seed is the generator's seed");
  check(core::philox_key_from_seed(static_cast<uint64_t>(split[0])).k0 == origin.key.k0 &&
            core::philox_key_from_seed(static_cast<uint64_t>(split[0])).k1 == origin.key.k1,
        "split and start give the same key");
  check(static_cast<uint64_t>(split[1]) == origin.first, "split and start give the same first position");
  check(static_cast<uint64_t>(split[1]) == 3 * 4, "the first position is the reserved counter's first element");
  // The float64 fill starts on the counter after the float32 fill's 3: counter 3 + 3, position 12.
  check(static_cast<uint64_t>(split[2]) == (3 + 3) * 2, "the second fill starts on a counter of its own");
  check(plain.words_asked == (3 + 2) * 4, "a split reserves every counter its fills use");

  // Captured: the seed and the offset are read where ATen keeps them, at each replay.
  int64_t seed_in_memory = 0x5eed;
  int64_t words_in_memory = 40;
  Given captured{at::PhiloxCudaState(&seed_in_memory, &words_in_memory, 8)};
  given = &captured;
  const StreamStart replayed = source.start(OutDtype::kBFloat16, 5, 100);
  check(replayed.reservation.is_captured(), "a captured state stays captured in the start");
  check(replayed.reservation.captured.seed_.ptr == &seed_in_memory &&
            replayed.reservation.captured.offset_.ptr == &words_in_memory &&
            replayed.reservation.captured.offset_intragraph_ == 8,
        "the start keeps where the replay reads the seed and the offset");
  check(replayed.offset == 5, "the start keeps the element offset");
  bool refused = false;
  try {
    source.split(0, {OutDtype::kFloat32}, {10});
  } catch (const c10::Error& error) {
    const std::string message = error.what_without_backtrace();
    refused = message.find("CUDA graph") != std::string::npos && message.find('\n') == std::string::npos;
  }
  check(refused, "a split of a captured reservation is refused in one line");

  // A seed: the key is the seed and the counters start at 0, whatever the generator holds.
  const StreamSource seeded(int64_t{42}, default_generator, cuda);
  check(seeded.start(OutDtype::kFloat64, 7, 3).origin<OutDtype::kFloat64>().first == 7,
        "a seed's stream starts at its offset");
  check(seeded.split(7, {OutDtype::kFloat64}, {3})[1] == 7, "so does its split");

  std::printf("stream sources: %s\n", failures ? "FAILED" : "starts and splits agree; captures are refused");
  return failures ? 1 : 0;
}
