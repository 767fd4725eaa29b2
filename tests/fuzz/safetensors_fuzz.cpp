// Fuzz target: parse_safetensors on arbitrary bytes. A file either throws lmdbg::Error or yields
// tensors whose byte ranges lie inside the data section, match dtype x shape, and do not overlap;
// such a file is written back out and must parse to the same tensors.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/io/safetensors.h"
#include "fuzz_util.h"

using namespace lmdbg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  io::SafeTensorsView view;
  try {
    view = io::parse_safetensors(data, size, "fuzz.safetensors");
  } catch (const Error&) {
    return 0;
  }
  const uint8_t* base = data + view.header_bytes;
  FUZZ_CHECK(view.header_bytes >= 8 && view.header_bytes <= size);
  const size_t data_size = size - view.header_bytes;
  bool all_known = true;
  unsigned sum = 0;
  for (const auto& t : view.tensors) {
    FUZZ_CHECK(t.begin <= t.end && t.end <= data_size);
    FUZZ_CHECK(t.data == base + t.begin);
    if (t.dtype == io::TensorDType::kOther) {
      all_known = false;
      continue;
    }
    FUZZ_CHECK(t.numel() * io::dtype_size(t.dtype) == t.end - t.begin);
    // Touch the first and last byte: out-of-range offsets show up under ASan.
    if (t.end > t.begin) sum += t.data[0] + t.data[t.end - t.begin - 1];
    (void)t.shape_str();
  }
  // No two non-empty tensors share a byte.
  std::vector<std::pair<size_t, size_t>> ranges;
  for (const auto& t : view.tensors)
    if (t.end > t.begin) ranges.emplace_back(t.begin, t.end);
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) FUZZ_CHECK(ranges[i].first >= ranges[i - 1].second);

  // Round trip through the writer.
  if (all_known) {
    std::vector<io::TensorToWrite> out;
    for (const auto& t : view.tensors) out.push_back({t.name, t.dtype, t.shape, t.data});
    const std::string bytes = io::write_safetensors(out, view.metadata);
    const auto again = io::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "rewritten");
    FUZZ_CHECK(again.tensors.size() == view.tensors.size());
    FUZZ_CHECK(again.metadata == view.metadata);
    for (const auto& t : view.tensors) {
      const auto* u = again.find(t.name);
      FUZZ_CHECK(u && u->dtype == t.dtype && u->shape == t.shape && u->end - u->begin == t.end - t.begin);
      FUZZ_CHECK(std::equal(t.data, t.data + (t.end - t.begin), u->data));
    }
  }
  return static_cast<int>(sum & 0);
}
