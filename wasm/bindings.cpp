// Embind bindings: C++ results -> JS objects / typed arrays (always copies), C++ errors -> JS Error.
// No model math here; everything is in core/.
#include <emscripten/bind.h>
#include <emscripten/heap.h>
#include <emscripten/val.h>
#include <malloc.h>

#include <climits>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/analysis/analysis_json.h"
#include "core/analysis/clusters.h"
#include "core/analysis/search.h"
#include "core/analysis/value_vectors.h"
#include "core/error.h"
#include "core/io/json_depth.h"
#include "core/interventions/resolve.h"
#include "core/model/forward.h"
#include "core/model/generate.h"
#include "core/model/model.h"
#include "core/trace/hooks.h"
#include "core/trace/trace.h"

using emscripten::val;

namespace {

// Errors never cross C++ frames as JS exceptions: a JS throw there would skip C++ destructors and
// leak every argument and temporary of the failing call. Each entry point catches, stores the
// message and returns an empty value; wasm/errors.post.js rethrows it as a JS Error once the C++
// frames are gone.
std::string g_error;

std::string take_error() {
  std::string e;
  e.swap(g_error);
  return e;
}

template <typename T>
T empty_value() {
  if constexpr (std::is_same_v<T, val>)
    return val::undefined();
  else
    return T();
}

template <typename F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const lmdbg::Error& e) {
    g_error = e.what();
  } catch (const std::bad_alloc&) {
    g_error = "out of memory: the WebAssembly heap cannot grow further (4 GB limit)";
  } catch (const std::exception& e) {
    g_error = e.what();
  }
  if (g_error.empty()) g_error = "unknown error";
  return empty_value<decltype(f())>();
}

std::vector<int> to_ids(const val& arr) {
  const unsigned n = arr["length"].as<unsigned>();
  std::vector<int> ids(n);
  for (unsigned i = 0; i < n; ++i) {
    const val v = arr[i];
    if (!v.isNumber()) throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "token ids must be numbers");
    const double d = v.as<double>();
    if (d != static_cast<double>(static_cast<int>(d)))
      throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "token id " + std::to_string(d) + " is not an integer");
    ids[i] = static_cast<int>(d);
  }
  return ids;
}

val copy_f32(const float* p, size_t n) { return val::global("Float32Array").new_(emscripten::typed_memory_view(n, p)); }
val copy_i32(const std::vector<int>& v) {
  return val::global("Int32Array").new_(emscripten::typed_memory_view(v.size(), v.data()));
}
val copy_bytes(const std::string& s) {
  return val::global("Uint8Array")
      .new_(emscripten::typed_memory_view(s.size(), reinterpret_cast<const uint8_t*>(s.data())));
}

// Parses a JSON argument from JS, bounded in depth (core/io/json_depth.h) and with an error that names it.
nlohmann::json parse_arg(std::string_view text, const char* what) {
  lmdbg::io::check_json_depth(text, what, lmdbg::ErrorCode::kInvalidArgument);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, std::string(what) + ": not valid JSON (" + e.what() + ")");
  }
}

// An integer argument that fits in int (get<int>() would wrap 4294967297 to 1).
int int_arg(const nlohmann::json& v, const char* what) {
  const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(INT_MAX)
                                           : v.is_number_integer() && v.get<int64_t>() >= INT_MIN && v.get<int64_t>() <= INT_MAX;
  if (!fits) throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, std::string(what) + ": " + v.dump() + " is not an integer in range");
  return v.get<int>();
}

// Bytes malloc has handed out. mallinfo's fields are int: above 2 GB they read negative as a double (heapUsed), so take
// the bits as unsigned (wasm32 memory is at most 4 GB).
size_t heap_in_use() { return static_cast<uint32_t>(mallinfo().uordblks); }

size_t heap_available() {
  const size_t max = emscripten_get_heap_max();
  const size_t used = heap_in_use();
  const size_t margin = 64u << 20;
  return max > used + margin ? max - used - margin : 0;
}

lmdbg::LoadOptions parse_load_options(const std::string& options) {
  lmdbg::LoadOptions opt;
  const auto o = parse_arg(options.empty() ? "{}" : options, "load options");
  const std::string dtype = o.value("dtype", "f32");
  if (dtype == "f16")
    opt.storage = lmdbg::kernels::Storage::kF16;
  else if (dtype != "f32")
    throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "dtype must be \"f32\" or \"f16\", got \"" + dtype + "\"");
  opt.memory_limit = heap_available();
  return opt;
}

class WasmModel {
 public:
  WasmModel() = default;
  explicit WasmModel(std::unique_ptr<lmdbg::Model> m) : model_(std::move(m)) {}
  // weights_ptr/len: the safetensors bytes, already copied into the heap by JS (JS frees them).
  static WasmModel* load(std::string config, uintptr_t weights_ptr, double weights_len, std::string vocab,
                         std::string merges, std::string options) {
    return guarded([&] {
      const lmdbg::LoadOptions opt = parse_load_options(options);
      lmdbg::io::ModelFiles f{config, reinterpret_cast<const uint8_t*>(weights_ptr), static_cast<size_t>(weights_len),
                              vocab, merges};
      auto w = std::make_unique<WasmModel>();
      w->model_ = lmdbg::Model::load(f, opt);
      return w.release();
    });
  }

  std::string configJson() const { return lmdbg::config_to_json(model_->config()); }
  double weightBytes() const { return static_cast<double>(model_->weights().bytes()); }

  val tokenize(std::string text, bool allow_special) const {
    return guarded([&] { return copy_i32(model_->tokenizer().encode(text, allow_special)); });
  }
  // Bytes, so JS can decode with TextDecoder (a token can be part of a UTF-8 character).
  val decode(val ids) const {
    return guarded([&] {
      const auto v = to_ids(ids);
      return copy_bytes(model_->tokenizer().decode(v));
    });
  }
  val tokenBytes(int id) const {
    return guarded([&] {
      model_->check_tokens(&id, 1);
      return copy_bytes(model_->tokenizer().token_bytes(id));
    });
  }

  // Logits [rows, vocab] for ids: the last position, or every position when all is true.
  val logits(val ids, bool all) const {
    return guarded([&] {
      const auto v = to_ids(ids);
      lmdbg::State st(*model_);
      lmdbg::ForwardOptions opt;
      opt.all_logits = all;
      st.forward(v, opt);
      return copy_f32(st.logits(), static_cast<size_t>(st.logits_rows()) * model_->config().d_vocab);
    });
  }

  // {json: string (docs/trace-schema.md), attention: Float32Array [L,H,T,T] | null}
  val trace(val ids, std::string options) const {
    return guarded([&] {
      const auto v = to_ids(ids);
      const auto opt = lmdbg::trace_options_from_json(options);
      const auto t = lmdbg::run_trace(*model_, v, opt);
      val out = val::object();
      out.set("json", lmdbg::trace_to_json(*model_, t, false));
      out.set("attention", opt.attention ? copy_f32(t.attention.data(), t.attention.size()) : val::null());
      return out;
    });
  }

  // JSON array of value vectors for refs [[layer, index], ...].
  std::string valueVectors(std::string refs_json, int top_k, int bottom_k) const {
    return guarded([&] {
      const auto j = parse_arg(refs_json, "value vectors");
      if (!j.is_array()) throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "value vectors: expected [layer, index] pairs");
      std::vector<lmdbg::ValueVectorRef> refs;
      for (const auto& r : j) {
        if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() || !r[1].is_number_integer())
          throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "value vectors: expected [layer, index] pairs");
        refs.push_back({int_arg(r[0], "value vectors: layer"), int_arg(r[1], "value vectors: index")});
      }
      const auto vs = lmdbg::value_vector_tokens(*model_, refs, top_k, bottom_k);
      std::string out = "[";
      for (size_t i = 0; i < vs.size(); ++i)
        out += (i ? "," : "") + lmdbg::value_vector_to_json(*model_, vs[i], clusters_.get());
      return out + "]";
    });
  }

  // The per-vector moments behind keyword search; computed once, on first use.
  void prepareSearch() {
    guarded([&] {
      ensure_search_stats();
      return 0;
    });
  }
  bool searchReady() const { return stats_ != nullptr; }

  // Idle-time work in bounded steps (LoadOptions.precompute): each call costs tens of milliseconds.
  // Up to max_vectors more value vectors into the model's index; 0 once it is complete.
  int fillValueIndex(int max_vectors) {
    return guarded([&] { return lmdbg::fill_value_index(*model_, max_vectors); });
  }
  double valueIndexFilled() const { return static_cast<double>(model_->value_index().filled()); }
  double valueIndexTotal() const { return static_cast<double>(model_->value_index().total()); }
  // Advances the search statistics by `units` steps (~10^8 multiply-adds each); true once ready.
  bool searchStatsStep(int units) {
    return guarded([&] {
      if (stats_) return true;
      if (!builder_) builder_ = std::make_unique<lmdbg::SearchStatsBuilder>(*model_);
      if (!builder_->step(units)) return false;
      stats_ = std::make_unique<lmdbg::SearchStats>(builder_->take());
      builder_.reset();
      return true;
    });
  }

  std::string search(std::string keywords_json, int limit, int top_k) {
    return guarded([&] {
      const auto j = parse_arg(keywords_json, "search keywords");
      std::vector<std::string> kws;
      for (const auto& k : j) {
        if (!k.is_string()) throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "search: keywords must be strings");
        kws.push_back(k.get<std::string>());
      }
      ensure_search_stats();
      return lmdbg::search_to_json(*model_, kws, lmdbg::search_value_vectors(*model_, *stats_, kws, limit, top_k));
    });
  }

  // {hooks: [{name, dims, data: Float32Array}], logits: {dims, data}} for the named hooks (all when empty).
  val runWithCache(val ids, std::string names_json, std::string interventions_json) const {
    return guarded([&] {
      const auto v = to_ids(ids);
      const auto& c = model_->config();
      std::vector<lmdbg::HookRef> wanted;
      const auto names = parse_arg(names_json.empty() ? "[]" : names_json, "hook names");
      if (!names.is_array()) throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "names must be an array of hook names");
      for (const auto& n : names) {
        const auto ref = n.is_string() ? lmdbg::parse_hook_name(n.get<std::string>(), c.n_layers) : std::nullopt;
        if (!ref) throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "unknown hook name " + n.dump());
        wanted.push_back(*ref);
      }
      if (names.empty())
        for (const auto& n : lmdbg::all_hook_names(c.n_layers)) wanted.push_back(*lmdbg::parse_hook_name(n, c.n_layers));
      const auto ivs = lmdbg::resolve_on(*model_, v, lmdbg::interventions_from_json(interventions_json.empty() ? "[]" : interventions_json));
      lmdbg::State st(*model_);
      lmdbg::ForwardOptions opt;
      for (const auto& r : wanted) opt.keep.add(r.hook);
      opt.all_logits = true;
      opt.interventions = &ivs;
      st.forward(v, opt);
      const int T = static_cast<int>(v.size());
      val hooks = val::array();
      for (const auto& r : wanted) {
        val h = val::object();
        h.set("name", lmdbg::hook_name(r.hook, r.layer));
        val dims = val::array();
        if (r.hook == lmdbg::Hook::kPattern) {
          dims.call<void>("push", c.n_heads, T, T);
        } else {
          dims.call<void>("push", T, st.hook_width(r.hook));
        }
        h.set("dims", dims);
        h.set("data", copy_f32(st.hook(r.hook, r.layer), static_cast<size_t>(T) * st.hook_width(r.hook)));
        hooks.call<void>("push", h);
      }
      val logits = val::object();
      val ldims = val::array();
      ldims.call<void>("push", T, c.d_vocab);
      logits.set("dims", ldims);
      logits.set("data", copy_f32(st.logits(), static_cast<size_t>(T) * c.d_vocab));
      val out = val::object();
      out.set("hooks", hooks);
      out.set("logits", logits);
      return out;
    });
  }

  void loadClusters(std::string text) {
    guarded([&] {
      clusters_ = std::make_unique<lmdbg::Clusters>(lmdbg::clusters_from_json(text, *model_));
      return 0;
    });
  }
  bool hasClusters() const { return clusters_ != nullptr; }
  std::string cluster(int id, int top_k, int members_limit) const {
    return guarded([&] {
      if (!clusters_) throw lmdbg::Error(lmdbg::ErrorCode::kState, "no clusters loaded for this model");
      return lmdbg::cluster_to_json(*model_, *clusters_, id, top_k, members_limit);
    });
  }

  const lmdbg::Model& model() const { return *model_; }

 private:
  std::unique_ptr<lmdbg::Model> model_;
  void ensure_search_stats() {  // throws (inside guarded) when it cannot compute them
    if (stats_) return;
    if (builder_) {  // finish what idle steps began
      while (!builder_->step(64)) {
      }
      stats_ = std::make_unique<lmdbg::SearchStats>(builder_->take());
      builder_.reset();
      return;
    }
    stats_ = std::make_unique<lmdbg::SearchStats>(lmdbg::compute_search_stats(*model_));
  }
  std::unique_ptr<lmdbg::SearchStats> stats_;
  std::unique_ptr<lmdbg::SearchStatsBuilder> builder_;
  std::unique_ptr<lmdbg::Clusters> clusters_;
};

// Streaming load: JS copies model.safetensors into the heap chunk by chunk (reusing one small
// buffer) and the engine packs tensors as they complete, so the whole file is never in memory.
class WasmLoader {
 public:
  explicit WasmLoader(std::unique_ptr<lmdbg::ModelBuilder> b) : builder_(std::move(b)) {}
  static WasmLoader* create(std::string config, std::string vocab, std::string merges, std::string options) {
    return guarded([&] {
      const lmdbg::LoadOptions opt = parse_load_options(options);
      return new WasmLoader(std::make_unique<lmdbg::ModelBuilder>(config, vocab, merges, opt));
    });
  }
  // ptr/len: at least the first 8 + header-length bytes; fileSize < 0 when unknown.
  void setHeader(uintptr_t ptr, double len, double file_size) {
    guarded([&] {
      const uint64_t fs = file_size < 0 ? UINT64_MAX : static_cast<uint64_t>(file_size);
      builder_->set_header(reinterpret_cast<const uint8_t*>(ptr), static_cast<size_t>(len), fs);
      return 0;
    });
  }
  double headerBytes() const { return static_cast<double>(builder_->header_bytes()); }
  void feed(uintptr_t ptr, double len) {
    guarded([&] {
      builder_->feed(reinterpret_cast<const uint8_t*>(ptr), static_cast<size_t>(len));
      return 0;
    });
  }
  WasmModel* finish() {
    return guarded([&] { return new WasmModel(builder_->finish()); });
  }

 private:
  std::unique_ptr<lmdbg::ModelBuilder> builder_;
};

// Token-by-token generation; JS wraps it in an async iterator. Must not outlive its model.
class WasmGenerator {
 public:
  explicit WasmGenerator(std::unique_ptr<lmdbg::Generator> g) : gen_(std::move(g)) {}
  int next() { return guarded([&] { return gen_->next(); }); }
  int remaining() const { return gen_->remaining(); }

 private:
  std::unique_ptr<lmdbg::Generator> gen_;
};

WasmGenerator* make_generator(const WasmModel& m, val ids, std::string interventions_json, std::string sampling_json) {
  return guarded([&] {
    const auto v = to_ids(ids);
    const auto ivs = lmdbg::interventions_from_json(interventions_json.empty() ? "[]" : interventions_json);
    const auto j = parse_arg(sampling_json.empty() ? "{}" : sampling_json, "sampling options");
    lmdbg::Sampling s;
    s.greedy = j.value("greedy", true);
    s.temperature = j.value("temperature", 1.0f);
    s.top_k = j.contains("topK") ? int_arg(j["topK"], "sampling options: topK") : 0;
    s.seed = j.value("seed", 0ull);
    return new WasmGenerator(std::make_unique<lmdbg::Generator>(m.model(), v, ivs, s));
  });
}

double heapBytes() { return static_cast<double>(emscripten_get_heap_size()); }
double heapUsed() { return static_cast<double>(heap_in_use()); }
double heapMax() { return static_cast<double>(emscripten_get_heap_max()); }

}  // namespace

EMSCRIPTEN_BINDINGS(lmdbg) {
  emscripten::class_<WasmModel>("Model")
      .class_function("load", &WasmModel::load, emscripten::allow_raw_pointers())
      .function("configJson", &WasmModel::configJson)
      .function("weightBytes", &WasmModel::weightBytes)
      .function("tokenize", &WasmModel::tokenize)
      .function("decode", &WasmModel::decode)
      .function("tokenBytes", &WasmModel::tokenBytes)
      .function("logits", &WasmModel::logits)
      .function("trace", &WasmModel::trace)
      .function("valueVectors", &WasmModel::valueVectors)
      .function("prepareSearch", &WasmModel::prepareSearch)
      .function("searchReady", &WasmModel::searchReady)
      .function("fillValueIndex", &WasmModel::fillValueIndex)
      .function("valueIndexFilled", &WasmModel::valueIndexFilled)
      .function("valueIndexTotal", &WasmModel::valueIndexTotal)
      .function("searchStatsStep", &WasmModel::searchStatsStep)
      .function("search", &WasmModel::search)
      .function("runWithCache", &WasmModel::runWithCache)
      .function("loadClusters", &WasmModel::loadClusters)
      .function("hasClusters", &WasmModel::hasClusters)
      .function("cluster", &WasmModel::cluster);
  emscripten::class_<WasmLoader>("Loader")
      .class_function("create", &WasmLoader::create, emscripten::allow_raw_pointers())
      .function("setHeader", &WasmLoader::setHeader)
      .function("headerBytes", &WasmLoader::headerBytes)
      .function("feed", &WasmLoader::feed)
      .function("finish", &WasmLoader::finish, emscripten::allow_raw_pointers());
  emscripten::class_<WasmGenerator>("Generator")
      .function("next", &WasmGenerator::next)
      .function("remaining", &WasmGenerator::remaining);
  emscripten::function("createGenerator", &make_generator, emscripten::allow_raw_pointers());
  emscripten::function("hookNames", emscripten::optional_override([](int n_layers) {
    std::string out = "[";
    const auto names = lmdbg::all_hook_names(n_layers);
    for (size_t i = 0; i < names.size(); ++i) out += (i ? ",\"" : "\"") + names[i] + "\"";
    return out + "]";
  }));
  emscripten::function("takeError", &take_error);
  emscripten::function("heapBytes", &heapBytes);
  emscripten::function("heapUsed", &heapUsed);
  emscripten::function("heapMax", &heapMax);
}
