// safetensors: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data. Offsets are relative to the end of the header.
//
// parse() validates everything (header bounds, JSON, dtypes, shape arithmetic, offsets inside the
// data and not overlapping) and throws lmdbg::Error naming the file and tensor. The returned view
// borrows `data`: keep the bytes alive while using it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lmdbg::io {

enum class TensorDType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool, kOther };

const char* dtype_name(TensorDType t);
size_t dtype_size(TensorDType t);  // 0 for kOther

struct TensorInfo {
  std::string name;
  TensorDType dtype;
  std::string dtype_str;
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;  // byte range within the data section
  const uint8_t* data = nullptr;
  size_t numel() const;
  std::string shape_str() const;  // "[768,2304]"
};

struct SafeTensorsView {
  std::vector<TensorInfo> tensors;  // in header order
  std::map<std::string, std::string> metadata;
  size_t header_bytes = 0;  // 8 + N
  const TensorInfo* find(std::string_view name) const;
};

// A floating-point tensor's values as f32 (F64, F32, F16, BF16; data must be set). Throws for other dtypes.
std::vector<float> tensor_to_f32(const TensorInfo& t);

// `what` names the file in error messages (e.g. "model.safetensors").
SafeTensorsView parse_safetensors(const uint8_t* data, size_t size, std::string_view what = "model.safetensors");

// The first 8 bytes give the header length N; the header is bytes [8, 8 + N).
uint64_t safetensors_header_length(const uint8_t* first8);

// Parses only the header (at least the first 8 + N bytes), validating offsets against a file of
// file_size bytes. Tensor data pointers stay null: the data arrives later (streaming loads).
SafeTensorsView parse_safetensors_header(const uint8_t* header, size_t available, uint64_t file_size,
                                         std::string_view what = "model.safetensors");

// Writer for tools and tests: tensors are given as (name, dtype, shape, bytes).
struct TensorToWrite {
  std::string name;
  TensorDType dtype;
  std::vector<int64_t> shape;
  const void* data;
};
std::string write_safetensors(const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace lmdbg::io
