// The lmdbg CLI as a user runs it: JSON on stdout, exit 0 / 1 (runtime error) / 2 (usage).
#include <unistd.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/io/safetensors.h"
#include "core/model/model.h"
#include "test_util.h"

using nlohmann::json;

namespace {

struct CliRun {
  int status;
  std::string out;
};

// One stderr file per test process: ctest -j runs the Cli.* tests side by side.
const std::string kStderr = "/tmp/lmdbg_cli_test_stderr." + std::to_string(getpid());

CliRun run(const std::string& args) {
  const std::string cmd = std::string(LMDBG_CLI_PATH) + " " + args + " 2>" + kStderr;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  EXPECT_TRUE(WIFEXITED(st)) << "killed by a signal: " << cmd;
  return {WEXITSTATUS(st), out};
}

std::string stderr_text() { return lmdbg::test::read_text(kStderr); }

const std::string kModel = lmdbg::test::model_dir("l4-f32");

}  // namespace

TEST(Cli, InfoListsConfigAndTensors) {
  const CliRun r = run("info " + kModel);
  ASSERT_EQ(r.status, 0);
  const json j = json::parse(r.out);
  EXPECT_EQ(j["config"]["nLayers"], 4);
  EXPECT_EQ(j["config"]["dVocab"], 507);
  EXPECT_GT(j["tensors"].size(), 50u);
  // The fingerprint without loading is the loader's (computed as the weights stream in).
  EXPECT_EQ(j["fingerprint"], lmdbg::Model::load_dir(kModel)->fingerprint());
  EXPECT_EQ(j["checkpointBytes"], std::filesystem::file_size(kModel + "/model.safetensors"));
}

TEST(Cli, SnapshotWritesASavedView) {
  const std::string out = "/tmp/lmdbg_cli_snapshot." + std::to_string(getpid()) + ".json";
  const CliRun r = run("snapshot " + kModel + " --prompt \"The old man\" --intervene 3:28:set=6 --inactive 1:2:off --view rank --layer 2 " +
                       "--detail L3D28 --name \"A fixture\" --source ./models/l4/ -n 3 --seed 5 --temperature 0.9 -o " + out);
  ASSERT_EQ(r.status, 0) << stderr_text();
  const json j = json::parse(lmdbg::test::read_text(out));
  std::filesystem::remove(out);
  EXPECT_EQ(j["schema"], "lmdbg.snapshot/1");
  EXPECT_EQ(j["model"]["name"], "A fixture");
  EXPECT_EQ(j["model"]["source"], "./models/l4/");
  EXPECT_EQ(j["model"]["fingerprint"], lmdbg::Model::load_dir(kModel)->fingerprint());
  EXPECT_EQ(j["interventions"].size(), 2u);
  EXPECT_EQ(j["interventions"][0]["active"], true);
  EXPECT_EQ(j["interventions"][1]["active"], false);
  EXPECT_EQ(j["trace"]["interventions"].size(), 1u);
  EXPECT_EQ(j["view"]["open"], "rank");
  EXPECT_EQ(j["view"]["layer"], 2);
  EXPECT_EQ(j["view"]["detail"]["index"], 28);
  EXPECT_EQ(j["valueVectors"][0]["name"], "L3D28");
  EXPECT_EQ(j["generation"]["tokens"].size(), 3u);
  EXPECT_EQ(j["generation"]["sampling"]["seed"], 5);
  // A view that does not exist is an error that lists the views; a malformed --detail a usage error.
  EXPECT_EQ(run("snapshot " + kModel + " --prompt hi --view lenz").status, 1);
  EXPECT_NE(stderr_text().find("the views: prediction, layers, lens, rank, attention, compare"), std::string::npos);
  EXPECT_EQ(run("snapshot " + kModel + " --prompt hi --detail L3").status, 2);
  EXPECT_EQ(run("snapshot " + kModel + " --view lens").status, 2);  // no prompt
}

TEST(Cli, TokenizeMatchesReferenceIds) {
  lmdbg::test::Reference ref("l4-f32");
  const auto& c = ref.meta["cases"][2];
  {
    std::ofstream f("/tmp/lmdbg_cli_text.txt", std::ios::binary);
    f << c["text"].get<std::string>();
  }
  const CliRun r = run("tokenize " + kModel + " --text-file /tmp/lmdbg_cli_text.txt --json");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(json::parse(r.out)["ids"], c["ids"]);
}

TEST(Cli, GenerateGreedyWithAndWithoutIntervention) {
  lmdbg::test::Reference ref("l4-f32");
  for (const auto& g : ref.meta["generation"]) {
    std::string ids;
    for (int id : g["prompt_ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    std::string args = "generate " + kModel + " --ids " + ids + " -n 10 --greedy --json";
    for (const auto& iv : lmdbg::test::reference_interventions(g["interventions"]))
      args += " --intervene " + lmdbg::format_intervention(iv);  // neurons and heads
    const CliRun r = run(args);
    ASSERT_EQ(r.status, 0) << stderr_text();
    EXPECT_EQ(json::parse(r.out)["ids"], g["new_ids"]);
  }
}

TEST(Cli, CacheWritesEveryHookAsSafetensors) {
  lmdbg::test::Reference ref("l4-f32");
  const auto& c = ref.meta["cases"][1];
  std::string ids;
  for (int id : c["ids"]) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const CliRun r = run("cache " + kModel + " --ids " + ids + " -o /tmp/lmdbg_cli_cache.safetensors");
  ASSERT_EQ(r.status, 0) << stderr_text();
  const auto bytes = lmdbg::io::FileBytes::read("/tmp/lmdbg_cli_cache.safetensors");
  const auto st = lmdbg::io::parse_safetensors(bytes.data(), bytes.size());
  EXPECT_EQ(st.tensors.size(), 2u + 4 * 16 + 1 + 1);  // embed, pos, 16 per layer, ln_final, logits
  double worst = 0;
  for (const auto& t : st.tensors) {
    const float* want = ref.f32("c1." + t.name);
    worst = std::max(worst, lmdbg::test::max_abs_diff(reinterpret_cast<const float*>(t.data), want, t.numel()));
  }
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(st.find("blocks.2.attn.hook_pattern")->shape, (std::vector<int64_t>{4, 18, 18}));
  EXPECT_EQ(st.find("blocks.2.attn.hook_attn_scores")->shape, (std::vector<int64_t>{4, 18, 18}));
  EXPECT_EQ(st.find("blocks.2.attn.hook_z")->shape, (std::vector<int64_t>{18, 4, 16}));
  EXPECT_EQ(st.find("blocks.2.attn.hook_result")->shape, (std::vector<int64_t>{18, 4, 64}));
  // A subset, with an intervention: hook_post shows it.
  const CliRun r2 = run("cache " + kModel + " --ids " + ids +
                     " --names blocks.1.mlp.hook_post,logits --intervene 1:7:set=2.5 -o /tmp/lmdbg_cli_cache2.safetensors");
  ASSERT_EQ(r2.status, 0) << stderr_text();
  const auto b2 = lmdbg::io::FileBytes::read("/tmp/lmdbg_cli_cache2.safetensors");
  const auto s2 = lmdbg::io::parse_safetensors(b2.data(), b2.size());
  ASSERT_EQ(s2.tensors.size(), 2u);
  const float* post = reinterpret_cast<const float*>(s2.find("blocks.1.mlp.hook_post")->data);
  EXPECT_FLOAT_EQ(post[7], 2.5f);
  EXPECT_FLOAT_EQ(post[256 * 17 + 7], 2.5f);
}

TEST(Cli, TraceValueSearchPrintTheSchema) {
  const CliRun t = run("trace " + kModel + " --prompt \"The old man\" --positions all --intervene 3:28:set=6 --json");
  ASSERT_EQ(t.status, 0) << stderr_text();
  const json j = json::parse(t.out);
  EXPECT_EQ(j["schema"], "lmdbg.trace/1");
  EXPECT_EQ(j["positions"].size(), j["tokens"].size());
  EXPECT_TRUE(j["positions"][0].contains("clean"));
  const CliRun v = run("value " + kModel + " --layer 2 --index 9 --top-k 5 --json");
  ASSERT_EQ(v.status, 0);
  EXPECT_EQ(json::parse(v.out)["top"].size(), 5u);
  const CliRun s = run("search " + kModel + " --keywords river,field --limit 7 --json");
  ASSERT_EQ(s.status, 0);
  EXPECT_EQ(json::parse(s.out)["hits"].size(), 7u);
}

// lmdbg patch: with --layer one patch, without it the sweep; the numbers are the reference's.
TEST(Cli, PatchAndSweepMatchTheReference) {
  const lmdbg::test::Reference ref("l4-f32");
  const json& pair = ref.meta["patching"]["pairs"][0];
  auto ids = [](const json& a) {
    std::string s;
    for (const auto& x : a) s += (s.empty() ? "" : ",") + std::to_string(x.get<int>());
    return s;
  };
  const std::string both = "--source-ids " + ids(pair["source"]["ids"]) + " --ids " + ids(pair["target"]["ids"]);
  for (const auto& pj : ref.meta["patching"]["patches"]) {
    if (pj["pair"] != pair["name"]) continue;
    const json& m = pj["metric"];
    std::string args = "patch " + kModel + " " + both + " --hook " + pj["hook"].get<std::string>() + " --layer " +
                       std::to_string(pj["layer"].get<int>()) + " --metric " + m["type"].get<std::string>() +
                       " --token-id " + std::to_string(m["token"].get<int>());
    if (m.contains("distractor")) args += " --distractor-id " + std::to_string(m["distractor"].get<int>());
    if (!pj["positions"].is_null()) args += " --positions " + ids(pj["positions"]);
    if (pj.contains("head")) args += " --head " + std::to_string(pj["head"].get<int>());  // hook result
    const CliRun r = run(args + " --json");
    ASSERT_EQ(r.status, 0) << args << ": " << stderr_text();
    const json j = json::parse(r.out);
    EXPECT_EQ(j["schema"], "lmdbg.patch/1");
    EXPECT_NEAR(j["metric"].get<double>(), pj["value"].get<double>(), lmdbg::test::kRefTol) << args;
    EXPECT_NEAR(j["clean"].get<double>(), pj["clean"].get<double>(), lmdbg::test::kRefTol) << args;
    EXPECT_EQ(j["options"].value("head", -1), pj.value("head", -1)) << args;
  }
  const json& sw = ref.meta["patching"]["sweeps"][0];
  ASSERT_EQ(sw["pair"], pair["name"]);
  const json& m = sw["metric"];
  const CliRun r = run("patch " + kModel + " " + both + " --hook " + sw["hook"].get<std::string>() + " --metric " +
                       m["type"].get<std::string>() + " --token-id " + std::to_string(m["token"].get<int>()) +
                       " --distractor-id " + std::to_string(m["distractor"].get<int>()) + " --json");
  ASSERT_EQ(r.status, 0) << stderr_text();
  const json j = json::parse(r.out);
  EXPECT_EQ(j["schema"], "lmdbg.patch-sweep/1");
  for (size_t l = 0; l < sw["values"].size(); ++l)
    for (size_t p = 0; p < sw["values"][l].size(); ++p)
      if (!sw["values"][l][p].is_null())
        EXPECT_NEAR(j["metric"][l][p].get<double>(), sw["values"][l][p].get<double>(), lmdbg::test::kRefTol) << l << " " << p;
  // A token given as text must be one token; --positions needs --layer.
  EXPECT_EQ(run("patch " + kModel + " --source \"a b\" --prompt \"c d\" --hook resid_pre --layer 0 --metric logit --token \" xylophone\"").status, 1);
  EXPECT_NE(stderr_text().find("not one"), std::string::npos);
  EXPECT_EQ(run("patch " + kModel + " --source a --prompt b --hook resid_pre --positions 0 --metric logit --token-id 3").status, 2);
}

// Heads in the trace, a head intervention, and the attribution against the reference's first item.
TEST(Cli, TraceHeadsAndAttribute) {
  const CliRun t = run("trace " + kModel + " --prompt \"The old man\" --heads 2 --intervene 1:h3:off --json");
  ASSERT_EQ(t.status, 0) << stderr_text();
  const json tj = json::parse(t.out);
  EXPECT_EQ(tj["positions"][0]["layers"][0]["heads"].size(), 2u);
  EXPECT_EQ(tj["interventions"][0]["head"], 3);
  lmdbg::test::Reference ref("l4-f32");
  const auto& item = ref.meta["attribution"][0];
  std::string ids;
  for (int id : lmdbg::test::case_ids(ref, item["case"])) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  std::string args = "attribute " + kModel + " --ids " + ids + " --target-id " + std::to_string(item["target"].get<int>()) +
                     " --position " + std::to_string(item["position"].get<int>()) + " --neurons " +
                     std::to_string(item["topNeurons"].get<int>()) + " --json";
  if (!item["distractor"].is_null()) args += " --distractor-id " + std::to_string(item["distractor"].get<int>());
  if (item.contains("interventions"))
    for (const auto& iv : lmdbg::test::reference_interventions(item["interventions"]))
      args += " --intervene " + lmdbg::format_intervention(iv);
  const CliRun r = run(args);
  ASSERT_EQ(r.status, 0) << stderr_text();
  const json a = json::parse(r.out);
  EXPECT_NEAR(a["logit"].get<double>(), item["logit"].get<double>(), lmdbg::test::kRefTol);
  ASSERT_EQ(a["components"].size(), item["components"].size());
  double sum = 0;
  for (size_t i = 0; i < a["components"].size(); ++i) {
    EXPECT_EQ(a["components"][i]["name"], item["components"][i]["name"]);
    sum += a["components"][i]["value"].get<double>();
  }
  EXPECT_NEAR(sum, a["logit"].get<double>(), 1e-4);
  // A target text of several tokens is an error that names it.
  const CliRun bad = run("attribute " + kModel + " --prompt \"The old man\" --target \" riverbank walk\" --json");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(stderr_text().find("tokens"), std::string::npos) << stderr_text();
  EXPECT_EQ(run("attribute " + kModel + " --prompt hi --json").status, 2);  // no target
}

TEST(Cli, UsageErrorsExit2RuntimeErrorsExit1) {
  EXPECT_EQ(run("").status, 2);
  EXPECT_EQ(run("frobnicate " + kModel).status, 2);
  EXPECT_EQ(run("generate " + kModel + " --prompt hi").status, 2);                 // missing -n
  EXPECT_EQ(run("generate " + kModel + " --prompt hi -n x").status, 2);            // not a number
  EXPECT_EQ(run("trace " + kModel + " --prompt hi --bogus").status, 2);
  EXPECT_EQ(run("trace " + kModel + " --prompt hi --ids 1").status, 2);
  CliRun r = run("info /nonexistent");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(stderr_text().find("/nonexistent/config.json"), std::string::npos);
  r = run("trace " + kModel + " --prompt hi --intervene 9:0:off");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(stderr_text().find("layer 9 out of range"), std::string::npos);
  EXPECT_EQ(run("generate " + kModel + " --ids 1,99999 -n 2").status, 1);
  EXPECT_EQ(run("value " + kModel + " --layer 0 --index 256").status, 1);
}

// convert: F32 -> F16 must round exactly as PyTorch's .half() does: l4-f16-prefix holds the same
// weights as l4-f32, converted by torch (with the key prefix and the mask buffers, which convert drops).
TEST(Cli, ConvertWritesTheTorchHalfOfEveryWeightAndLoads) {
  const std::string out = "/tmp/lmdbg_cli_convert." + std::to_string(getpid());
  const CliRun r = run("convert " + kModel + " -o " + out);
  ASSERT_EQ(r.status, 0) << stderr_text();
  const json report = json::parse(r.out);
  EXPECT_GT(report["weights"].get<long>(), 100000);
  EXPECT_LT(report["bytesAfter"].get<double>(), 0.51 * report["bytesBefore"].get<double>());

  const auto got_bytes = lmdbg::io::FileBytes::read(out + "/model.safetensors");
  const auto want_bytes = lmdbg::io::FileBytes::read(lmdbg::test::model_dir("l4-f16-prefix") + "/model.safetensors");
  const auto got = lmdbg::io::parse_safetensors(got_bytes.data(), got_bytes.size());
  const auto want = lmdbg::io::parse_safetensors(want_bytes.data(), want_bytes.size());
  size_t compared = 0;
  for (const auto& t : want.tensors) {
    if (t.name.ends_with(".attn.bias") || t.name.ends_with(".attn.masked_bias")) continue;
    const auto* g = got.find(t.name.substr(std::string("transformer.").size()));
    ASSERT_NE(g, nullptr) << t.name;
    EXPECT_EQ(g->dtype, lmdbg::io::TensorDType::kF16) << t.name;
    EXPECT_EQ(g->shape, t.shape) << t.name;
    ASSERT_EQ(g->end - g->begin, t.end - t.begin) << t.name;
    EXPECT_EQ(std::memcmp(g->data, t.data, t.end - t.begin), 0) << t.name << " differs from torch's .half()";
    ++compared;
  }
  EXPECT_EQ(compared, got.tensors.size());
  EXPECT_EQ(lmdbg::test::read_text(out + "/vocab.json"), lmdbg::test::read_text(kModel + "/vocab.json"));

  // It loads and runs: the same trace JSON as the torch-converted fixture.
  const CliRun a = run("trace " + out + " --prompt \"The river\" --json");
  const CliRun b = run("trace " + lmdbg::test::model_dir("l4-f16-prefix") + " --prompt \"The river\" --json");
  ASSERT_EQ(a.status, 0);
  EXPECT_EQ(a.out, b.out);

  // Converting again is the identity; -o MODEL is refused.
  const CliRun again = run("convert " + out + " -o " + out + ".2");
  ASSERT_EQ(again.status, 0);
  EXPECT_EQ(lmdbg::test::read_text(out + ".2/model.safetensors"), lmdbg::test::read_text(out + "/model.safetensors"));
  EXPECT_EQ(run("convert " + out + " -o " + out).status, 2);
  std::filesystem::remove_all(out);
  std::filesystem::remove_all(out + ".2");
}

// convert --dtype q8: the q8 folder (format: docs/weights-format.md, tested in q8_test.cpp) loads with
// --dtype q8 and gives the trace of the f32 folder quantized at load; converting it again is refused.
TEST(Cli, ConvertToQ8LoadsAndMatchesQuantizingAtLoad) {
  const std::string out = "/tmp/lmdbg_cli_convert_q8." + std::to_string(getpid());
  const CliRun r = run("convert " + kModel + " -o " + out + " --dtype q8");
  ASSERT_EQ(r.status, 0) << stderr_text();
  const json report = json::parse(r.out);
  EXPECT_LT(report["bytesAfter"].get<double>(), 0.3 * report["bytesBefore"].get<double>());
  EXPECT_GT(report["maxError"].get<double>(), 0);
  const CliRun a = run("trace " + out + " --dtype q8 --prompt \"The river\" --json");
  const CliRun b = run("trace " + kModel + " --dtype q8 --prompt \"The river\" --json");
  ASSERT_EQ(a.status, 0) << stderr_text();
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(run("convert " + out + " -o " + out + ".2").status, 1);
  EXPECT_NE(stderr_text().find("already q8"), std::string::npos) << stderr_text();
  EXPECT_EQ(run("convert " + kModel + " -o " + out + " --dtype q4").status, 2);
  std::filesystem::remove_all(out);
}
