// Fuzz target: the request parsers of the JS API. The first byte picks:
//   0 parse_intervention("L:I:mode[@P,...]")    1 interventions_from_json (text parsed as the bindings do)
//   2 trace_options_from_json, then a trace on a small model with what it accepted
//   3 interventions_from_json, then a trace, a cache run and a few generation steps with them
// Parsers throw lmdbg::Error or return values that the engine either runs or rejects with
// lmdbg::Error; nothing else may happen, and the model stays usable (a clean forward pass gives
// bit-identical logits after every input).
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/io/json.h"
#include "core/session/session.h"
#include "fuzz_util.h"

using namespace lmdbg;

namespace {

Session& session() {
  static const auto s = [] {
    const fuzz::Files f = fuzz::read_model("l2-f16");
    return std::make_unique<Session>(Model::load(f.view()));
  }();
  return *s;
}

io::json parsed(std::string_view text) { return io::parse_json(text, "request", ErrorCode::kInvalidArgument); }

const std::vector<int> kIds = {464, 3139, 286, 4881, 318};  // 5 tokens of the 507-token fixture vocabulary

void run_with(const Interventions& ivs) {
  Session& s = session();
  std::vector<int> ids;
  for (int id : kIds) ids.push_back(id % s.model().config().d_vocab);
  TraceOptions o;
  o.interventions = ivs;
  o.all_positions = true;
  o.clean_layers = true;
  (void)trace_to_json(s.model(), s.trace(ids, o)).dump(-1, ' ', false, io::ojson::error_handler_t::replace);
  (void)s.run_with_cache(ids, {}, ivs);
  auto g = s.generate(ids, ivs, Sampling{});
  for (int i = 0; i < 2; ++i) (void)g->next();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  Session& s = session();
  const Model& m = s.model();
  try {
    switch (data[0] % 4) {
      case 0: {
        const Intervention iv = parse_intervention(text);
        // The canonical form parses back to the same intervention.
        const Intervention again = parse_intervention(format_intervention(iv));
        FUZZ_CHECK(again.layer == iv.layer && again.index == iv.index && again.mode == iv.mode &&
                   again.positions == iv.positions);
        break;
      }
      case 1: (void)interventions_from_json(parsed(text)); break;
      case 2: {
        const TraceOptions o = trace_options_from_json(parsed(text));
        std::vector<int> ids;
        for (int id : kIds) ids.push_back(id % m.config().d_vocab);
        const Trace t = s.trace(ids, o);
        (void)trace_to_json(m, t, true).dump(-1, ' ', false, io::ojson::error_handler_t::replace);
        break;
      }
      case 3: run_with(interventions_from_json(parsed(text))); break;
    }
  } catch (const Error&) {
  }
  // Whatever happened, the next clean request gives exactly the logits it gave before.
  static const std::vector<int> probe = {1, 2, 3};
  static const std::vector<float> want = [&] {
    State st(m);
    st.forward(probe);
    return std::vector<float>(st.logits(), st.logits() + m.config().d_vocab);
  }();
  State st(m);
  st.forward(probe);
  FUZZ_CHECK(std::equal(want.begin(), want.end(), st.logits()));
  return 0;
}
