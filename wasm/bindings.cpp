// Embind bindings: C++ results -> JS objects / typed arrays (always copies), C++ errors -> JS Error.
// No model math here; everything is in core/.
#include <emscripten/bind.h>
#include <emscripten/heap.h>
#include <emscripten/val.h>
#include <malloc.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/interventions/resolve.h"
#include "core/model/forward.h"
#include "core/model/generate.h"
#include "core/model/model.h"

using emscripten::val;

namespace {

[[noreturn]] void throw_js(const std::string& msg) {
  val::global("Error").new_(val(msg)).throw_();
  __builtin_unreachable();
}

// Runs f, turning any C++ exception into a JS Error that carries the message.
template <typename F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const lmdbg::Error& e) {
    throw_js(e.what());
  } catch (const std::bad_alloc&) {
    throw_js("out of memory: the WebAssembly heap cannot grow further (4 GB limit)");
  } catch (const std::exception& e) {
    throw_js(e.what());
  }
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

size_t heap_available() {
  const size_t max = emscripten_get_heap_max();
  const struct mallinfo mi = mallinfo();
  const size_t used = static_cast<size_t>(mi.uordblks);
  const size_t margin = 64u << 20;
  return max > used + margin ? max - used - margin : 0;
}

class WasmModel {
 public:
  // weights_ptr/len: the safetensors bytes, already copied into the heap by JS (JS frees them).
  static WasmModel* load(std::string config, uintptr_t weights_ptr, double weights_len, std::string vocab,
                         std::string merges, std::string options) {
    return guarded([&] {
      lmdbg::LoadOptions opt;
      const auto o = nlohmann::json::parse(options.empty() ? "{}" : options);
      const std::string dtype = o.value("dtype", "f32");
      if (dtype == "f16")
        opt.storage = lmdbg::kernels::Storage::kF16;
      else if (dtype != "f32")
        throw lmdbg::Error(lmdbg::ErrorCode::kInvalidArgument, "dtype must be \"f32\" or \"f16\", got \"" + dtype + "\"");
      opt.memory_limit = heap_available();
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

 private:
  std::unique_ptr<lmdbg::Model> model_;
};

double heapBytes() { return static_cast<double>(emscripten_get_heap_size()); }
double heapUsed() { return static_cast<double>(mallinfo().uordblks); }
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
      .function("logits", &WasmModel::logits);
  emscripten::function("heapBytes", &heapBytes);
  emscripten::function("heapUsed", &heapUsed);
  emscripten::function("heapMax", &heapMax);
}
