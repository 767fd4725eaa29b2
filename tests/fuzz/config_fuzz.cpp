// Fuzz target: parse_config on arbitrary text. It throws lmdbg::Error or returns a config whose
// fields are in range; the weight-size estimate never wraps around.
#include <cstdint>
#include <limits>
#include <string_view>

#include "core/error.h"
#include "core/io/config.h"
#include "core/model/weights.h"
#include "fuzz_util.h"

using namespace lmdbg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Config c;
  try {
    c = parse_config(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(c.n_layers >= 1 && c.n_heads >= 1 && c.d_model >= 1 && c.d_mlp >= 1 && c.n_ctx >= 1 && c.d_vocab >= 1);
  FUZZ_CHECK(c.d_model % c.n_heads == 0 && c.d_head() >= 1);
  FUZZ_CHECK(c.ln_eps > 0.f && c.ln_eps < 1.f);
  (void)config_to_json(c);
  // The estimate is at least the f32 size of the matrices (or saturated), never a wrapped small number.
  const double d = c.d_model, m = c.d_mlp;
  const double lower = 4.0 * (c.n_layers * (4.0 * d * d + 2.0 * d * m) + d * c.d_vocab + c.n_ctx * d);
  const size_t est = estimate_weight_bytes(c, kernels::Storage::kF32);
  FUZZ_CHECK(est == std::numeric_limits<size_t>::max() || static_cast<double>(est) >= lower);
  FUZZ_CHECK(estimate_weight_bytes(c, kernels::Storage::kF16) <= est);
  return 0;
}
