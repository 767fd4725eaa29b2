// The forward pass against the float64 PyTorch reference on every fixture variant.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "core/error.h"
#include "core/kernels/parallel.h"
#include "core/model/forward.h"
#include "core/model/sampler.h"
#include "core/model/model.h"
#include "test_util.h"

using namespace lmdbg;

namespace {

const char* kVariants[] = {"l4-f32", "l4-f16-prefix", "l2-f32-prefix", "l2-f16", "l2-bf16"};
constexpr double kLogitTol = 1e-4;

std::vector<int> ids_of(const nlohmann::json& c) { return c["ids"].get<std::vector<int>>(); }

}  // namespace

class ForwardRef : public ::testing::TestWithParam<const char*> {};

TEST_P(ForwardRef, TokensAndLogitsMatchPyTorch) {
  const std::string v = GetParam();
  auto model = Model::load_dir(test::model_dir(v));
  test::Reference ref(v);
  const int V = model->config().d_vocab;
  double worst = 0;
  for (const auto& c : ref.meta["cases"]) {
    const auto ids = ids_of(c);
    EXPECT_EQ(model->tokenizer().encode(c["text"].get<std::string>()), ids) << v << " " << c["name"];
    State st(*model);
    ForwardOptions opt;
    opt.all_logits = true;
    st.forward(ids, opt);
    size_t n = 0;
    const float* want = ref.f32(c["name"].get<std::string>() + ".logits", &n);
    ASSERT_EQ(n, ids.size() * V);
    const double d = test::max_abs_diff(st.logits(), want, n);
    worst = std::max(worst, d);
    EXPECT_LT(d, kLogitTol) << v << " " << c["name"];
  }
  std::printf("[ maxdiff  ] %s logits (all positions, all cases): %.3g\n", v.c_str(), worst);
}

class HookDump : public ::testing::TestWithParam<const char*> {};

TEST_P(HookDump, EveryHookMatchesPyTorch) {
  const std::string v = GetParam();
  test::Reference ref(v);
  auto model = Model::load_dir(test::model_dir(v));
  const Config& cfg = model->config();
  double worst = 0;
  std::string worst_name;
  for (const auto& c : ref.meta["cases"]) {
    const std::string cn = c["name"];
    const auto ids = ids_of(c);
    State st(*model);
    ForwardOptions opt;
    opt.keep = HookSet::all();
    st.forward(ids, opt);
    for (const auto& name : all_hook_names(cfg.n_layers)) {
      const auto r = *parse_hook_name(name, cfg.n_layers);
      size_t n = 0;
      const float* want = ref.f32(cn + "." + name, &n);
      const int T = static_cast<int>(ids.size());
      ASSERT_EQ(n, static_cast<size_t>(T) * st.hook_width(r.hook)) << name;
      const double d = test::max_abs_diff(st.hook(r.hook, r.layer), want, n);
      if (d > worst) worst = d, worst_name = cn + "." + name;
      EXPECT_LT(d, kLogitTol) << v << " " << cn << "." << name;
    }
  }
  std::printf("[ maxdiff  ] %s hooks: %.3g (%s)\n", v.c_str(), worst, worst_name.c_str());
}

TEST_P(ForwardRef, KvCacheStepwiseEqualsFullPrompt) {
  const std::string v = GetParam();
  auto model = Model::load_dir(test::model_dir(v));
  test::Reference ref(v);
  const auto ids = ids_of(ref.meta["cases"][1]);
  const int V = model->config().d_vocab;
  const float* want = ref.f32("c1.logits");
  State st(*model);
  double worst = 0;
  // Uneven chunks: 1, 2, 3, ... tokens at a time.
  size_t pos = 0;
  for (size_t chunk = 1; pos < ids.size(); ++chunk) {
    const size_t n = std::min(chunk, ids.size() - pos);
    st.forward(std::span<const int>(ids).subspan(pos, n));
    pos += n;
    worst = std::max(worst, test::max_abs_diff(st.logits(), want + (pos - 1) * V, V));
  }
  EXPECT_EQ(st.n_past(), static_cast<int>(ids.size()));
  EXPECT_LT(worst, kLogitTol);
  // Rewind and re-run the tail: same result.
  st.truncate(5);
  st.forward(std::span<const int>(ids).subspan(5));
  EXPECT_LT(test::max_abs_diff(st.logits(), want + (ids.size() - 1) * V, V), kLogitTol);
}

std::string variant_name(const ::testing::TestParamInfo<const char*>& info) {
  std::string s = info.param;
  for (auto& ch : s)
    if (ch == '-') ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ForwardRef, ::testing::ValuesIn(kVariants), variant_name);
// Only these two variants have a dump of every hook.
INSTANTIATE_TEST_SUITE_P(Fixtures, HookDump, ::testing::Values("l4-f32", "l2-f16"), variant_name);

TEST(Forward, F16StorageOfF32ModelStaysClose) {
  LoadOptions opt;
  opt.storage = kernels::Storage::kF16;
  auto m16 = Model::load_dir(test::model_dir("l4-f32"), opt);
  auto m32 = Model::load_dir(test::model_dir("l4-f32"));
  EXPECT_LT(m16->weights().bytes(), m32->weights().bytes() * 0.6);
  test::Reference ref("l4-f32");
  const auto ids = ids_of(ref.meta["cases"][1]);
  State st(*m16);
  st.forward(ids, {});
  const int V = m16->config().d_vocab;
  const double d = test::max_abs_diff(st.logits(), ref.f32("c1.logits") + (ids.size() - 1) * V, V);
  std::printf("[ maxdiff  ] l4-f32 with f16 storage, last logits: %.3g\n", d);
  EXPECT_LT(d, 0.05);
}

TEST(Forward, BadInputsThrowAndStateStaysUsable) {
  auto model = Model::load_dir(test::model_dir("l2-f16"));
  State st(*model);
  const int n_ctx = model->config().n_ctx;
  EXPECT_THROW(st.forward(std::vector<int>{}), Error);
  EXPECT_THROW(st.forward(std::vector<int>{1, 99999}), Error);
  EXPECT_THROW(st.forward(std::vector<int>{-1}), Error);
  EXPECT_THROW(st.forward(std::vector<int>(n_ctx + 1, 5)), Error);
  EXPECT_EQ(st.n_past(), 0);
  st.forward(std::vector<int>(n_ctx, 5));
  EXPECT_EQ(st.n_past(), n_ctx);
  try {
    st.forward(std::vector<int>{5});
    FAIL() << "expected an error past n_ctx";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the model's context of 64"), std::string::npos) << e.what();
  }
  EXPECT_EQ(st.n_past(), n_ctx);
}

TEST(ForwardOptions, NoLogitsSkipsTheUnembeddingAndKeepsHooks) {
  auto m = Model::load_dir(test::model_dir("l4-f32"));
  const auto ids = m->tokenizer().encode("The capital of France is");
  State a(*m), b(*m);
  ForwardOptions oa, ob;
  oa.keep.add(Hook::kResidPost);
  ob.keep.add(Hook::kResidPost);
  ob.logits = false;
  a.forward(ids, oa);
  b.forward(ids, ob);
  EXPECT_EQ(b.logits_rows(), 0);
  EXPECT_EQ(a.logits_rows(), 1);
  const size_t n = ids.size() * m->config().d_model;
  for (int l = 0; l < m->config().n_layers; ++l)
    EXPECT_EQ(0, std::memcmp(a.hook(Hook::kResidPost, l), b.hook(Hook::kResidPost, l), n * 4));
}

// A HookEditor sees every editable hook at absolute positions, and what it writes is what the pass
// continues from: zeroing mlp.hook_post of a layer at one position equals a run without that FFN
// output there (mlp_out = b_out).
TEST(ForwardOptions, EditorEditsHooksInPlace) {
  auto m = Model::load_dir(test::model_dir("l4-f32"));
  const auto ids = m->tokenizer().encode("The capital of France is");
  const int d_mlp = m->config().d_mlp, d = m->config().d_model, T = static_cast<int>(ids.size());
  struct ZeroPost : HookEditor {
    int calls = 0;
    mutable int seen = 0;
    HookSet edits() const override { return HookSet{}.add(Hook::kMlpPost).add(Hook::kResidPre); }
    void edit(Hook h, int layer, int p0, int n, int width, float* x) const override {
      ++seen;
      if (h == Hook::kMlpPost && layer == 2)
        for (int i = 0; i < width; ++i) x[static_cast<size_t>(n - 1) * width + i] = 0.f;
      EXPECT_EQ(p0, 0);
    }
  } editor;
  State st(*m);
  ForwardOptions o;
  o.keep.add(Hook::kMlpPost).add(Hook::kMlpOut);
  o.editor = &editor;
  st.forward(ids, o);
  EXPECT_EQ(editor.seen, 2 * m->config().n_layers);
  const float* post = st.hook(Hook::kMlpPost, 2) + static_cast<size_t>(T - 1) * d_mlp;
  for (int i = 0; i < d_mlp; ++i) ASSERT_EQ(post[i], 0.f);
  const float* out = st.hook(Hook::kMlpOut, 2) + static_cast<size_t>(T - 1) * d;
  for (int i = 0; i < d; ++i) ASSERT_EQ(out[i], m->weights().layers[2].W_out.bias(i));
  // The pattern is computed inside attention and cannot be edited.
  struct Pattern : HookEditor {
    HookSet edits() const override { return HookSet{}.add(Hook::kPattern); }
    void edit(Hook, int, int, int, int, float*) const override {}
  } bad;
  o.editor = &bad;
  State st2(*m);
  EXPECT_THROW(st2.forward(ids, o), Error);
}

// Every op of the forward pass splits over the threads without changing a bit, and the profile
// (tests/bench/forward_phases.cpp) counts each phase's kernel calls and fork-joins.
TEST(Forward, ThreadCountsAgreeBitwiseAndProfileCountsPhases) {
  auto model = Model::load_dir(test::model_dir("l4-f32"));
  const Config& c = model->config();
  std::vector<int> ids(c.n_ctx);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>((i * 37 + 11) % c.d_vocab);
  const int saved = kernels::num_threads();
  const Hook kept[] = {Hook::kLn1, Hook::kZ, Hook::kPattern, Hook::kMlpPost, Hook::kResidPost};
  auto run = [&](int threads, ForwardProfile* prof) {
    kernels::set_num_threads(threads);
    auto st = std::make_unique<State>(*model);
    ForwardOptions opt;
    opt.all_logits = true;
    for (Hook h : kept) opt.keep.add(h);
    opt.profile = prof;
    st->forward(ids, opt);
    return st;
  };
  ForwardProfile p1, p2;
  const auto one = run(1, &p1);
  for (int nt : {2, 3}) {
    const auto st = run(nt, nt == 2 ? &p2 : nullptr);
    const size_t n = ids.size() * c.d_vocab;
    EXPECT_EQ(std::memcmp(st->logits(), one->logits(), n * 4), 0) << nt << " threads: logits";
    for (Hook h : kept)
      for (int l = 0; l < c.n_layers; ++l)
        ASSERT_EQ(std::memcmp(st->hook(h, l), one->hook(h, l), ids.size() * st->hook_width(h) * 4), 0)
            << nt << " threads: " << hook_suffix(h) << " of layer " << l;
  }
  kernels::set_num_threads(saved);
  const int L = c.n_layers;
  for (const ForwardProfile* p : {&p1, &p2}) {
    EXPECT_EQ(p->calls[static_cast<int>(Phase::kLayerNorm)], 2 * L + 1);
    EXPECT_EQ(p->calls[static_cast<int>(Phase::kQkv)], L);
    EXPECT_EQ(p->calls[static_cast<int>(Phase::kAttention)], L);
    EXPECT_EQ(p->calls[static_cast<int>(Phase::kUnembed)], 1);
    for (int i = 0; i < kPhaseCount; ++i) {
      EXPECT_GE(p->seconds[i], 0) << phase_name(static_cast<Phase>(i));
      EXPECT_LE(p->caller_tasks[i], p->tasks[i]);
    }
  }
  for (int i = 0; i < kPhaseCount; ++i) EXPECT_EQ(p1.jobs[i], 0) << "1 thread: no fork-join";
  EXPECT_EQ(p2.jobs[static_cast<int>(Phase::kOther)], 0);
  if (kernels::max_threads() > 1) {  // the QKV GEMM and the unembedding are large enough to split
    EXPECT_EQ(p2.jobs[static_cast<int>(Phase::kQkv)], L);
    EXPECT_EQ(p2.jobs[static_cast<int>(Phase::kUnembed)], 1);
    EXPECT_GE(p2.tasks[static_cast<int>(Phase::kQkv)], 2 * L);
  }
}
