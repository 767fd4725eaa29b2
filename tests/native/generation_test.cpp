// Generation over the KV cache (greedy, sampled, with interventions at every step) against the
// float64 PyTorch reference.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/session/session.h"
#include "test_util.h"

using namespace lmdbg;

TEST(Generate, GreedyMatchesReference) {
  for (const char* v : {"l4-f32", "l2-f16"}) {
    auto s = test::session(v);
    test::Reference ref(v);
    int checked = 0;
    for (const auto& g : ref.meta["generation"]) {
      if (!g["interventions"].empty()) continue;
      auto gen = s->generate(g["prompt_ids"].get<std::vector<int>>(), {}, Sampling{});
      std::vector<int> got;
      for (size_t i = 0; i < g["new_ids"].size(); ++i) got.push_back(gen->next());
      EXPECT_EQ(got, g["new_ids"].get<std::vector<int>>()) << v;
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
}

TEST(Generate, SampledIsDeterministicPerSeedAndStopsAtContext) {
  auto session = test::session("l2-f32-prefix");
  const std::vector<int> prompt = {10, 20, 30};
  Sampling s;
  s.greedy = false;
  s.temperature = 1.5f;
  s.top_k = 20;
  s.seed = 7;
  auto run = [&](uint64_t seed) {
    s.seed = seed;
    auto g = session->generate(prompt, {}, s);
    std::vector<int> out;
    for (int i = 0; i < 20; ++i) out.push_back(g->next());
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
  auto g = session->generate(prompt, {}, Sampling{});
  while (g->remaining() > 0) g->next();
  EXPECT_THROW(g->next(), Error);
}

TEST(Generate, WithInterventionsMatchesPyTorch) {
  for (const char* v : {"l4-f32", "l2-f16"}) {
    auto s = test::session(v);
    test::Reference ref(v);
    int with_iv = 0;
    for (const auto& g : ref.meta["generation"]) {
      const Interventions ivs = test::reference_interventions(g["interventions"]);
      auto gen = s->generate(g["prompt_ids"].get<std::vector<int>>(), ivs, Sampling{});
      std::vector<int> got;
      for (size_t i = 0; i < g["new_ids"].size(); ++i) got.push_back(gen->next());
      EXPECT_EQ(got, g["new_ids"].get<std::vector<int>>()) << g["case"] << " with " << ivs.size() << " interventions";
      with_iv += !ivs.empty();
    }
    EXPECT_GT(with_iv, 0) << v;
  }
}
