// Embind bindings: JS arguments -> one lmdbg::Session call -> JSON text or typed-array copies, and
// C++ errors -> JS Error. No model math and no state of their own: the Session owns both.
#include <emscripten/bind.h>
#include <emscripten/heap.h>
#include <emscripten/val.h>
#include <malloc.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/analysis/analysis_json.h"
#include "core/error.h"
#include "core/io/json.h"
#include "core/session/session.h"

using emscripten::val;
namespace io = lmdbg::io;

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

template <typename F>
auto guarded(F&& f) -> decltype(f()) {
  using T = decltype(f());
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
  if constexpr (std::is_same_v<T, val>)
    return val::undefined();
  else
    return T();
}

std::vector<int> to_ids(const val& arr) {
  const unsigned n = arr["length"].as<unsigned>();
  std::vector<int> ids(n);
  for (unsigned i = 0; i < n; ++i) {
    const val v = arr[i];
    if (!v.isNumber()) lmdbg::invalid("token ids must be numbers");
    const double d = v.as<double>();
    if (d != static_cast<double>(static_cast<int>(d))) lmdbg::invalid("token id " + std::to_string(d) + " is not an integer");
    ids[i] = static_cast<int>(d);
  }
  return ids;
}

val copy_f32(const float* p, size_t n) { return val::global("Float32Array").new_(emscripten::typed_memory_view(n, p)); }
// A new Float32Array with its pages already written: a fresh array's memory is mapped on first write
// (~12 us per 4 KiB page on the machine of docs/BENCHMARKS.md), so a caller that can overlap that with
// other threads' work makes it here and copies in later with into_f32.
val touched_f32(size_t n) {
  val a = val::global("Float32Array").new_(n);
  a.call<void>("fill", 0);
  return a;
}
val into_f32(val a, const float* p, size_t n) {
  if (a["length"].as<size_t>() != n) lmdbg::fail(lmdbg::ErrorCode::kState, "internal: an output array of the wrong length");
  a.call<void>("set", emscripten::typed_memory_view(n, p));
  return a;
}
val copy_i32(const std::vector<int>& v) {
  return val::global("Int32Array").new_(emscripten::typed_memory_view(v.size(), v.data()));
}
val copy_bytes(const std::string& s) {
  return val::global("Uint8Array")
      .new_(emscripten::typed_memory_view(s.size(), reinterpret_cast<const uint8_t*>(s.data())));
}
val dims(std::initializer_list<int> d) {
  val a = val::array();
  for (int x : d) a.call<void>("push", x);
  return a;
}

// JSON text out: printed once, here.
std::string text(const io::ojson& j) { return j.dump(-1, ' ', false, io::ojson::error_handler_t::replace); }

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
  const auto o = io::parse_json(options, "load options", lmdbg::ErrorCode::kInvalidArgument, "{}");
  const std::string dtype = o.value("dtype", "f32");
  if (dtype == "f16")
    opt.storage = lmdbg::kernels::Storage::kF16;
  else if (dtype == "q8")
    opt.storage = lmdbg::kernels::Storage::kQ8;
  else if (dtype != "f32")
    lmdbg::invalid("dtype must be \"f32\", \"f16\" or \"q8\", got \"" + dtype + "\"");
  opt.memory_limit = heap_available();
  // Loader only, for tests: the fixtures' tensors are smaller than the default.
  if (o.contains("inPlaceMin")) opt.in_place_min = o.at("inPlaceMin").get<size_t>();
  return opt;
}

lmdbg::Interventions interventions_arg(const std::string& text) {
  return lmdbg::interventions_from_json(io::parse_json(text, "interventions", lmdbg::ErrorCode::kInvalidArgument, "[]"));
}

class WasmModel {
 public:
  explicit WasmModel(std::unique_ptr<lmdbg::Model> m) : s_(std::move(m)) {}
  // weights_ptr/len: the safetensors bytes, already copied into the heap by JS (JS frees them).
  static WasmModel* load(std::string config, uintptr_t weights_ptr, double weights_len, std::string vocab,
                         std::string merges, std::string options) {
    return guarded([&] {
      lmdbg::io::ModelFiles f{config, reinterpret_cast<const uint8_t*>(weights_ptr), static_cast<size_t>(weights_len),
                              vocab, merges};
      return new WasmModel(lmdbg::Model::load(f, parse_load_options(options)));
    });
  }

  std::string configJson() const { return lmdbg::config_to_json(model().config()); }
  // {"fingerprint", "checkpointBytes", "dtype"}: the package's Debugger.info.
  std::string infoJson() const {
    const auto& m = model();
    return text({{"fingerprint", m.fingerprint()},
                 {"checkpointBytes", m.checkpoint_bytes()},
                 {"dtype", m.dtype()}});
  }
  double weightBytes() const { return static_cast<double>(model().weights().bytes()); }

  val tokenize(std::string t, bool allow_special) const {
    return guarded([&] { return copy_i32(model().tokenizer().encode(t, allow_special)); });
  }
  // Bytes, so JS can decode with TextDecoder (a token can be part of a UTF-8 character).
  val decode(val ids) const { return guarded([&] { return copy_bytes(model().tokenizer().decode(to_ids(ids))); }); }
  val tokenBytes(int id) const {
    return guarded([&] {
      model().check_tokens(&id, 1);
      return copy_bytes(model().tokenizer().token_bytes(id));
    });
  }

  // Logits [rows, vocab] for ids: the last position, or every position when all is true.
  val logits(val ids, bool all) {
    return guarded([&] {
      const auto l = s_.logits(to_ids(ids), all);
      return copy_f32(l.data(), l.size());
    });
  }

  // {json: string (docs/trace-schema.md), attention: Float32Array [L,H,T,T] | null}
  val trace(val ids, std::string options) {
    return guarded([&] {
      const auto opt = lmdbg::trace_options_from_json(
          io::parse_json(options, "trace options", lmdbg::ErrorCode::kInvalidArgument, "{}"), &model());
      const auto t = s_.trace(to_ids(ids), opt);
      val out = val::object();
      out.set("json", text(lmdbg::trace_to_json(model(), t)));
      out.set("attention", opt.attention ? copy_f32(t.attention.data(), t.attention.size()) : val::null());
      return out;
    });
  }

  // A saved view (docs/snapshot-schema.md), as JSON text.
  std::string snapshot(std::string options) {
    return guarded([&] {
      const auto opt = lmdbg::snapshot_options_from_json(io::parse_json(options, "snapshot options"));
      return text(lmdbg::snapshot_to_json(model(), opt, s_.snapshot(opt)));
    });
  }

  // lmdbg.patch/1 JSON: target run with one activation from source (core/analysis/patching.h).
  std::string patch(val source, val target, std::string options) {
    return guarded([&] {
      lmdbg::PatchSpec spec;
      lmdbg::PatchMetric metric;
      lmdbg::patch_options_from_json(io::parse_json(options, "patch options"), spec, metric);
      const auto src = to_ids(source), tgt = to_ids(target);
      const auto r = s_.patch(src, tgt, spec, metric);
      return text(lmdbg::patch_to_json(model(), spec, metric, r, src, tgt));
    });
  }

  // lmdbg.patch-sweep/1 JSON: every layer × target position of one hook (or one head's result).
  std::string patchSweep(val source, val target, std::string options) {
    return guarded([&] {
      lmdbg::PatchSpec what;
      lmdbg::PatchMetric metric;
      lmdbg::patch_sweep_options_from_json(io::parse_json(options, "patch sweep options"), what, metric);
      const auto src = to_ids(source), tgt = to_ids(target);
      return text(lmdbg::patch_sweep_to_json(model(), s_.patch_sweep(src, tgt, what, metric), metric, src, tgt));
    });
  }

  // Direct logit attribution (JSON, core/analysis/attribution.h) of the run with interventions.
  std::string attribute(val ids, std::string options, std::string interventions_json) {
    return guarded([&] {
      const auto tokens = to_ids(ids);
      const auto opt = lmdbg::attribution_options_from_json(io::parse_json(options, "attribute options"), model());
      return text(lmdbg::attribution_to_json(model(), tokens, s_.attribute(tokens, opt, interventions_arg(interventions_json))));
    });
  }

  // JSON array of value vectors for refs [[layer, index], ...].
  std::string valueVectors(std::string refs_json, int top_k, int bottom_k) {
    return guarded([&] {
      const auto refs = lmdbg::value_vector_refs_from_json(io::parse_json(refs_json, "value vectors"));
      io::ojson out = io::ojson::array();
      for (const auto& v : s_.value_vectors(refs, top_k, bottom_k))
        out.push_back(lmdbg::value_vector_to_json(model(), v, s_.clusters()));
      return text(out);
    });
  }

  std::string search(std::string keywords_json, int limit, int top_k, std::string ranking) {
    return guarded([&] {
      const auto j = io::parse_json(keywords_json, "search keywords");
      if (!j.is_array()) lmdbg::invalid("search: keywords must be an array of strings");
      std::vector<std::string> kws;
      for (const auto& k : j) kws.push_back(io::json_string(k, "search: each keyword"));
      lmdbg::SearchOptions opt;
      opt.limit = limit;
      opt.ranking = lmdbg::search_ranking_from_name(ranking);
      return text(lmdbg::search_to_json(model(), kws, s_.search(kws, opt, top_k), opt));
    });
  }

  // {hooks: [{name, dims, data: Float32Array}], logits: {dims, data}} for the named hooks (all when empty).
  val runWithCache(val ids, std::string names_json, std::string interventions_json) {
    return guarded([&] {
      const auto& c = model().config();
      const auto names = io::parse_json(names_json, "hook names", lmdbg::ErrorCode::kInvalidArgument, "[]");
      const std::vector<int> tokens = to_ids(ids);
      const int T = static_cast<int>(tokens.size());
      const auto shape = [&](const lmdbg::HookRef& r) { return lmdbg::hook_shape(r.hook, c.n_heads, c.d_model, c.d_mlp, T); };
      // The result arrays (each hook's, then the logits'), made and first-touched while the other
      // threads compute the unembedding.
      std::vector<val> arrays;
      const auto make_arrays = [&](const std::vector<lmdbg::HookRef>& refs) {
        for (const auto& r : refs) {
          size_t n = 1;
          for (int x : shape(r)) n *= static_cast<size_t>(x);
          arrays.push_back(touched_f32(n));
        }
        arrays.push_back(touched_f32(static_cast<size_t>(T) * c.d_vocab));
      };
      const auto cache = s_.run_with_cache(tokens, lmdbg::hook_refs_from_json(names, c.n_layers),
                                           interventions_arg(interventions_json), make_arrays);
      const lmdbg::State& st = *cache.state;
      if (arrays.size() != cache.hooks.size() + 1) lmdbg::fail(lmdbg::ErrorCode::kState, "internal: runWithCache made no result arrays");
      val hooks = val::array();
      for (size_t i = 0; i < cache.hooks.size(); ++i) {
        const auto& r = cache.hooks[i];
        val h = val::object();
        h.set("name", lmdbg::hook_name(r.hook, r.layer));
        val dims_h = val::array();
        for (int x : shape(r)) dims_h.call<void>("push", x);
        h.set("dims", dims_h);
        h.set("data", into_f32(arrays[i], st.hook(r.hook, r.layer), static_cast<size_t>(T) * st.hook_width(r.hook)));
        hooks.call<void>("push", h);
      }
      val logits = val::object();
      logits.set("dims", dims({T, c.d_vocab}));
      logits.set("data", into_f32(arrays.back(), st.logits(), static_cast<size_t>(T) * c.d_vocab));
      val out = val::object();
      out.set("hooks", hooks);
      out.set("logits", logits);
      return out;
    });
  }

  void loadClusters(std::string t) {
    guarded([&] {
      s_.load_clusters(io::parse_json(t, "value_clusters.json", lmdbg::ErrorCode::kBadFile));
      return 0;
    });
  }
  // value_index.bin (`lmdbg index`), checked against these weights (value_vectors.h).
  void loadValueIndex(std::string b) {
    guarded([&] {
      s_.load_value_index(b);
      return 0;
    });
  }
  bool hasClusters() const { return s_.clusters() != nullptr; }
  // Idle-time clustering when no value_clusters.json came with the model (Session::cluster_step).
  bool clusterStep(int units) {
    return guarded([&] { return s_.cluster_step(units); });
  }
  double clusterProgress() const { return s_.cluster_progress(); }
  std::string cluster(int id, int top_k, int members_limit) const {
    return guarded([&] {
      if (!s_.clusters()) lmdbg::fail(lmdbg::ErrorCode::kState, "no clusters loaded for this model");
      return text(lmdbg::cluster_to_json(model(), *s_.clusters(), id, top_k, members_limit));
    });
  }

  // Precomputation in bounded steps (LoadOptions.precompute): each call costs tens of milliseconds.
  void prepareSearch() {
    guarded([&] {
      s_.prepare_search();
      return 0;
    });
  }
  bool searchReady() const { return s_.search_ready(); }
  bool searchStatsStep(int units) { return guarded([&] { return s_.search_stats_step(units); }); }
  int fillValueIndex(int max_vectors) { return guarded([&] { return s_.fill_value_index(max_vectors); }); }
  double valueIndexFilled() const { return static_cast<double>(s_.value_index().filled()); }
  double valueIndexTotal() const { return static_cast<double>(s_.value_index().total()); }
  double forwardPasses() const { return static_cast<double>(s_.forward_passes()); }

  lmdbg::Session& session() { return s_; }

 private:
  const lmdbg::Model& model() const { return s_.model(); }
  lmdbg::Session s_;
};

struct LoaderPlace {
  double ptr, bytes;
};

// Streaming load: JS copies model.safetensors into the heap chunk by chunk (reusing one small
// buffer) and the engine packs tensors as they complete, so the whole file is never in memory.
class WasmLoader {
 public:
  explicit WasmLoader(std::unique_ptr<lmdbg::ModelBuilder> b) : builder_(std::move(b)) {}
  static WasmLoader* create(std::string config, std::string vocab, std::string merges, std::string options) {
    return guarded([&] {
      return new WasmLoader(std::make_unique<lmdbg::ModelBuilder>(config, vocab, merges, parse_load_options(options)));
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
  // Where the next at most `max` bytes may be written in place (ptr 0: feed that many from any buffer).
  LoaderPlace place(double max) {
    return guarded([&] {
      const auto p = builder_->place(static_cast<size_t>(max));
      return LoaderPlace{static_cast<double>(reinterpret_cast<uintptr_t>(p.data)), static_cast<double>(p.bytes)};
    });
  }
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
  explicit WasmGenerator(std::unique_ptr<lmdbg::Generation> g) : gen_(std::move(g)) {}
  int next() { return guarded([&] { return gen_->next(); }); }
  int remaining() const { return gen_->remaining(); }

 private:
  std::unique_ptr<lmdbg::Generation> gen_;
};

WasmGenerator* make_generator(WasmModel& m, val ids, std::string interventions_json, std::string sampling_json) {
  return guarded([&] {
    const auto s = lmdbg::sampling_from_json(io::parse_json(sampling_json, "sampling options", lmdbg::ErrorCode::kInvalidArgument, "{}"));
    return new WasmGenerator(m.session().generate(to_ids(ids), interventions_arg(interventions_json), s));
  });
}

}  // namespace

EMSCRIPTEN_BINDINGS(lmdbg) {
  emscripten::class_<WasmModel>("Model")
      .class_function("load", &WasmModel::load, emscripten::allow_raw_pointers())
      .function("configJson", &WasmModel::configJson)
      .function("infoJson", &WasmModel::infoJson)
      .function("snapshot", &WasmModel::snapshot)
      .function("weightBytes", &WasmModel::weightBytes)
      .function("tokenize", &WasmModel::tokenize)
      .function("decode", &WasmModel::decode)
      .function("tokenBytes", &WasmModel::tokenBytes)
      .function("logits", &WasmModel::logits)
      .function("trace", &WasmModel::trace)
      .function("valueVectors", &WasmModel::valueVectors)
      .function("patch", &WasmModel::patch)
      .function("patchSweep", &WasmModel::patchSweep)
      .function("attribute", &WasmModel::attribute)
      .function("prepareSearch", &WasmModel::prepareSearch)
      .function("searchReady", &WasmModel::searchReady)
      .function("fillValueIndex", &WasmModel::fillValueIndex)
      .function("valueIndexFilled", &WasmModel::valueIndexFilled)
      .function("valueIndexTotal", &WasmModel::valueIndexTotal)
      .function("searchStatsStep", &WasmModel::searchStatsStep)
      .function("forwardPasses", &WasmModel::forwardPasses)
      .function("search", &WasmModel::search)
      .function("runWithCache", &WasmModel::runWithCache)
      .function("loadClusters", &WasmModel::loadClusters)
      .function("loadValueIndex", &WasmModel::loadValueIndex)
      .function("hasClusters", &WasmModel::hasClusters)
      .function("clusterStep", &WasmModel::clusterStep)
      .function("clusterProgress", &WasmModel::clusterProgress)
      .function("cluster", &WasmModel::cluster);
  emscripten::value_object<LoaderPlace>("LoaderPlace")
      .field("ptr", &LoaderPlace::ptr)
      .field("bytes", &LoaderPlace::bytes);
  emscripten::class_<WasmLoader>("Loader")
      .class_function("create", &WasmLoader::create, emscripten::allow_raw_pointers())
      .function("setHeader", &WasmLoader::setHeader)
      .function("headerBytes", &WasmLoader::headerBytes)
      .function("place", &WasmLoader::place)
      .function("feed", &WasmLoader::feed)
      .function("finish", &WasmLoader::finish, emscripten::allow_raw_pointers());
  emscripten::class_<WasmGenerator>("Generator")
      .function("next", &WasmGenerator::next)
      .function("remaining", &WasmGenerator::remaining);
  emscripten::function("createGenerator", &make_generator, emscripten::allow_raw_pointers());
  emscripten::function("hookNames", emscripten::optional_override([](int n_layers) {
    return text(io::ojson(lmdbg::all_hook_names(n_layers)));
  }));
  emscripten::function("takeError", &take_error);
  emscripten::function("heapBytes", emscripten::optional_override([] { return static_cast<double>(emscripten_get_heap_size()); }));
  emscripten::function("heapUsed", emscripten::optional_override([] { return static_cast<double>(heap_in_use()); }));
  emscripten::function("heapMax", emscripten::optional_override([] { return static_cast<double>(emscripten_get_heap_max()); }));
}
