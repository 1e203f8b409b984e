// Our exported GGUF files read by an independent parser, @huggingface/gguf (pinned in
// tests/gguf_npm/package-lock.json, installed into the build tree by the gguf_npm fixture):
// it must see every tensor with the name, ggml type and shape we wrote, and the metadata
// llama.cpp needs.
#include <atomic>
#include <cstdio>
#include <map>
#include <string>

#include "engine/checkpoint/gguf.h"
#include "engine/compressor/gguf_export.h"
#include "engine/compressor/model_compressor.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using Json = nlohmann::json;

Json ParseWithNode(const std::string& gguf) {
  const std::string command = std::string("cd '") + GHOST_GGUF_NPM_DIR + "' && '" + GHOST_NODE +
                              "' parse.mjs '" + gguf + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return Json();
  std::string out;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << out;
  return Json::parse(out, nullptr, /*allow_exceptions=*/false);
}

std::string CompressedModel(const std::string& dir, int width, const std::string& scheme,
                            int block_size) {
  ghost::testing::TinyLlamaSpec spec;
  spec.hidden_size = spec.intermediate_size = width;
  spec.head_dim = width / spec.num_heads;
  spec.context = 512;
  ghost::testing::WriteTinyLlama(dir, spec);
  compress::CompressJobSpec job;
  job.source_dir = dir;
  job.output_dir = dir + "-out";
  job.scheme = scheme;
  job.block_size = block_size;
  job.calibration_text = "The quick brown fox jumps over the lazy dog. ";
  const std::atomic<bool> no_cancel{false};
  EXPECT_TRUE(compress::CompressModelDirectory(
                  job, [](const compress::CompressProgress&) {}, no_cancel)
                  .ok());
  return job.output_dir;
}

// The independent parser sees what our reader sees; returns its view.
Json ExpectSameView(const std::string& model_dir) {
  const std::string gguf = model_dir + ".gguf";
  EXPECT_TRUE(compress::ExportGguf(model_dir, gguf).ok());
  const Json parsed = ParseWithNode(gguf);
  EXPECT_TRUE(parsed.is_object()) << gguf;
  if (!parsed.is_object()) return parsed;
  absl::StatusOr<std::unique_ptr<GgufFile>> ours = GgufFile::Open(gguf);
  EXPECT_TRUE(ours.ok());
  if (!ours.ok()) return parsed;
  EXPECT_EQ(parsed["tensors"].size(), (*ours)->tensors().size());
  for (const Json& t : parsed["tensors"]) {
    const GgufTensor* mine = (*ours)->FindTensor(t["name"].get<std::string>());
    EXPECT_NE(mine, nullptr) << t["name"];
    if (mine == nullptr) continue;
    EXPECT_EQ(t["type"].get<std::uint32_t>(), mine->type) << t["name"];
    EXPECT_EQ(t["shape"].get<std::vector<std::int64_t>>(), mine->dims) << t["name"];
  }
  EXPECT_EQ(parsed["metadata"]["general.architecture"], "llama");
  EXPECT_EQ(parsed["metadata"]["llama.block_count"], 2);
  EXPECT_EQ(parsed["metadata"]["general.quantization_version"], 2);
  EXPECT_EQ(parsed["metadata"]["tokenizer.ggml.tokens"]["length"], 259);
  return parsed;
}

std::map<std::string, int> Types(const Json& parsed) {
  std::map<std::string, int> types;
  for (const Json& t : parsed["tensors"]) types[t["name"]] = t["type"];
  return types;
}

TEST(GgufNpmTest, IndependentParserReadsOurExports) {
  const std::string dense = ghost::testing::MakeTempDir("gguf-npm-dense");
  ghost::testing::WriteTinyLlama(dense, ghost::testing::TinyLlamaSpec{});
  const Json f32 = ExpectSameView(dense);
  EXPECT_EQ(f32["metadata"]["general.file_type"], 0);
  EXPECT_EQ(Types(f32)["blk.0.attn_q.weight"], 0);
  EXPECT_EQ(f32["tensors"][0]["name"], "token_embd.weight");
  EXPECT_EQ(f32["tensors"][0]["shape"], Json::array({32, 259}));

  const Json q2 = ExpectSameView(
      CompressedModel(ghost::testing::MakeTempDir("gguf-npm-q2"), 64, "ternary", 64));
  EXPECT_EQ(q2["metadata"]["general.file_type"], 41);  // LLAMA_FTYPE_MOSTLY_Q2_0
  EXPECT_EQ(Types(q2)["blk.1.ffn_down.weight"], 42);   // GGML_TYPE_Q2_0
  EXPECT_EQ(Types(q2)["blk.1.attn_norm.weight"], 0);

  const std::string w256 = ghost::testing::MakeTempDir("gguf-npm-tq");
  const Json tq2 = ExpectSameView(CompressedModel(w256, 256, "ternary", 256));
  EXPECT_EQ(tq2["metadata"]["general.file_type"], 37);
  EXPECT_EQ(Types(tq2)["blk.0.attn_k.weight"], 35);
  const Json tq1 = ExpectSameView(
      CompressedModel(ghost::testing::MakeTempDir("gguf-npm-tq1"), 256, "ternary-base3", 256));
  EXPECT_EQ(tq1["metadata"]["general.file_type"], 36);
  EXPECT_EQ(Types(tq1)["blk.0.ffn_up.weight"], 34);
}

}  // namespace
}  // namespace ghost
