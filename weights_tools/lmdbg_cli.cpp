// lmdbg: the native command line. MODEL is a Hugging Face layout folder
// (config.json, model.safetensors, vocab.json, merges.txt).
// Exit status: 0 ok, 1 runtime error (message on stderr), 2 bad arguments (usage on stderr).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/analysis/analysis_json.h"
#include "core/error.h"
#include "core/io/files.h"
#include "core/io/safetensors.h"
#include "core/model/convert.h"
#include "core/session/session.h"

using nlohmann::json;
namespace {

const char* kUsage = R"(usage: lmdbg COMMAND MODEL [options]

commands:
  info MODEL                                   config, weights fingerprint and tensor table
  tokenize MODEL (--text T | --text-file F) [--allow-special] --json
  generate MODEL (--prompt T | --ids 1,2,3) -n N [--greedy | --temperature X --top-k K --seed S]
                 [--intervene SPEC]... --json
  cache MODEL (--prompt T | --ids 1,2,3) [--names a,b] [--intervene SPEC]... -o OUT.safetensors
  trace MODEL (--prompt T | --ids 1,2,3) [--top-k K] [--positions all|i,j] [--sub-updates N]
              [--value-top-k K] [--raw-lens] [--attention] [--heads N] [--track ID,ID] [--intervene SPEC]... --json
              --heads N: the N largest heads of each layer (default: all of a model with at most
              64 heads, else 3; 0 = none)
  patch MODEL (--source T | --source-ids 1,2) (--prompt T | --ids 1,2,3) --hook HOOK [--head H]
              [--layer L [--positions all|i,j]] --metric logit|prob|logitDiff
              (--token T | --token-id N) [--distractor T | --distractor-id N] --json
                             the target (--prompt) with HOOK (resid_pre, attn_out, resid_mid,
                             mlp_out, resid_post, or result with --head H: one head's output)
                             of layer L taken from the source; without --layer, the sweep over
                             every layer and position
  snapshot MODEL --prompt T [--intervene SPEC]... [--inactive SPEC]... [--view NAME] [--layer L]
              [--detail L9D1234] [--name NAME] [--source SOURCE] [--names FILE] [--allow-special]
              [-n N [--greedy | --temperature X --top-k K --seed S]] [-o FILE]
                             a saved view (docs/snapshot-schema.md) that a page, an embed or
                             <lm-debugger> draws without the model; --source says where "Make it
                             live" loads the model from (hub:ID, or a URL relative to the page)
  attribute MODEL (--prompt T | --ids 1,2,3) (--target TEXT | --target-id ID)
                  [--distractor TEXT | --distractor-id ID] [--position P] [--neurons N]
                  [--intervene SPEC]... --json
                  the final logit of the target (minus the distractor's) split into additive parts:
                  embeddings, each head, each FFN sub-update (the N largest, default 10; the rest
                  summed per layer), the biases; ln_f's scale frozen at position P (default: last)
  value MODEL --layer L --index I [--top-k K] --json
  search MODEL --keywords a,b [--limit N] [--top-k K] [--ranking zscore|lmdebugger] --json
  cluster MODEL [--k K] [--iterations N] [--seed S] [-o FILE]   (default MODEL/value_clusters.json)
  index MODEL [-o FILE]      every value vector's top/bottom tokens and the search statistics
                             (default MODEL/value_index.bin, read by trace/value/search)
  convert MODEL -o DIR [--dtype f16|q8]
                             the checkpoint with F16 weights (half the download; the default) or q8
                             weights (int8 + scales, about a quarter; approximate results,
                             docs/weights-format.md) plus its config, vocab.json, merges.txt (and
                             value_clusters.json if present)
  tables                     the engine's name tables (hooks, intervention modes, views) as JSON, for
                             js/scripts/gen-tables.mjs (no MODEL)

options:
  --dtype f32|f16|q8  weight storage (default f32; q8 is approximate); for convert: f16|q8
  --intervene SPEC    LAYER:INDEX:off|on|set=V|pre=V|scale=F|add=V[@POS,POS...] on a neuron, or
                      LAYER:hHEAD:off|scale=F[@POS,...] on an attention head; repeatable
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::string cmd, model;
  std::map<std::string, std::string> opts;
  std::vector<std::string> intervene, inactive;
  bool has(const std::string& k) const { return opts.count(k) > 0; }
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
};

const std::map<std::string, bool> kOptions = {  // name -> takes a value
    {"--text", true},  {"--text-file", true}, {"--json", false},  {"--allow-special", false}, {"--prompt", true},
    {"--ids", true},   {"-n", true},          {"--greedy", false}, {"--temperature", true},   {"--top-k", true},
    {"--seed", true},  {"--names", true},     {"-o", true},       {"--dtype", true},          {"--intervene", true},
    {"--positions", true}, {"--sub-updates", true}, {"--value-top-k", true}, {"--raw-lens", false},
    {"--attention", false}, {"--layer", true}, {"--index", true}, {"--keywords", true}, {"--limit", true},
    {"--k", true}, {"--iterations", true}, {"--inactive", true}, {"--view", true}, {"--detail", true},
    {"--name", true}, {"--source", true}, {"--track", true}, {"--source-ids", true},
    {"--hook", true}, {"--metric", true}, {"--token", true}, {"--token-id", true}, {"--distractor", true},
    {"--distractor-id", true}, {"--ranking", true},
    {"--target", true}, {"--target-id", true}, {"--position", true}, {"--neurons", true}, {"--heads", true}, {"--head", true},
};

Args parse_args(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "tables") return {"tables", "", {}, {}};
  if (argc < 3) throw UsageError("missing COMMAND or MODEL");
  Args a;
  a.cmd = argv[1];
  a.model = argv[2];
  for (int i = 3; i < argc; ++i) {
    const std::string k = argv[i];
    auto it = kOptions.find(k);
    if (it == kOptions.end()) throw UsageError("unknown option " + k);
    std::string v;
    if (it->second) {
      if (i + 1 >= argc) throw UsageError(k + " needs a value");
      v = argv[++i];
    }
    if (k == "--intervene")
      a.intervene.push_back(v);
    else if (k == "--inactive")
      a.inactive.push_back(v);
    else
      a.opts[k] = v;
  }
  return a;
}

long parse_long(const std::string& s, const std::string& what) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end) throw UsageError(what + " expects an integer, got \"" + s + "\"");
  return v;
}

std::vector<int> parse_ids(const std::string& s) {
  std::vector<int> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) ids.push_back(static_cast<int>(parse_long(item, "--ids")));
  return ids;
}

lmdbg::LoadOptions load_options(const Args& a) {
  lmdbg::LoadOptions opt;
  const std::string dt = a.get("--dtype", "f32");
  if (dt == "f16")
    opt.storage = lmdbg::kernels::Storage::kF16;
  else if (dt == "q8")
    opt.storage = lmdbg::kernels::Storage::kQ8;
  else if (dt != "f32")
    throw UsageError("--dtype must be f32, f16 or q8");
  return opt;
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw lmdbg::Error(lmdbg::ErrorCode::kMissing, path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The model folder as a session, with what may lie beside the checkpoint: value_index.bin
// (`lmdbg index`) and value_clusters.json (`lmdbg cluster`).
std::unique_ptr<lmdbg::Session> open(const Args& a, bool extras = true) {
  auto s = std::make_unique<lmdbg::Session>(lmdbg::Model::load_dir(a.model, load_options(a)));
  if (!extras) return s;
  namespace fs = std::filesystem;
  if (fs::exists(a.model + "/value_index.bin")) s->load_value_index(read_text_file(a.model + "/value_index.bin"));
  if (fs::exists(a.model + "/value_clusters.json"))
    s->load_clusters(lmdbg::io::parse_json(read_text_file(a.model + "/value_clusters.json"), "value_clusters.json",
                                           lmdbg::ErrorCode::kBadFile));
  return s;
}

void print(const lmdbg::io::ojson& j, int indent = -1) {
  std::cout << j.dump(indent, ' ', false, lmdbg::io::ojson::error_handler_t::replace) << "\n";
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary);
  if (!f || !f.write(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, path + ": cannot write");
}

std::vector<int> prompt_ids(const Args& a, const lmdbg::Model& m) {
  if (a.has("--ids") == a.has("--prompt")) throw UsageError("give exactly one of --prompt or --ids");
  if (a.has("--ids")) return parse_ids(a.get("--ids"));
  return m.tokenizer().encode(a.get("--prompt"));
}

lmdbg::Interventions interventions(const Args& a) {
  lmdbg::Interventions ivs;
  for (const auto& s : a.intervene) ivs.push_back(lmdbg::parse_intervention(s));
  return ivs;
}

int cmd_info(const Args& a) {
  const lmdbg::io::ModelDir d = lmdbg::io::read_model_dir(a.model);
  const lmdbg::Config c = lmdbg::parse_config(d.config.view());
  const auto st = lmdbg::io::parse_safetensors(d.weights.data(), d.weights.size());
  json tensors = json::array();
  for (const auto& t : st.tensors) tensors.push_back({{"name", t.name}, {"dtype", t.dtype_str}, {"shape", t.shape}});
  json out = {{"config", json::parse(lmdbg::config_to_json(c))},
              {"fingerprint", lmdbg::checkpoint_fingerprint(d.weights.data(), d.weights.size())},
              {"checkpointBytes", d.weights.size()},
              {"tensors", tensors},
              {"weightBytesF32", lmdbg::estimate_weight_bytes(c, lmdbg::kernels::Storage::kF32)},
              {"weightBytesF16", lmdbg::estimate_weight_bytes(c, lmdbg::kernels::Storage::kF16)},
              {"weightBytesQ8", lmdbg::estimate_weight_bytes(c, lmdbg::kernels::Storage::kQ8)}};
  std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return 0;
}

int cmd_tokenize(const Args& a) {
  if (a.has("--text") == a.has("--text-file")) throw UsageError("give exactly one of --text or --text-file");
  const auto m = lmdbg::Model::load_dir(a.model, load_options(a));
  const std::string text = a.has("--text") ? a.get("--text") : read_text_file(a.get("--text-file"));
  const auto ids = m->tokenizer().encode(text, a.has("--allow-special"));
  json toks = json::array();
  for (int id : ids) toks.push_back(m->tokenizer().token_bytes(id));
  std::cout << json({{"ids", ids}, {"tokens", toks}}).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  return 0;
}

lmdbg::Sampling sampling(const Args& a) {
  lmdbg::Sampling s;
  s.greedy = a.has("--greedy") || !(a.has("--temperature") || a.has("--top-k") || a.has("--seed"));
  if (a.has("--greedy") && (a.has("--temperature") || a.has("--top-k")))
    throw UsageError("--greedy cannot be combined with --temperature/--top-k");
  if (a.has("--temperature")) {
    char* end = nullptr;
    const std::string t = a.get("--temperature");
    s.temperature = std::strtof(t.c_str(), &end);
    if (t.empty() || *end) throw UsageError("--temperature expects a number");
  }
  if (a.has("--top-k")) s.top_k = static_cast<int>(parse_long(a.get("--top-k"), "--top-k"));
  if (a.has("--seed")) s.seed = static_cast<uint64_t>(parse_long(a.get("--seed"), "--seed"));
  return s;
}

long new_tokens(const Args& a) {
  const long n = parse_long(a.get("-n"), "-n");
  if (n < 0) throw UsageError("-n must be >= 0");
  return n;
}

int cmd_generate(const Args& a) {
  if (!a.has("-n")) throw UsageError("generate needs -n N");
  const long n = new_tokens(a);
  const lmdbg::Sampling s = sampling(a);
  const auto ivs = interventions(a);
  auto session = open(a, false);
  auto g = session->generate(prompt_ids(a, session->model()), ivs, s);
  std::vector<int> out;
  for (long i = 0; i < n; ++i) out.push_back(g->next());
  std::cout << json({{"ids", out}, {"text", session->model().tokenizer().decode(out)}})
                   .dump(-1, ' ', false, json::error_handler_t::replace)
            << "\n";
  return 0;
}

// The flags as snapshot options (the same reader as the package's): docs/snapshot-schema.md.
int cmd_snapshot(const Args& a) {
  if (!a.has("--prompt")) throw UsageError("snapshot needs --prompt T (the text is saved with the view)");
  json o = {{"prompt", a.get("--prompt")}, {"allowSpecial", a.has("--allow-special")}};
  json ivs = json::array();
  for (const auto* list : {&a.intervene, &a.inactive})
    for (const auto& spec : *list) {
      json iv = json::parse(lmdbg::to_json(lmdbg::parse_intervention(spec)).dump());
      iv["active"] = list == &a.intervene;
      ivs.push_back(std::move(iv));
    }
  o["interventions"] = std::move(ivs);
  json view = json::object();
  if (a.has("--view")) view["open"] = a.get("--view");
  if (a.has("--layer")) view["layer"] = parse_long(a.get("--layer"), "--layer");
  if (a.has("--detail")) {
    const std::string d = a.get("--detail");
    const auto at = d.find_first_of("Dd");
    if (d.size() < 4 || (d[0] != 'L' && d[0] != 'l') || at == std::string::npos)
      throw UsageError("--detail expects a value-vector name like L9D1234, got \"" + d + "\"");
    const long layer = parse_long(d.substr(1, at - 1), "--detail's layer"), index = parse_long(d.substr(at + 1), "--detail's index");
    view["detail"] = {{"layer", layer}, {"index", index}};
    o["valueVectors"] = json::array({json::array({layer, index})});
  }
  o["view"] = std::move(view);
  json model = json::object();
  if (a.has("--name")) model["name"] = a.get("--name");
  if (a.has("--source")) model["source"] = a.get("--source");
  o["model"] = std::move(model);
  if (a.has("--names")) {
    // An lmdbg names file (lmdbg.names/1, as the page exports it) or a plain {"L3D12": "name"} object.
    const json f = lmdbg::io::parse_json(read_text_file(a.get("--names")), a.get("--names"), lmdbg::ErrorCode::kBadFile);
    o["names"] = f.is_object() && f.contains("schema") ? f.value("names", json::object()) : f;
  }
  if (a.has("-n")) {
    const lmdbg::Sampling s = sampling(a);
    json smp = s.greedy ? json("greedy") : json({{"temperature", s.temperature}, {"topK", s.top_k}, {"seed", s.seed}});
    o["generate"] = {{"maxNewTokens", new_tokens(a)}, {"sampling", smp}};
  }
  const lmdbg::SnapshotOptions opt = lmdbg::snapshot_options_from_json(o);
  auto session = open(a);
  const lmdbg::Snapshot snap = session->snapshot(opt);
  const std::string text = lmdbg::snapshot_to_json(session->model(), opt, snap).dump(-1, ' ', false, lmdbg::io::ojson::error_handler_t::replace);
  if (a.has("-o")) {
    write_file(a.get("-o"), text + "\n");
    std::fprintf(stderr, "wrote a snapshot of %zu tokens (%.1f kB) to %s\n", snap.tokens.size(), text.size() / 1e3, a.get("-o").c_str());
  } else {
    std::cout << text << "\n";
  }
  return 0;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

int cmd_cache(const Args& a) {
  if (!a.has("-o")) throw UsageError("cache needs -o OUT.safetensors");
  const auto ivs = interventions(a);
  auto session = open(a, false);
  const lmdbg::Config& c = session->model().config();
  std::vector<lmdbg::HookRef> wanted;
  for (const auto& name : split(a.get("--names"), ',')) {
    if (name == "logits") continue;
    auto ref = lmdbg::parse_hook_name(name, c.n_layers);
    if (!ref) throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "unknown hook name \"" + name + "\"");
    wanted.push_back(*ref);
  }
  const auto cache = session->run_with_cache(prompt_ids(a, session->model()), std::move(wanted), ivs);
  const lmdbg::State& st = *cache.state;
  const int64_t T = st.last_T();
  std::vector<lmdbg::io::TensorToWrite> out;
  for (const auto& r : cache.hooks) {
    const auto dims = lmdbg::hook_shape(r.hook, c.n_heads, c.d_model, c.d_mlp, static_cast<int>(T));
    const std::vector<int64_t> shape(dims.begin(), dims.end());
    out.push_back({lmdbg::hook_name(r.hook, r.layer), lmdbg::io::TensorDType::kF32, shape, st.hook(r.hook, r.layer)});
  }
  out.push_back({"logits", lmdbg::io::TensorDType::kF32, {T, c.d_vocab}, st.logits()});
  write_file(a.get("-o"), lmdbg::io::write_safetensors(out, {{"format", "pt"}, {"producer", "lmdbg"}}));
  return 0;
}

int cmd_trace(const Args& a) {
  lmdbg::TraceOptions opt;
  if (a.has("--top-k")) opt.top_k = static_cast<int>(parse_long(a.get("--top-k"), "--top-k"));
  if (a.has("--sub-updates")) opt.sub_updates = static_cast<int>(parse_long(a.get("--sub-updates"), "--sub-updates"));
  if (a.has("--value-top-k")) opt.value_top_k = static_cast<int>(parse_long(a.get("--value-top-k"), "--value-top-k"));
  if (a.has("--heads")) opt.heads = static_cast<int>(parse_long(a.get("--heads"), "--heads"));
  if (a.has("--positions")) {
    if (a.get("--positions") == "all")
      opt.all_positions = true;
    else
      for (const auto& p : split(a.get("--positions"), ',')) opt.positions.push_back(static_cast<int>(parse_long(p, "--positions")));
  }
  opt.raw_lens = a.has("--raw-lens");
  opt.attention = a.has("--attention");
  opt.interventions = interventions(a);
  if (a.has("--track"))
    for (const auto& t : split(a.get("--track"), ',')) opt.track.push_back(static_cast<int>(parse_long(t, "--track")));
  auto session = open(a);
  const auto t = session->trace(prompt_ids(a, session->model()), opt);
  print(lmdbg::trace_to_json(session->model(), t, opt.attention));
  return 0;
}

// One token, given as text (it must be one token) or as an id.
int token_arg(const Args& a, const std::string& text_opt, const lmdbg::Model& m) {
  if (a.has(text_opt + "-id")) return static_cast<int>(parse_long(a.get(text_opt + "-id"), text_opt + "-id"));
  const std::string t = a.get(text_opt);
  const auto ids = m.tokenizer().encode(t);
  if (ids.size() != 1)
    throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument,
                       text_opt + " \"" + t + "\" is " + std::to_string(ids.size()) + " tokens, not one (use " + text_opt + "-id)");
  return ids[0];
}

int cmd_patch(const Args& a) {
  if (a.has("--source") == a.has("--source-ids")) throw UsageError("give exactly one of --source or --source-ids");
  if (!a.has("--hook") || !a.has("--metric")) throw UsageError("patch needs --hook and --metric");
  if (!a.has("--token") && !a.has("--token-id")) throw UsageError("patch needs --token or --token-id");
  auto session = open(a, false);
  const lmdbg::Model& m = session->model();
  const auto source = a.has("--source-ids") ? parse_ids(a.get("--source-ids")) : m.tokenizer().encode(a.get("--source"));
  const auto target = prompt_ids(a, m);
  lmdbg::io::json metric = {{"type", a.get("--metric")}, {"token", token_arg(a, "--token", m)}};
  if (a.has("--distractor") || a.has("--distractor-id")) metric["distractor"] = token_arg(a, "--distractor", m);
  lmdbg::io::json opt = {{"hook", a.get("--hook")}, {"metric", metric}};
  if (a.has("--head")) opt["head"] = parse_long(a.get("--head"), "--head");
  if (!a.has("--layer")) {
    if (a.has("--positions")) throw UsageError("--positions needs --layer (without it, patch sweeps every position)");
    lmdbg::PatchSpec what;
    lmdbg::PatchMetric pm;
    lmdbg::patch_sweep_options_from_json(opt, what, pm);
    print(lmdbg::patch_sweep_to_json(m, session->patch_sweep(source, target, what, pm), pm, source, target));
    return 0;
  }
  opt["layer"] = parse_long(a.get("--layer"), "--layer");
  if (a.has("--positions") && a.get("--positions") != "all") {
    opt["positions"] = lmdbg::io::json::array();
    for (const auto& p : split(a.get("--positions"), ',')) opt["positions"].push_back(parse_long(p, "--positions"));
  }
  lmdbg::PatchSpec spec;
  lmdbg::PatchMetric pm;
  lmdbg::patch_options_from_json(opt, spec, pm);
  const auto r = session->patch(source, target, spec, pm);
  print(lmdbg::patch_to_json(m, spec, pm, r, source, target));
  return 0;
}

// The options go through the package's JSON reader: a token as its text or its id.
int cmd_attribute(const Args& a) {
  if (a.has("--target") == a.has("--target-id")) throw UsageError("attribute needs one of --target TEXT or --target-id ID");
  if (a.has("--distractor") && a.has("--distractor-id")) throw UsageError("give --distractor or --distractor-id, not both");
  lmdbg::io::json o = lmdbg::io::json::object();
  if (a.has("--target")) o["target"] = a.get("--target");
  if (a.has("--target-id")) o["target"] = parse_long(a.get("--target-id"), "--target-id");
  if (a.has("--distractor")) o["distractor"] = a.get("--distractor");
  if (a.has("--distractor-id")) o["distractor"] = parse_long(a.get("--distractor-id"), "--distractor-id");
  if (a.has("--position")) o["position"] = parse_long(a.get("--position"), "--position");
  if (a.has("--neurons")) o["neurons"] = parse_long(a.get("--neurons"), "--neurons");
  const auto ivs = interventions(a);
  auto session = open(a, false);
  const auto ids = prompt_ids(a, session->model());
  const auto opt = lmdbg::attribution_options_from_json(o, session->model());
  print(lmdbg::attribution_to_json(session->model(), ids, session->attribute(ids, opt, ivs)));
  return 0;
}

int cmd_index(const Args& a) {
  auto session = open(a, false);
  const size_t total = session->value_index().total();
  size_t done = 0, last = 0;
  while (const int n = session->fill_value_index(128)) {
    done += n;
    if (done - last >= total / 20 || done == total) {
      std::fprintf(stderr, "value vectors: %zu / %zu\n", done, total);
      last = done;
    }
  }
  session->prepare_search();
  const std::string out = a.get("-o", a.model + "/value_index.bin");
  const std::string bytes = session->value_index_bytes();
  write_file(out, bytes);
  std::fprintf(stderr, "wrote the index of %zu value vectors (%.1f MB) to %s\n", total, bytes.size() / 1e6, out.c_str());
  return 0;
}

// HF folder -> the same folder with F16 or q8 weights (core/model/convert.h). Only a checkpoint that
// loads is converted, and the result must load too.
int cmd_convert(const Args& a) {
  namespace fs = std::filesystem;
  if (!a.has("-o")) throw UsageError("convert needs -o DIR");
  const std::string out_dir = a.get("-o");
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(out_dir, a.model, ec))
    throw UsageError("convert: -o must be another folder than MODEL");
  const std::string to = a.get("--dtype", "f16");
  if (to != "f16" && to != "q8") throw UsageError("convert: --dtype must be f16 or q8");
  lmdbg::Model::load_dir(a.model, lmdbg::LoadOptions{});
  const lmdbg::io::ModelDir d = lmdbg::io::read_model_dir(a.model);
  lmdbg::ConvertReport r;
  const std::string bytes = to == "q8" ? lmdbg::convert_to_q8(d.weights.data(), d.weights.size(), &r)
                                       : lmdbg::convert_to_f16(d.weights.data(), d.weights.size(), &r);
  fs::create_directories(out_dir, ec);
  if (ec) throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, out_dir + ": cannot create (" + ec.message() + ")");
  write_file(out_dir + "/model.safetensors", bytes);
  write_file(out_dir + "/config.json", d.config.view());
  write_file(out_dir + "/vocab.json", d.vocab.view());
  write_file(out_dir + "/merges.txt", d.merges.view());
  const fs::path clusters = fs::path(a.model) / "value_clusters.json";
  if (fs::exists(clusters)) fs::copy_file(clusters, fs::path(out_dir) / "value_clusters.json", fs::copy_options::overwrite_existing);
  std::cout << json({{"tensors", r.tensors},
                     {"weights", r.weights},
                     {"flushedToZero", r.flushed_to_zero},
                     {"maxError", r.max_error},
                     {"bytesBefore", r.bytes_before},
                     {"bytesAfter", r.bytes_after}})
                   .dump()
            << "\n";
  lmdbg::LoadOptions check;
  if (to == "q8") check.storage = lmdbg::kernels::Storage::kQ8;
  lmdbg::Model::load_dir(out_dir, check);
  return 0;
}

int cmd_value(const Args& a) {
  if (!a.has("--layer") || !a.has("--index")) throw UsageError("value needs --layer L --index I");
  const int layer = static_cast<int>(parse_long(a.get("--layer"), "--layer"));
  const int index = static_cast<int>(parse_long(a.get("--index"), "--index"));
  const int k = a.has("--top-k") ? static_cast<int>(parse_long(a.get("--top-k"), "--top-k")) : 10;
  auto session = open(a);
  const auto v = session->value_vectors({{layer, index}}, k, k);
  print(lmdbg::value_vector_to_json(session->model(), v[0], session->clusters()));
  return 0;
}

int cmd_search(const Args& a) {
  if (!a.has("--keywords")) throw UsageError("search needs --keywords a,b");
  const int limit = a.has("--limit") ? static_cast<int>(parse_long(a.get("--limit"), "--limit")) : 20;
  const int k = a.has("--top-k") ? static_cast<int>(parse_long(a.get("--top-k"), "--top-k")) : 10;
  const auto keywords = split(a.get("--keywords"), ',');
  lmdbg::SearchOptions opt;
  opt.limit = limit;
  opt.ranking = lmdbg::search_ranking_from_name(a.get("--ranking", "zscore"));
  auto session = open(a);
  print(lmdbg::search_to_json(session->model(), keywords, session->search(keywords, opt, k), opt));
  return 0;
}

int cmd_cluster(const Args& a) {
  lmdbg::ClusterOptions opt;
  if (a.has("--k")) opt.k = static_cast<int>(parse_long(a.get("--k"), "--k"));
  if (a.has("--iterations")) opt.iterations = static_cast<int>(parse_long(a.get("--iterations"), "--iterations"));
  if (a.has("--seed")) opt.seed = static_cast<uint64_t>(parse_long(a.get("--seed"), "--seed"));
  opt.progress = [](int it, double moved) { std::fprintf(stderr, "iteration %d: %.2f%% moved\n", it + 1, 100 * moved); };
  const auto m = lmdbg::Model::load_dir(a.model, load_options(a));
  const auto c = lmdbg::cluster_value_vectors(*m, opt);
  const std::string out = a.get("-o", a.model + "/value_clusters.json");
  write_file(out, lmdbg::clusters_to_json(c).dump());
  std::fprintf(stderr, "wrote %d clusters of %zu value vectors to %s\n", c.k, c.assignment.size(), out.c_str());
  return 0;
}

// The engine's name tables, for the generated TypeScript (js/scripts/gen-tables.mjs).
int cmd_tables() {
  print({{"hooks", lmdbg::hook_table_json()}, {"modes", lmdbg::mode_table_json()}, {"views", lmdbg::view_table_json()}}, 2);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse_args(argc, argv);
    if (a.cmd == "tables") return cmd_tables();
    if (a.cmd == "info") return cmd_info(a);
    if (a.cmd == "tokenize") return cmd_tokenize(a);
    if (a.cmd == "generate") return cmd_generate(a);
    if (a.cmd == "cache") return cmd_cache(a);
    if (a.cmd == "trace") return cmd_trace(a);
    if (a.cmd == "patch") return cmd_patch(a);
    if (a.cmd == "value") return cmd_value(a);
    if (a.cmd == "snapshot") return cmd_snapshot(a);
    if (a.cmd == "attribute") return cmd_attribute(a);
    if (a.cmd == "search") return cmd_search(a);
    if (a.cmd == "cluster") return cmd_cluster(a);
    if (a.cmd == "index") return cmd_index(a);
    if (a.cmd == "convert") return cmd_convert(a);
    throw UsageError("unknown command \"" + a.cmd + "\"");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "lmdbg: %s\n\n%s", e.what(), kUsage);
    return 2;
  } catch (const lmdbg::Error& e) {
    std::fprintf(stderr, "lmdbg: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lmdbg: error: %s\n", e.what());
    return 1;
  }
}
