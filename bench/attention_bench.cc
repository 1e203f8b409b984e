// ghostbench attention: paged attention over a KV cache of TinyLlama's attention shape (32
// query heads, 4 kv heads, head_dim 64), measured against the machine's read bandwidth in the
// same run. Decode steps (one new position per sequence, 1..B sequences batched in one call)
// report the cache bytes they read per second and its ratio to the bandwidth; a chunked
// prefill step (a chunk of new positions at the end of a long context) reports its
// multiply-add rate, since it computes far more than it reads. The cache's blocks are placed
// at shuffled offsets of one large buffer and rotated over enough copies that every call reads
// them from memory. `--isa a,b` measures each case with every variant named, one after the
// other, so that variants are compared under the same load.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/best_round.h"
#include "bench/curve.h"
#include "bench/huge_buffer.h"
#include "bench/memory_bandwidth.h"
#include "bench/subcommands.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/kv_dtype.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

using kernels::AttentionIsa;

constexpr kernels::AttentionDims kTinyLlama{32, 4, 64, 0};
constexpr std::size_t kBlockTokens = 16;
constexpr std::size_t kPrefillChunk = 128;

struct Options {
  bool json = false;
  bool quick = false;
  double seconds = 1.0;
  std::vector<AttentionIsa> isas = {kernels::DetectedAttentionIsa()};
  kernels::KvDtype dtype = kernels::KvDtype::kBf16;
  std::vector<int> contexts = {512, 2048, 8192};
  std::vector<int> batches = {1, 4, 16};
};

bool ParseOptions(int argc, char** argv, Options& options) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--quick") {
      options.quick = true;
      options.contexts = {100, 600};
      options.batches = {1, 3};
    } else if (arg == "--seconds" && has_value) {
      char* end = nullptr;
      options.seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(options.seconds > 0)) return false;
    } else if (arg == "--isa" && has_value) {
      options.isas.clear();
      for (auto name : absl::StrSplit(argv[++i], ',')) {
        bool found = false;
        for (AttentionIsa isa : {AttentionIsa::kScalar, AttentionIsa::kAvx2, AttentionIsa::kAvx512,
                                 AttentionIsa::kAvx512Transposed}) {
          if (name == kernels::AttentionIsaName(isa)) options.isas.push_back(isa), found = true;
        }
        if (!found) return false;
      }
    } else if (arg == "--kv_dtype" && has_value) {
      const std::string name = argv[++i];
      if (name == "bf16") {
        options.dtype = kernels::KvDtype::kBf16;
      } else if (name == "f32") {
        options.dtype = kernels::KvDtype::kF32;
      } else {
        return false;
      }
    } else if (arg == "--contexts" && has_value) {
      if (!ParseCurve(argv[++i], options.contexts)) return false;
    } else if (arg == "--batch" && has_value) {
      if (!ParseCurve(argv[++i], options.batches)) return false;
    } else {
      return false;
    }
  }
  return true;
}

struct CaseResult {
  std::string isa;
  std::string kind;  // "decode" or "prefill"
  std::size_t context = 0;
  std::size_t sequences = 0;
  std::size_t new_positions = 0;  // per sequence
  std::size_t copies = 0;
  double seconds_per_call = 0;
  double kv_bytes = 0;  // cache bytes one call reads
  double kv_gb_per_s = 0;
  double ratio_to_bandwidth = 0;
  double gmacs_per_s = 0;
};

// One call's worth of sequences: their block tables point into the arena at shuffled block
// offsets; copies of the call use disjoint blocks.
struct Call {
  std::vector<std::vector<const void*>> keys, values;  // per sequence
  std::vector<kernels::AttentionSequence> sequences;
};

CaseResult RunCase(const Options& options, AttentionIsa isa, HugeBuffer& arena, const char* kind,
                   std::size_t context, std::size_t batch, std::size_t new_positions) {
  const kernels::AttentionDims dims = kTinyLlama;
  const std::size_t row_bytes =
      dims.num_kv_heads * dims.head_dim * kernels::KvDtypeBytes(options.dtype);
  const std::size_t block_bytes = kBlockTokens * row_bytes;
  const std::size_t blocks_per_sequence = (context + kBlockTokens - 1) / kBlockTokens;
  const std::size_t call_blocks = 2 * batch * blocks_per_sequence;
  const std::size_t arena_blocks = arena.size() / block_bytes;
  const std::size_t copies =
      std::min(options.quick ? 2 : CopiesToDefeatCache(call_blocks * block_bytes),
               arena_blocks / call_blocks);
  std::vector<std::size_t> order(copies * call_blocks);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  auto* base = static_cast<std::byte*>(arena.data());

  const std::size_t q_floats = new_positions * dims.num_heads * dims.head_dim;
  std::vector<float> q(batch * q_floats, 0.25f), out(batch * q_floats);
  std::vector<Call> calls(copies);
  std::size_t next_block = 0;
  for (Call& call : calls) {
    call.keys.resize(batch);
    call.values.resize(batch);
    for (std::size_t s = 0; s < batch; ++s) {
      for (std::size_t b = 0; b < blocks_per_sequence; ++b) {
        call.keys[s].push_back(base + order[next_block++] * block_bytes);
        call.values[s].push_back(base + order[next_block++] * block_bytes);
      }
      call.sequences.push_back(
          {q.data() + s * q_floats,
           new_positions,
           context - new_positions,
           {call.keys[s].data(), call.values[s].data(), kBlockTokens, options.dtype},
           out.data() + s * q_floats});
    }
  }
  const BestRound timing = TimeBestRound(options.seconds, copies, [&](std::size_t copy) {
    kernels::PagedAttentionBatchIsa(isa, dims, calls[copy].sequences.data(), batch);
  });
  CaseResult result;
  result.isa = kernels::AttentionIsaName(isa);
  result.kind = kind;
  result.context = context;
  result.sequences = batch;
  result.new_positions = new_positions;
  result.copies = copies;
  result.seconds_per_call = timing.seconds_per_call;
  result.kv_bytes = static_cast<double>(batch * 2 * context * row_bytes);
  result.kv_gb_per_s = result.kv_bytes / timing.seconds_per_call / 1e9;
  // Scores and weighted sums of every new position's heads over the keys it sees.
  double macs = 0;
  for (std::size_t t = 0; t < new_positions; ++t) {
    macs += 2.0 * dims.num_heads * dims.head_dim * static_cast<double>(context - t);
  }
  result.gmacs_per_s = macs * static_cast<double>(batch) / timing.seconds_per_call / 1e9;
  return result;
}

}  // namespace

int RunAttention(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: ghostbench attention [--json] [--seconds S] [--quick] "
                 "[--isa scalar|avx2|avx512|avx512-transposed[,...]] [--kv_dtype bf16|f32] "
                 "[--contexts 512,2048,8192] "
                 "[--batch 1,4,16]\n");
    return 2;
  }
  for (AttentionIsa isa : options.isas) {
    if (!kernels::AttentionIsaSupported(isa)) {
      std::fprintf(stderr, "this CPU does not support %s\n", kernels::AttentionIsaName(isa));
      return 2;
    }
  }
  std::vector<std::string> isa_names;
  for (AttentionIsa isa : options.isas) isa_names.push_back(kernels::AttentionIsaName(isa));
  const std::string isa_list = absl::StrJoin(isa_names, ",");
  const std::size_t arena_bytes = options.quick ? std::size_t{64} << 20 : std::size_t{1} << 30;
  HugeBuffer arena(arena_bytes);
  const BandwidthResult bandwidth =
      MeasureReadBandwidth(arena.data(), arena_bytes, options.quick ? options.seconds : 2.0);
  // The cache's contents: small values of either dtype (the bandwidth pass left 1.0f).
  if (options.dtype == kernels::KvDtype::kBf16) {
    auto* halves = static_cast<std::uint16_t*>(arena.data());
    for (std::size_t i = 0; i < arena_bytes / 2; ++i)
      halves[i] = static_cast<std::uint16_t>(0x3c00 + (i & 511));
  }

  if (!options.json) {
    std::printf("read bandwidth: %.1f GB/s (%d threads)\n", bandwidth.gb_per_s, bandwidth.threads);
    std::printf("isa: %s, kv cache %s, heads 32/4, head_dim 64 (one layer per call)\n\n",
                isa_list.c_str(), kernels::KvDtypeName(options.dtype));
    std::printf("%-17s %-8s %8s %5s %5s %10s %9s %7s %8s\n", "isa", "step", "context", "seqs",
                "new", "ms/call", "KV GB/s", "ratio", "GMAC/s");
  }
  // Rows are printed as they are measured: a full run takes minutes on a loaded machine.
  std::vector<CaseResult> results;
  const auto measure = [&](const char* kind, std::size_t context, std::size_t batch,
                           std::size_t new_positions) {
    for (AttentionIsa isa : options.isas) {
      CaseResult r = RunCase(options, isa, arena, kind, context, batch, new_positions);
      r.ratio_to_bandwidth = r.kv_gb_per_s / bandwidth.gb_per_s;
      if (!options.json) {
        std::printf("%-17s %-8s %8zu %5zu %5zu %10.3f %9.1f %7.2f %8.1f\n", r.isa.c_str(),
                    r.kind.c_str(), r.context, r.sequences, r.new_positions,
                    r.seconds_per_call * 1e3, r.kv_gb_per_s, r.ratio_to_bandwidth, r.gmacs_per_s);
        std::fflush(stdout);
      }
      results.push_back(r);
    }
  };
  for (int context : options.contexts) {
    for (int batch : options.batches) measure("decode", context, batch, 1);
    measure("prefill", context, 1, std::min<std::size_t>(kPrefillChunk, context));
  }

  if (options.json) {
    nlohmann::json out;
    out["isa"] = isa_list;
    out["kv_dtype"] = kernels::KvDtypeName(options.dtype);
    out["quick"] = options.quick;
    out["bandwidth"] = {{"gb_per_s", bandwidth.gb_per_s}, {"threads", bandwidth.threads}};
    out["results"] = nlohmann::json::array();
    for (const CaseResult& r : results) {
      out["results"].push_back({{"isa", r.isa},
                                {"kind", r.kind},
                                {"context", r.context},
                                {"sequences", r.sequences},
                                {"new_positions", r.new_positions},
                                {"copies", r.copies},
                                {"seconds_per_call", r.seconds_per_call},
                                {"kv_bytes", r.kv_bytes},
                                {"kv_gb_per_s", r.kv_gb_per_s},
                                {"ratio_to_bandwidth", r.ratio_to_bandwidth},
                                {"gmacs_per_s", r.gmacs_per_s}});
    }
    std::printf("%s\n", out.dump(2).c_str());
  }
  return 0;
}

}  // namespace ghost::bench
