// Fuzz target: Model::load from in-memory files. The first byte picks which file of a small fixture
// checkpoint the rest of the input replaces:
//   0 model.safetensors (whole file)   1 its JSON header (data section kept)   2 config.json
//   3 vocab.json                       4 merges.txt
//   5 the data section of the f32 fixture: bytes 1-4 = offset, the rest overwrites the data there
//     (extreme weights that pass the NaN/Inf check must still give a usable model).
// (byte 0 / 6) % 4 picks how model.safetensors reaches the engine: 0 whole (Model::load), or streamed
// through ModelBuilder (header, then the data in chunks of 977 bytes, 4096 bytes, or cycling 1 / 13 /
// 4099 / 65536 bytes), as the browser does.
// A load either throws lmdbg::Error or gives a model that runs a forward pass, a trace and a few
// sampled generation steps without crashing.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/session/session.h"
#include "fuzz_util.h"

using namespace lmdbg;

namespace {

const fuzz::Files& base_f16() {
  static const fuzz::Files f = fuzz::read_model("l2-f16");
  return f;
}
const fuzz::Files& base_f32() {
  static const fuzz::Files f = fuzz::read_model("l2-f32-prefix");
  return f;
}

std::unique_ptr<Model> load_streamed(const fuzz::Files& f, const LoadOptions& opt, int chunking) {
  ModelBuilder b(f.config, f.vocab, f.merges, opt);
  const auto* p = reinterpret_cast<const uint8_t*>(f.weights.data());
  const size_t n = f.weights.size();
  // The header as the browser gives it: the first 8 + N bytes (or all there is).
  size_t first = n;
  if (n >= 8) {
    const uint64_t hl = fuzz::header_length(f.weights);
    if (hl <= n - 8) first = 8 + hl;
  }
  b.set_header(p, first, n);
  static const size_t cycle[] = {1, 13, 4099, 65536};
  size_t pos = b.header_bytes(), k = 0;
  while (pos < n) {
    const size_t want = chunking == 1 ? 977 : chunking == 2 ? 4096 : cycle[k++ % 4];
    const size_t len = std::min(want, n - pos);
    b.feed(p + pos, len);
    pos += len;
  }
  return b.finish();
}

void exercise(Session& s) {
  const Model& m = s.model();
  const Config& c = m.config();
  const std::vector<int> ids = {1, 2, c.d_vocab - 1};
  State st(m);
  st.forward(ids, {});
  TraceOptions o;
  o.top_k = 3;
  o.all_positions = true;
  o.interventions = {parse_intervention("0:0:on")};
  const Trace t = s.trace(ids, o);
  FUZZ_CHECK(t.positions.size() == ids.size());
  (void)trace_to_json(m, t).dump(-1, ' ', false, io::ojson::error_handler_t::replace);
  Sampling sampling;
  sampling.greedy = false;
  sampling.temperature = 0.7f;
  sampling.top_k = 5;
  auto g = s.generate(ids, {}, sampling);
  for (int i = 0; i < 3 && g->remaining() > 0; ++i) {
    const int tok = g->next();
    FUZZ_CHECK(tok >= 0 && tok < c.d_vocab);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int mode = data[0] % 6;
  const int chunking = (data[0] / 6) % 4;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  fuzz::Files f = mode == 5 ? base_f32() : base_f16();
  switch (mode) {
    case 0: f.weights = rest; break;
    case 1: f.weights = fuzz::with_header(f.weights, rest); break;
    case 2: f.config = rest; break;
    case 3: f.vocab = rest; break;
    case 4: f.merges = rest; break;
    case 5: {
      if (rest.size() < 4) return 0;
      uint32_t off;
      std::memcpy(&off, rest.data(), 4);
      const size_t start = fuzz::header_length(f.weights) + 8;
      const size_t span = f.weights.size() - start;
      const size_t at = start + off % span;
      const size_t n = std::min(rest.size() - 4, f.weights.size() - at);
      std::memcpy(f.weights.data() + at, rest.data() + 4, n);
      break;
    }
  }
  LoadOptions opt;
  opt.memory_limit = 64u << 20;  // refuse configs that would allocate more than the fuzzer's RSS budget
  std::unique_ptr<Session> s;
  try {
    s = std::make_unique<Session>(chunking == 0 ? Model::load(f.view(), opt) : load_streamed(f, opt, chunking));
  } catch (const Error&) {
    return 0;
  }
  try {
    exercise(*s);
  } catch (const Error& e) {
    // A model that loaded must run: an error here is a bug, except "the context is too short" for
    // configs whose n_ctx is below the 3-token prompt, and the documented refusal of an `on` switch
    // whose clean-run score overflows float (finite but extreme weights).
    const bool overflow = std::string(e.what()).find("is not finite") != std::string::npos;
    if (s->model().config().n_ctx >= 3 && !overflow) fuzz::invariant_failed(e.what(), __FILE__, __LINE__);
  }
  return 0;
}
