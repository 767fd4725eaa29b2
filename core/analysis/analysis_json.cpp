#include "analysis_json.h"

#include <cmath>

#include "core/error.h"

namespace lmdbg {

using json = io::ojson;

json token_json(const Model& m, int id) { return {{"id", id}, {"text", m.tokenizer().token_bytes(id)}}; }

json token_list_json(const Model& m, const std::vector<TokenScore>& ts) {
  json a = json::array();
  for (const auto& t : ts) {
    json e = token_json(m, t.id);
    e["logit"] = t.logit;
    if (!std::isnan(t.prob)) e["prob"] = t.prob;
    a.push_back(std::move(e));
  }
  return a;
}

json cluster_to_json(const Model& m, const Clusters& c, int cluster, int top_k, int members_limit) {
  const auto members = cluster_members(c, cluster);
  json mem = json::array();
  for (size_t i = 0; i < members.size() && static_cast<int>(i) < members_limit; ++i)
    mem.push_back({{"name", value_vector_name(members[i].layer, members[i].index)},
                   {"layer", members[i].layer},
                   {"index", members[i].index}});
  return {{"id", cluster},
          {"size", members.size()},
          {"computed", c.computed},
          {"members", mem},
          {"topTokens", token_list_json(m, cluster_top_tokens(m, c, cluster, top_k))}};
}

json value_vector_to_json(const Model& m, const ValueVectorTokens& v, const Clusters* clusters, int members_limit) {
  json j = {{"name", value_vector_name(v.layer, v.index)},
            {"layer", v.layer},
            {"index", v.index},
            {"norm", v.norm},
            {"top", token_list_json(m, v.top)},
            {"bottom", token_list_json(m, v.bottom)}};
  if (clusters)
    j["cluster"] = cluster_to_json(m, *clusters, clusters->cluster_of(v.layer, v.index), static_cast<int>(v.top.size()),
                                members_limit);
  return j;
}

SearchRanking search_ranking_from_name(const std::string& name) {
  if (name == "zscore") return SearchRanking::kZScore;
  if (name == "lmdebugger") return SearchRanking::kLmDebugger;
  invalid("search: unknown ranking \"" + name + "\" (\"zscore\" or \"lmdebugger\")");
}

json search_to_json(const Model& m, const std::vector<std::string>& keywords, const std::vector<SearchHit>& hits,
                    const SearchOptions& opt) {
  const bool lmd = opt.ranking == SearchRanking::kLmDebugger;
  const auto kws = keyword_tokens(m, keywords);
  json jk = json::array();
  for (const auto& k : kws) {
    json toks = json::array(), pieces = json::array();
    for (int t : k.tokens) toks.push_back(token_json(m, t));
    json e = {{"keyword", k.keyword}, {"tokens", toks}, {"multiToken", k.multi_token}};
    if (k.multi_token) {
      for (int t : k.pieces) pieces.push_back(token_json(m, t));
      e["pieces"] = pieces;
    }
    jk.push_back(std::move(e));
  }
  json jh = json::array();
  for (const auto& h : hits) {
    json matched = json::array();
    for (size_t i = 0; i < h.matched.size(); ++i) {
      json e = token_json(m, h.matched[i].token);
      e["keyword"] = kws[i].keyword;
      e["z"] = h.matched[i].z;
      e["weak"] = h.matched[i].weak;
      if (lmd) e["inTop50"] = h.matched[i].in_top;
      matched.push_back(std::move(e));
    }
    json e = {{"name", value_vector_name(h.layer, h.index)},
              {"layer", h.layer},
              {"index", h.index},
              {"score", h.score},
              {"zSum", h.z_sum},
              {"weak", h.weak},
              {"matched", matched}};
    if (!h.top.empty()) e["topTokens"] = token_list_json(m, h.top);
    jh.push_back(std::move(e));
  }
  return {{"schema", "lmdbg.search/1"},
          {"ranking", lmd ? "lmdebugger" : "zscore"},
          {"weakZ", kWeakZ},
          {"keywords", jk},
          {"hits", jh}};
}


}  // namespace lmdbg
