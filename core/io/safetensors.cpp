#include "safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/kernels/fp16.h"
#include "core/io/json.h"

namespace lmdbg::io {

namespace {

constexpr size_t kMaxHeader = 100u << 20;  // real headers are a few hundred kB

struct DTypeEntry {
  const char* name;
  TensorDType type;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {"F64", TensorDType::kF64, 8}, {"F32", TensorDType::kF32, 4}, {"F16", TensorDType::kF16, 2},
    {"BF16", TensorDType::kBF16, 2}, {"I64", TensorDType::kI64, 8}, {"I32", TensorDType::kI32, 4},
    {"I16", TensorDType::kI16, 2}, {"I8", TensorDType::kI8, 1}, {"U8", TensorDType::kU8, 1},
    {"BOOL", TensorDType::kBool, 1},
};

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return true;
  *out = a * b;
  return false;
}

}  // namespace

const char* dtype_name(TensorDType t) {
  for (const auto& e : kDTypes)
    if (e.type == t) return e.name;
  return "unknown";
}

size_t dtype_size(TensorDType t) {
  for (const auto& e : kDTypes)
    if (e.type == t) return e.size;
  return 0;
}

size_t TensorInfo::numel() const {
  size_t n = 1;
  for (auto d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

const TensorInfo* SafeTensorsView::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

// `size` bytes are available at `data`; the whole file has `file_size` bytes (== size unless only
// the header was given, in which case tensor data pointers stay null).
SafeTensorsView parse_impl(const uint8_t* data, size_t size, uint64_t file_size, std::string_view what) {
  const std::string w(what);
  const bool with_data = size == file_size;
  if (file_size < 8) bad_file(w + ": file is " + std::to_string(file_size) + " bytes, too short for a safetensors header");
  if (size < 8) bad_file(w + ": the first 8 bytes are needed to read the header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > file_size - 8)
    bad_file(w + ": header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(file_size) +
             " bytes); the file is truncated or not safetensors");
  if (n > kMaxHeader) bad_file(w + ": header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n < 2) bad_file(w + ": header is empty");
  if (n > size - 8)
    invalid(w + ": only " + std::to_string(size) + " of the " + std::to_string(8 + n) + " header bytes were given");

  const nlohmann::json header =
      parse_json(std::string_view(reinterpret_cast<const char*>(data + 8), n), w + ": header", ErrorCode::kBadFile);
  if (!header.is_object()) bad_file(w + ": header is not a JSON object");

  SafeTensorsView view;
  view.header_bytes = 8 + n;
  const uint8_t* base = data + 8 + n;
  const uint64_t data_size = file_size - 8 - n;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) bad_file(w + ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) view.metadata[m.key()] = m.value().get<std::string>();
      continue;
    }
    const std::string where = w + ": tensor \"" + name + "\"";
    if (!v.is_object()) bad_file(where + ": entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) bad_file(where + ": missing string \"dtype\"");
    if (!v.contains("shape") || !v["shape"].is_array()) bad_file(where + ": missing array \"shape\"");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      bad_file(where + ": missing \"data_offsets\" [begin, end]");

    TensorInfo t;
    t.name = name;
    t.dtype_str = v["dtype"].get<std::string>();
    t.dtype = TensorDType::kOther;
    for (const auto& e : kDTypes)
      if (t.dtype_str == e.name) t.dtype = e.type;

    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        bad_file(where + ": shape " + v["shape"].dump() + " has a non-integer or negative dimension");
      const auto dim = d.get<int64_t>();
      if (mul_overflows(numel, static_cast<uint64_t>(dim), &numel))
        bad_file(where + ": shape " + v["shape"].dump() + " overflows when multiplied out");
      t.shape.push_back(dim);
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad_file(where + ": data_offsets " + off.dump() + " must be non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e) bad_file(where + ": data_offsets " + off.dump() + " end before they begin");
    if (e > data_size)
      bad_file(where + ": data_offsets " + off.dump() + " lie outside the data section (" + std::to_string(data_size) +
               " bytes)");
    if (t.dtype != TensorDType::kOther) {
      uint64_t bytes;
      if (mul_overflows(numel, dtype_size(t.dtype), &bytes))
        bad_file(where + ": shape " + v["shape"].dump() + " overflows when multiplied out");
      if (bytes != e - b)
        bad_file(where + ": " + t.dtype_str + " " + v["shape"].dump() + " needs " + std::to_string(bytes) +
                 " bytes but data_offsets " + off.dump() + " span " + std::to_string(e - b));
    }
    t.begin = static_cast<size_t>(b);
    t.end = static_cast<size_t>(e);
    t.data = with_data ? base + t.begin : nullptr;
    view.tensors.push_back(std::move(t));
  }

  std::vector<const TensorInfo*> order;
  for (const auto& t : view.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  // Compare each non-empty tensor with the non-empty one reaching furthest before it (not just its
  // neighbour: an empty tensor in between must not hide an overlap).
  const TensorInfo* reach = nullptr;
  for (const TensorInfo* t : order) {
    if (t->begin == t->end) continue;
    if (reach && t->begin < reach->end)
      bad_file(w + ": tensors \"" + reach->name + "\" and \"" + t->name + "\" have overlapping data");
    if (!reach || t->end > reach->end) reach = t;
  }
  return view;
}

}  // namespace

SafeTensorsView parse_safetensors(const uint8_t* data, size_t size, std::string_view what) {
  return parse_impl(data, size, size, what);
}

uint64_t safetensors_header_length(const uint8_t* first8) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | first8[i];
  return n;
}

SafeTensorsView parse_safetensors_header(const uint8_t* header, size_t available, uint64_t file_size,
                                         std::string_view what) {
  if (available >= file_size) return parse_impl(header, static_cast<size_t>(file_size), file_size, what);
  return parse_impl(header, available, file_size, what);
}

std::string write_safetensors(const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  size_t off = 0;
  std::vector<size_t> sizes;
  for (const auto& t : tensors) {
    size_t n = 1;
    for (auto d : t.shape) n *= static_cast<size_t>(d);
    const size_t bytes = n * dtype_size(t.dtype);
    h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + bytes}}};
    sizes.push_back(bytes);
    off += bytes;
  }
  std::string hs = h.dump();
  while ((hs.size() + 8) % 8) hs += ' ';  // align the data section like the reference writer
  std::string out;
  out.reserve(8 + hs.size() + off);
  uint64_t n = hs.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += hs;
  for (size_t i = 0; i < tensors.size(); ++i) out.append(static_cast<const char*>(tensors[i].data), sizes[i]);
  return out;
}

std::vector<float> tensor_to_f32(const TensorInfo& t) {
  std::vector<float> out(t.numel());
  const size_t es = dtype_size(t.dtype);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t* p = t.data + i * es;
    switch (t.dtype) {
      case TensorDType::kF32: std::memcpy(&out[i], p, 4); break;
      case TensorDType::kF64: {
        double d;
        std::memcpy(&d, p, 8);
        out[i] = static_cast<float>(d);
        break;
      }
      case TensorDType::kF16:
      case TensorDType::kBF16: {
        uint16_t h;
        std::memcpy(&h, p, 2);
        out[i] = t.dtype == TensorDType::kF16 ? kernels::f16_to_f32(h) : kernels::bf16_to_f32(h);
        break;
      }
      default: invalid(t.name + ": dtype " + t.dtype_str + " is not a floating-point type");
    }
  }
  return out;
}

}  // namespace lmdbg::io
