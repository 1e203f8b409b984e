// ghostbench: benchmarks that report ratios measured in the same run. This file only
// dispatches; each subcommand lives in its own file.
#include <cstdio>
#include <cstring>

#include "bench/subcommands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* usage;
};

constexpr Subcommand kSubcommands[] = {
    {"attention", ghost::bench::RunAttention,
     "[--json] [--seconds S] [--quick] [--isa scalar|avx2|avx512] [--kv_dtype bf16|f32]\n"
     "      [--contexts 512,2048,8192] [--batch 1,4,16]\n"
     "      paged attention at TinyLlama's shape: decode KV GB/s and its ratio to the measured\n"
     "      read bandwidth, batched decode, and a 128-position prefill chunk (GMAC/s)"},
    {"batch", ghost::bench::RunBatch,
     "[--json] [--model DIR] [--shape tinyllama [--format F]] [--curve 1,2,4,...]\n"
     "      [--new_tokens N] [--prompt_tokens N] [--repeats N]\n"
     "      Executor decode tokens/s for 1..32 concurrent greedy streams, ratio to 1 stream"},
    {"compress", ghost::bench::RunCompress,
     "[--json] [--quick] [--model PATH]\n"
     "      cosine, MSE, bits/weight and throughput of every quantization scheme and block size"},
    {"decode", ghost::bench::RunDecode,
     "[--json] [--formats bf16,ternary,...] [--new_tokens 64] [--context 16]\n"
     "      [--repeats 2] [--block_size 64] [--gguf FILE] [--save_gguf DIR]\n"
     "      one-stream decode on a random TinyLlama-shape model per weight format: tokens/s,\n"
     "      bytes read per token, GB/s and its ratio to the measured read bandwidth; or any\n"
     "      GGUF file (--gguf)"},
    {"eval", ghost::bench::RunEval,
     "--text FILE [--model NAME] [--model_root DIR] [--window N]\n"
     "      bits per byte of a local model (default ghost-small under ./models) on a text file\n"
     "      (no server needed; 'ghostctl eval' asks a server), as JSON"},
    {"gpu", ghost::bench::RunGpu,
     "[--json] [--quick]\n"
     "      CUDA device 0: D2D and pinned H2D bandwidth, matvec GB/s over D2D per format at\n"
     "      4096x14336 and 14336x4096 (batch 1/8/32), resident Llama-3-8B-shape decode tokens/s"},
    {"kernels", ghost::bench::RunKernels,
     "[--json] [--seconds S] [--quick] [--isa scalar|avx2|avx512]\n"
     "      memory read bandwidth, then MatMulF32/Bf16/Quant weight GB/s against it"},
    {"sparse", ghost::bench::RunSparse,
     "[--json] [--seconds S] [--quick] [--hidden N] [--inner N] [--isa scalar|avx2|avx512]\n"
     "      dense vs row-packed sparse MLP at 0/30/50/70% sparsity: speedup, fraction of ideal"},
    {"stream", ghost::bench::RunStream,
     "[--json] [--formats bf16,ternary] [--budgets 100,50,25] [--batches 1,16,64]\n"
     "      [--new_tokens 8] [--slots 2] [--burst_requests 16] [--arrival_spread_ms 10]\n"
     "      [--dir /tmp] [--memory_only]\n"
     "      layer streaming on random TinyLlama-shape models: the layer file's cold read GB/s,\n"
     "      decode tokens/s per weight budget and batch, stream GB/s, its ratio, overlap; peak\n"
     "      RSS of each load; checksum GB/s; a request burst with and without the gather window\n"
     "      (--memory_only: each budget's load and the peak RSS of a load in a fresh process)"},
    {"quality", ghost::bench::RunQuality,
     "[--json] [--quick] [--model DIR] [--text FILE] [--dead_tolerance F]\n"
     "      whole-model compression: bits/byte before and after per scheme, dead neurons, gates,\n"
     "      on the second half of the model's validation-sample.txt or on any text file (--text)"},
    {"serve", ghost::bench::RunServe,
     "[--address HOST:PORT] [--curve 1,2,4,8,16,32] [--max_new_tokens N] [--json] ...\n"
     "      concurrent streaming Generate calls: tokens/s, TTFT, inter-token latency, errors"},
};

void PrintUsage() {
  std::fprintf(stderr, "usage: ghostbench SUBCOMMAND [options]\n");
  for (const Subcommand& sub : kSubcommands) {
    std::fprintf(stderr, "  ghostbench %s %s\n", sub.name, sub.usage);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2) {
    for (const Subcommand& sub : kSubcommands) {
      if (std::strcmp(argv[1], sub.name) == 0) return sub.run(argc - 2, argv + 2);
    }
  }
  PrintUsage();
  return 2;
}
