#include "value_vectors.h"

#include <algorithm>
#include <charconv>

#include "core/error.h"
#include "core/kernels/gemm.h"

namespace lmdbg {

namespace {
constexpr int kBatch = 32;  // rows per GEMM: keeps the [rows, V] buffer small (6 MB for GPT-2)
}

std::vector<ValueVectorTokens> value_vector_tokens(const Model& m, const std::vector<ValueVectorRef>& refs, int top_k,
                                                   int bottom_k) {
  const Config& c = m.config();
  for (const auto& r : refs) m.check_neuron(r.layer, r.index);
  if (top_k < 0 || bottom_k < 0 || top_k > c.d_vocab || bottom_k > c.d_vocab)
    invalid("value vectors: top-k must be in [0, " + std::to_string(c.d_vocab) + "]");
  std::vector<ValueVectorTokens> out(refs.size());
  std::vector<float> a(static_cast<size_t>(kBatch) * c.d_model);
  std::vector<float> logits(static_cast<size_t>(kBatch) * c.d_vocab);
  for (size_t b0 = 0; b0 < refs.size(); b0 += kBatch) {
    const int n = static_cast<int>(std::min<size_t>(kBatch, refs.size() - b0));
    for (int j = 0; j < n; ++j) m.value_vector(refs[b0 + j].layer, refs[b0 + j].index, a.data() + j * c.d_model);
    kernels::gemm(logits.data(), c.d_vocab, a.data(), c.d_model, n, m.weights().unembed);
    for (int j = 0; j < n; ++j) {
      const auto& r = refs[b0 + j];
      auto& o = out[b0 + j];
      o.layer = r.layer;
      o.index = r.index;
      o.norm = m.weights().layers[r.layer].value_norms[r.index];
      const float* row = logits.data() + static_cast<size_t>(j) * c.d_vocab;
      o.top = top_tokens(row, c.d_vocab, top_k, false, true);
      o.bottom = top_tokens(row, c.d_vocab, bottom_k, false, false);
    }
  }
  return out;
}

std::vector<float> value_projection(const Model& m, int layer, int index) {
  m.check_neuron(layer, index);
  const Config& c = m.config();
  std::vector<float> v(c.d_model), r(c.d_vocab);
  m.value_vector(layer, index, v.data());
  kernels::gemm(r.data(), c.d_vocab, v.data(), c.d_model, 1, m.weights().unembed);
  return r;
}

std::string value_vector_name(int layer, int index) { return "L" + std::to_string(layer) + "D" + std::to_string(index); }

ValueVectorRef parse_value_vector_name(const std::string& s) {
  ValueVectorRef r;
  const char* p = s.data();
  const char* end = s.data() + s.size();
  auto fail_parse = [&] { invalid("\"" + s + "\" is not a value-vector name like L12D34"); };
  if (p == end || (*p != 'L' && *p != 'l')) fail_parse();
  auto [q, ec] = std::from_chars(p + 1, end, r.layer);
  if (ec != std::errc() || q == end || (*q != 'D' && *q != 'd')) fail_parse();
  auto [e, ec2] = std::from_chars(q + 1, end, r.index);
  if (ec2 != std::errc() || e != end) fail_parse();
  return r;
}

}  // namespace lmdbg
