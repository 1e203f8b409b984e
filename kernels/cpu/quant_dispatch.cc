// The one place that chooses a low-bit int8-activation variant and packs the activations,
// and the row split over the thread pool that MatMulQuant and MatMulQuantF32 share.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <vector>

#include "kernels/cpu/quant_internal.h"
#include "kernels/cpu/quant_matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::kernels {
namespace internal {
namespace {

// Indexed by CpuIsa; the AVX-512 entry is replaced by the VNNI one (with VBMI or not) where
// the CPU has it.
constexpr QuantRowsFn kRowsFns[] = {MatMulQuantScalar, MatMulQuantAvx2, MatMulQuantAvx512};
static_assert(std::size(kRowsFns) == static_cast<std::size_t>(CpuIsa::kAvx512) + 1);

// Same trade-offs as dispatch.cc: one core below this many weight bytes per call, row
// ranges in multiples of 16, a few tasks per thread. Two rather than dispatch.cc's four: a
// decode step's low-bit matrices are small (0.5-3 MiB per call over 2 cores), and each task
// starts a new memory stream; a 22-layer TinyLlama-shape ternary sequence ran 3-8% faster
// with two tasks per thread than with four, alternated in one process on the 2-core VM.
constexpr std::size_t kMinParallelBytes = std::size_t{1} << 16;
constexpr std::size_t kRowGrain = 16;
constexpr std::size_t kTasksPerThread = 2;
// From this many tokens a call goes through the AMX tiles where they are enabled (a tile
// holds 16 tokens; fewer pad it with zeros). Thread CPU time on one Sapphire Rapids core,
// 2048x5632 ternary-2bit, VNNI rows / AMX: n = 8 0.54 / 0.55 ms, 10 0.68 / 0.57, 12 0.78 /
// 0.60, 16 0.88 / 0.56.
constexpr std::size_t kAmxMinTokens = 10;

struct Job {
  QuantRangeFn fn;
  const void* context;
  const QuantWeights* w[kMaxShared];
  float* y[kMaxShared];
  std::size_t first_task[kMaxShared + 1];  // Matrix i has tasks [first_task[i], first_task[i+1]).
  std::size_t rows_per_task;
};

void RunJobTask(void* context, std::size_t task) {
  const Job& job = *static_cast<const Job*>(context);
  std::size_t i = 0;
  while (task >= job.first_task[i + 1]) ++i;
  const QuantWeights& w = *job.w[i];
  const std::size_t r0 = (task - job.first_task[i]) * job.rows_per_task;
  const std::size_t count = std::min(job.rows_per_task, w.rows() - r0);
  job.fn(job.context, w, r0, count, job.y[i] + r0);
}

bool SameLayout(const QuantWeights& a, const QuantWeights& b) {
  return a.format() == b.format() && a.cols() == b.cols() && a.block_size() == b.block_size();
}

// The int8-activation row kernel and the activations it reads.
struct Int8Rows {
  QuantRowsFn fn;
  PackedActivations x;
};

void RunInt8Rows(const void* context, const QuantWeights& w, std::size_t first, std::size_t count,
                 float* y) {
  const Int8Rows& rows = *static_cast<const Int8Rows*>(context);
  rows.fn(w, rows.x, nullptr, first, count, y, w.rows());
}

void RunAmxRows(const void* context, const QuantWeights& w, std::size_t first, std::size_t count,
                float* y) {
  MatMulQuantAmx(w, *static_cast<const AmxActivations*>(context), first, count, y, w.rows());
}

// Packs x once for all `count` matrices (same layout) and splits their rows over the pool:
// through the AMX tiles where they are enabled and the call has enough tokens, else through
// isa's row kernel.
void RunShared(CpuIsa isa, const float* x, std::size_t n, const QuantWeights* const* w,
               float* const* y, std::size_t count) {
  const PackedActivations packed = PackActivations(x, n, *w[0], ThreadActivationScratch());
  if (isa == CpuIsa::kAvx512 && n >= kAmxMinTokens && AmxEnabled() && QuantAmxHandles(*w[0])) {
    thread_local std::vector<std::uint8_t> storage;
    const std::size_t bytes = AmxActivationBytes(*w[0], n);
    if (storage.size() < bytes + 64) storage.resize(bytes + 64);
    const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
    auto* values = reinterpret_cast<std::int8_t*>((address + 63) & ~std::uintptr_t{63});
    const AmxActivations amx = PackActivationsAmx(*w[0], packed, values);
    SplitQuantRows(RunAmxRows, &amx, w, y, count);
    return;
  }
  const Int8Rows rows{QuantRowsFor(isa), packed};
  SplitQuantRows(RunInt8Rows, &rows, w, y, count);
}

bool HasAvx512Vnni() {
  __builtin_cpu_init();
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  return vnni;
}

bool HasAvx512Vbmi() {
  __builtin_cpu_init();
  static const bool vbmi = __builtin_cpu_supports("avx512vbmi");
  return vbmi;
}

}  // namespace

void SplitQuantRows(QuantRangeFn fn, const void* context, const QuantWeights* const* w,
                    float* const* y, std::size_t count) {
  Job job{};
  job.fn = fn;
  job.context = context;
  std::size_t rows = 0, bytes = 0;
  for (std::size_t i = 0; i < count; ++i) {
    job.w[i] = w[i];
    job.y[i] = y[i];
    rows += w[i]->rows();
    bytes += w[i]->bytes();
  }
  ThreadPool& pool = ThreadPool::Default();
  const std::size_t threads = pool.num_threads();
  if (threads == 1 || bytes < kMinParallelBytes || rows < 2 * kRowGrain) {
    for (std::size_t i = 0; i < count; ++i) fn(context, *w[i], 0, w[i]->rows(), y[i]);
    return;
  }
  const std::size_t tasks = std::min(threads * kTasksPerThread, rows / kRowGrain);
  job.rows_per_task = ((rows + tasks - 1) / tasks + kRowGrain - 1) / kRowGrain * kRowGrain;
  for (std::size_t i = 0; i < count; ++i) {
    job.first_task[i + 1] =
        job.first_task[i] + (w[i]->rows() + job.rows_per_task - 1) / job.rows_per_task;
  }
  pool.Run(job.first_task[count], RunJobTask, &job);
}

bool QuantAmxHandles(const QuantWeights& w) {
  const QuantLayout& l = w.layout();
  return (w.format() == WeightFormat::kTernary2Bit || w.format() == WeightFormat::kCodebook2Bit) &&
         l.tail_bytes == 0 && l.digits == 4;
}

QuantRowsFn QuantRowsFor(CpuIsa isa) {
  if (isa == CpuIsa::kAvx512 && HasAvx512Vnni()) {
    return HasAvx512Vbmi() ? MatMulQuantAvx512Vbmi : MatMulQuantAvx512Vnni;
  }
  return kRowsFns[static_cast<int>(isa)];
}

QuantAxpyFn QuantAxpyFor(CpuIsa isa) {
  constexpr QuantAxpyFn kAxpyFns[] = {QuantAxpyScalar, QuantAxpyAvx2, QuantAxpyAvx512};
  static_assert(std::size(kAxpyFns) == std::size(kRowsFns));
  if (isa == CpuIsa::kAvx512 && HasAvx512Vnni()) return QuantAxpyAvx512Vnni;
  return kAxpyFns[static_cast<int>(isa)];
}

AxpyBuffers ThreadAxpyBuffers(std::size_t factor_bytes, std::size_t blocks,
                              std::size_t acc_values) {
  thread_local std::vector<std::int8_t> factors;
  thread_local std::vector<float> block_scale, block_offset;
  thread_local std::vector<std::int32_t> acc;
  if (factors.size() < factor_bytes) factors.resize(factor_bytes);
  if (block_scale.size() < blocks) block_scale.resize(blocks);
  if (block_offset.size() < blocks) block_offset.resize(blocks);
  if (acc.size() < acc_values) acc.resize(acc_values);
  return {factors.data(), block_scale.data(), block_offset.data(), acc.data()};
}

ActivationScratch& ThreadActivationScratch() {
  thread_local ActivationScratch scratch;
  return scratch;
}

float PackTokenScalar(const float* x, const QuantWeights& w, std::int8_t* out, float* block_sums) {
  const QuantLayout& l = w.layout();
  std::memset(out, 0, l.activation_bytes);
  std::fill_n(block_sums, l.scale_stride, 0.0f);
  const std::uint32_t* positions = w.activation_positions();
  const std::size_t cols = w.cols();
  float max_abs = 0;
  for (std::size_t c = 0; c < cols; ++c) max_abs = std::max(max_abs, std::fabs(x[c]));
  const float inverse = max_abs > 0 ? 127.0f / max_abs : 0.0f;
  for (std::size_t c0 = 0, block = 0; c0 < cols; c0 += w.block_size(), ++block) {
    const std::size_t c1 = std::min(cols, c0 + w.block_size());
    int sum = 0;
    for (std::size_t c = c0; c < c1; ++c) {
      // Round half away from zero, branch-free (signs are random); |x[c] * inverse| <= 127
      // by the choice of inverse. std::lrint is a library call here and was 2x slower.
      const float scaled = x[c] * inverse;
      const int q = static_cast<int>(scaled + std::copysign(0.5f, scaled));
      out[positions[c]] = static_cast<std::int8_t>(q);
      sum += q;
    }
    block_sums[block] = static_cast<float>(sum);
  }
  return max_abs / 127.0f;
}

PackedActivations PackActivations(const float* x, std::size_t n, const QuantWeights& w,
                                  ActivationScratch& scratch) {
  static const bool avx512 = DetectedIsa() == CpuIsa::kAvx512;
  const PackTokenFn pack =
      avx512 && w.format() != WeightFormat::kTernaryBase3 ? PackTokenAvx512 : PackTokenScalar;
  const QuantLayout& l = w.layout();
  const std::size_t bytes = n * l.activation_bytes;
  if (scratch.bytes.size() < bytes + 64) scratch.bytes.resize(bytes + 64);
  if (scratch.block_sums.size() < n * l.scale_stride) scratch.block_sums.resize(n * l.scale_stride);
  if (scratch.scales.size() < n) scratch.scales.resize(n);
  const auto address = reinterpret_cast<std::uintptr_t>(scratch.bytes.data());
  auto* values = reinterpret_cast<std::int8_t*>((address + 63) & ~std::uintptr_t{63});
  for (std::size_t t = 0; t < n; ++t) {
    scratch.scales[t] = pack(x + t * w.cols(), w, values + t * l.activation_bytes,
                             scratch.block_sums.data() + t * l.scale_stride);
  }
  PackedActivations packed;
  packed.n = n;
  packed.values = values;
  packed.block_sums = scratch.block_sums.data();
  packed.block_sums_stride = l.scale_stride;
  packed.scales = scratch.scales.data();
  return packed;
}

}  // namespace internal

void MatMulQuantIsa(CpuIsa isa, const float* x, std::size_t n, const QuantWeights& w, float* y) {
  const QuantWeights* const ws[] = {&w};
  float* const ys[] = {y};
  internal::RunShared(isa, x, n, ws, ys, 1);
}

void MatMulQuantShared(const float* x, std::size_t n, const QuantWeights* const* w, float* const* y,
                       std::size_t count) {
  if (count == 0) return;
  std::size_t same = 1;
  while (same < count && same < internal::kMaxShared && internal::SameLayout(*w[0], *w[same])) {
    ++same;
  }
  internal::RunShared(DetectedIsa(), x, n, w, y, same);
  if (same < count) MatMulQuantShared(x, n, w + same, y + same, count - same);
}

void MatMulQuant(const float* x, std::size_t n, const QuantWeights& w, float* y) {
  MatMulQuantIsa(DetectedIsa(), x, n, w, y);
}

}  // namespace ghost::kernels
