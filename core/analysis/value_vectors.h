// Value vectors (LM-Debugger): v[l][i] = row i of blocks.{l}.mlp.c_proj.weight, projected to the
// vocabulary without layer norm: r = wte · v. The FFN output is sum_i m_i v_i + b.
//
// Top/bottom tokens are exact: every token's score wte[t]·v is computed (one GEMM over the
// unembedding per block of 4096 tokens, all requested vectors as its rows, a running top-k per
// vector). Results are kept in the model's ValueIndex (core/analysis/value_index.h), so a vector is
// projected at most once per model; fill_value_index() projects the rest in idle time, and
// value_index_to_bytes / value_index_from_bytes persist the index (value_index.bin, `lmdbg index`).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/analysis/tokens.h"
#include "core/analysis/value_index.h"
#include "core/io/json.h"
#include "core/model/model.h"

namespace lmdbg {

struct ValueVectorRef {
  int layer = 0;
  int index = 0;
};

struct ValueVectorTokens {
  int layer = 0, index = 0;
  float norm = 0.f;                 // ||v||_2
  std::vector<TokenScore> top;      // largest logits of wte·v
  std::vector<TokenScore> bottom;   // smallest, most negative first
};

// Top/bottom tokens of all refs: from the index where present, the rest projected in one batch (and
// stored in the index). bottom_k may be 0. Throws on out-of-range refs.
std::vector<ValueVectorTokens> value_vector_tokens(const Model& m, ValueIndex& ix, const std::vector<ValueVectorRef>& refs,
                                                   int top_k, int bottom_k);

// Exact top/bottom token lists of wte·a_j for n arbitrary d-vectors a[n, d] (not stored anywhere).
// col_block: tokens per GEMM column block (0: the default, 4096; tests use small ones).
void project_top_bottom(const Model& m, const float* a, int n, int top_k, int bottom_k,
                        std::vector<std::vector<TokenScore>>& top, std::vector<std::vector<TokenScore>>& bottom,
                        int col_block = 0);

// Idle-time filling of the index: projects up to max_vectors vectors not yet indexed,
// largest ||v|| first (those dominate sub-updates). Returns how many were projected (0: complete).
// A batch of 8 costs ~0.6 GFLOP (GPT-2 small): tens of ms, so a host can interleave it with requests.
int fill_value_index(const Model& m, ValueIndex& ix, int max_vectors);

// value_index.bin: the index (and optionally the search statistics), little-endian:
//   "LMDBGVIX" u32 version=3, n_layers, d_mlp, d_vocab, d_model, k, flags (1: search stats),
//   storage of the weights (0 f32, 1 f16, 2 q8), u64 XXH64 of model.safetensors' data section
//   (Model::fingerprint()): a file is refused, naming the mismatch, for other weights or storage
//   u8 filled[L * d_mlp] (zero-padded to a multiple of 4)
//   per layer, per vector: i32 ids[2k] (top k, bottom k), f32 scores[2k], f32 top-50 cut (value_index.h)
//   flags & 1: f32 mean[L * d_mlp], f32 std[L * d_mlp]            (SearchStats, core/analysis/search.h)
struct SearchStats;
std::string value_index_to_bytes(const Model& m, const ValueIndex& ix, const SearchStats* stats);
// Loads the file into ix after checking it against the model: shapes, ids in range,
// sorted lists, and the exact scores of a sample of vectors (one fully recomputed, with its mean
// and std when stats are present). Throws Error(kBadFile) naming the mismatch. Returns true (and
// fills *stats, if given) when the file holds search statistics.
bool value_index_from_bytes(const Model& m, ValueIndex& ix, std::string_view bytes, SearchStats* stats);

// r = wte · v for one value vector (V floats).
std::vector<float> value_projection(const Model& m, int layer, int index);

// [[layer, index], ...] from a caller (ranges are checked where the refs are used).
std::vector<ValueVectorRef> value_vector_refs_from_json(const io::json& j);

// "L12D34" <-> {12, 34}. parse throws Error(kInvalidArgument) on other text.
std::string value_vector_name(int layer, int index);
ValueVectorRef parse_value_vector_name(const std::string& s);
// "L3H5": attention head 5 of layer 3 (its output, hook_result).
std::string head_name(int layer, int head);

}  // namespace lmdbg
