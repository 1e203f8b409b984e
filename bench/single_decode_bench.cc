// ghostbench decode: one stream decoding on a random model of TinyLlama-1.1B's shape, in bf16
// and in every compressed format (--block_size, default 64), or on any GGUF file (--gguf FILE,
// so llama.cpp's llama-bench can measure the same file on the same machine). --save_gguf DIR
// also writes each random model as DIR/<format>-b<block>.gguf where GGUF has a type for it. Per
// format: decode tokens/s (64 tokens after a 16-token prompt by default, prefill excluded;
// --context 2048 decodes after a 2048-token prompt, where attention reads as many bytes as a
// third of the ternary weights), the bytes read per token (weights and KV cache, in the cache's
// dtype: bf16 unless --kv_dtype fp32), the implied GB/s and its ratio to the machine's read
// bandwidth measured in the same run; and prefill tokens/s, the prompt's one Forward call
// (`--context 128` for a 128-token prefill).
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/huge_buffer.h"
#include "bench/memory_bandwidth.h"
#include "bench/random_model.h"
#include "bench/subcommands.h"
#include "engine/backend/kv_cache.h"
#include "engine/compressor/gguf_export.h"
#include "engine/model/model.h"
#include "kernels/cpu/thread_pool.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

struct DecodeResult {
  std::string format;
  double tokens_per_s = 0;
  double prefill_tokens_per_s = 0;  // The prompt's one Forward call.
  double bytes_per_token = 0;
  double gb_per_s = 0;
};

struct Speeds {
  double decode = 0;   // tokens/s
  double prefill = 0;  // prompt tokens/s
};

// Prefills a prompt in one Forward call, then decodes `new_tokens` greedy-free (argmax is
// irrelevant here: the next input is fixed); returns both tokens/s, each the best of
// `repeats` runs (zeros on an error).
Speeds MeasureTokensPerSecond(const Model& model, KvDtype kv_dtype, int prompt_tokens,
                              int new_tokens, int repeats) {
  Speeds best;
  std::vector<float> logits;
  for (int r = 0; r < repeats; ++r) {
    std::unique_ptr<ModelSession> session = model.NewSession(kv_dtype);
    std::vector<std::int32_t> prompt;
    for (int i = 0; i < prompt_tokens; ++i) prompt.push_back(100 + i);
    const absl::Time prefill_start = absl::Now();
    if (!session->Forward(prompt, /*all_logits=*/false, logits).ok()) return {};
    best.prefill =
        std::max(best.prefill, prompt_tokens / absl::ToDoubleSeconds(absl::Now() - prefill_start));
    const absl::Time start = absl::Now();
    for (int t = 0; t < new_tokens; ++t) {
      const std::int32_t token = 200 + t;
      if (!session->Forward({&token, 1}, /*all_logits=*/false, logits).ok()) return {};
    }
    best.decode = std::max(best.decode, new_tokens / absl::ToDoubleSeconds(absl::Now() - start));
  }
  return best;
}

}  // namespace

int RunDecode(int argc, char** argv) {
  std::vector<std::string> formats = RandomModelFormats();
  std::string tokenizer_dir = "models/ghost-tiny";
  int new_tokens = 64, repeats = 2, prompt_tokens = 16;
  // What the engine picks for every format here (Model::default_kv_dtype).
  KvDtype kv_dtype = KvDtype::kBf16;
  bool json = false;
  int block_size = 64;
  std::string gguf, save_gguf;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      json = true;
    } else if (arg == "--formats" && has_value) {
      formats = absl::StrSplit(argv[++i], ',');
    } else if (arg == "--kv_dtype" && has_value && ParseKvDtype(argv[i + 1]).ok()) {
      kv_dtype = *ParseKvDtype(argv[++i]);
    } else if (arg == "--gguf" && has_value) {
      gguf = argv[++i];
    } else if (arg == "--save_gguf" && has_value) {
      save_gguf = argv[++i];
    } else if (arg == "--block_size" && has_value && absl::SimpleAtoi(argv[i + 1], &block_size)) {
      ++i;
    } else if (arg == "--tokenizer_model" && has_value) {
      tokenizer_dir = argv[++i];
    } else if (arg == "--new_tokens" && has_value && absl::SimpleAtoi(argv[i + 1], &new_tokens)) {
      ++i;
    } else if (arg == "--repeats" && has_value && absl::SimpleAtoi(argv[i + 1], &repeats)) {
      ++i;
    } else if ((arg == "--prompt_tokens" || arg == "--context") && has_value &&
               absl::SimpleAtoi(argv[i + 1], &prompt_tokens) && prompt_tokens >= 1) {
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: ghostbench decode [--json] [--formats bf16,ternary,...] "
                   "[--new_tokens 64] [--prompt_tokens|--context 16] [--repeats 2] "
                   "[--kv_dtype bf16|fp32] [--tokenizer_model DIR] [--block_size 64] [--gguf FILE] "
                   "[--save_gguf DIR]\n");
      return 2;
    }
  }
  // Measured before and after the decodes, the faster pass kept: on a shared host one
  // pass can meet other tenants' load the decodes did not, and a low bandwidth would
  // overstate every ratio.
  const auto measure_bandwidth = [] {
    HugeBuffer buffer(std::size_t{1} << 30);
    return MeasureReadBandwidth(buffer.data(), buffer.size(), 2.0);
  };
  BandwidthResult bandwidth = measure_bandwidth();
  std::vector<DecodeResult> results;
  if (!gguf.empty()) formats = {gguf};
  for (const std::string& format : formats) {
    char pattern[] = "/tmp/ghostbench-decode-XXXXXX";
    if (gguf.empty() && mkdtemp(pattern) == nullptr) return 1;
    absl::Status written = gguf.empty()
                               ? WriteRandomTinyLlama(pattern, tokenizer_dir, format, block_size)
                               : absl::OkStatus();
    if (written.ok() && !save_gguf.empty() && gguf.empty()) {
      const std::string path = absl::StrCat(save_gguf, "/", format, "-b", block_size, ".gguf");
      if (const absl::Status exported = compress::ExportGguf(pattern, path); !exported.ok()) {
        std::fprintf(stderr, "ghostbench decode %s: no GGUF: %s\n", format.c_str(),
                     exported.ToString().c_str());
      }
    }
    absl::StatusOr<std::shared_ptr<const Model>> model =
        !written.ok()  ? absl::StatusOr<std::shared_ptr<const Model>>(written)
        : gguf.empty() ? Model::Load(pattern)
                       : Model::Load(gguf);
    if (gguf.empty()) std::filesystem::remove_all(pattern);  // the mapping stays valid
    if (!model.ok()) {
      std::fprintf(stderr, "ghostbench decode %s: %s\n", format.c_str(),
                   model.status().ToString().c_str());
      return 1;
    }
    const ModelSummary& summary = (*model)->summary();
    const ModelConfig& config = (*model)->config();
    // Every weight is read once per token except the embedding table, of which one row is
    // (bf16 or f16 in every format here); and the token at position p reads the keys and
    // values of positions 0..p in every layer (kv_dtype elements), p + 1 = prompt_tokens + 1 +
    // t for the t-th new token, prompt_tokens + (new_tokens + 1) / 2 on average.
    const double embedding = 2.0 * (config.vocab_size - 1) * config.hidden_size;
    const double kv_bytes_per_position =
        static_cast<double>(KvCacheShapeOf(config).BlockBytes(kv_dtype)) /
        PagedKvCache::kBlockTokens;
    const double mean_positions = prompt_tokens + (new_tokens + 1) / 2.0;
    DecodeResult result;
    result.format = format;
    result.bytes_per_token = static_cast<double>(summary.weight_bytes) - embedding +
                             kv_bytes_per_position * mean_positions;
    const Speeds speeds =
        MeasureTokensPerSecond(**model, kv_dtype, prompt_tokens, new_tokens, repeats);
    result.tokens_per_s = speeds.decode;
    result.prefill_tokens_per_s = speeds.prefill;
    result.gb_per_s = result.bytes_per_token * result.tokens_per_s / 1e9;
    results.push_back(result);
  }

  if (const BandwidthResult after = measure_bandwidth(); after.gb_per_s > bandwidth.gb_per_s) {
    bandwidth = after;
  }
  const int threads = static_cast<int>(kernels::ThreadPool::Default().num_threads());
  if (json) {
    nlohmann::json out = {{"shape", "tinyllama-1.1b"},
                          {"threads", threads},
                          {"bandwidth_gb_per_s", bandwidth.gb_per_s},
                          {"new_tokens", new_tokens},
                          {"prompt_tokens", prompt_tokens},
                          {"kv_dtype", KvDtypeName(kv_dtype)}};
    for (const DecodeResult& r : results) {
      out["results"].push_back({{"format", r.format},
                                {"tokens_per_s", r.tokens_per_s},
                                {"prefill_tokens_per_s", r.prefill_tokens_per_s},
                                {"bytes_per_token", r.bytes_per_token},
                                {"gb_per_s", r.gb_per_s},
                                {"ratio_to_bandwidth", r.gb_per_s / bandwidth.gb_per_s}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf(
      "random TinyLlama-1.1B shape, %d threads, read bandwidth %.1f GB/s, %d tokens after %d, "
      "%s KV cache\n",
      threads, bandwidth.gb_per_s, new_tokens, prompt_tokens, KvDtypeName(kv_dtype));
  std::printf("%-16s %10s %14s %8s %12s %12s\n", "format", "tokens/s", "MB per token", "GB/s",
              "x bandwidth", "prefill t/s");
  for (const DecodeResult& r : results) {
    std::printf("%-16s %10.2f %14.1f %8.2f %12.3f %12.1f\n", r.format.c_str(), r.tokens_per_s,
                r.bytes_per_token / 1e6, r.gb_per_s, r.gb_per_s / bandwidth.gb_per_s,
                r.prefill_tokens_per_s);
  }
  return 0;
}

}  // namespace ghost::bench
