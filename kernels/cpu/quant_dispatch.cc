// The one place that chooses a low-bit variant, packs the activations and splits the rows
// of a MatMulQuant call across the thread pool.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>

#include "kernels/cpu/quant_internal.h"
#include "kernels/cpu/quant_matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::kernels {
namespace internal {
namespace {

// Indexed by CpuIsa; the AVX-512 entry is replaced by the VNNI one where the CPU has it.
constexpr QuantRowsFn kRowsFns[] = {MatMulQuantScalar, MatMulQuantAvx2, MatMulQuantAvx512};
static_assert(std::size(kRowsFns) == static_cast<std::size_t>(CpuIsa::kAvx512) + 1);

// Same trade-offs as dispatch.cc: one core below this many weight bytes per call, row
// ranges in multiples of 16, a few tasks per thread.
constexpr std::size_t kMinParallelBytes = std::size_t{1} << 16;
constexpr std::size_t kRowGrain = 16;
constexpr std::size_t kTasksPerThread = 4;

struct Job {
  QuantRowsFn fn;
  const QuantWeights* w;
  PackedActivations x;
  float* y;
  std::size_t rows_per_task;
};

void RunJobTask(void* context, std::size_t task) {
  const Job& job = *static_cast<const Job*>(context);
  const std::size_t r0 = task * job.rows_per_task;
  const std::size_t count = std::min(job.rows_per_task, job.w->rows() - r0);
  job.fn(*job.w, job.x, nullptr, r0, count, job.y + r0, job.w->rows());
}

}  // namespace

QuantRowsFn QuantRowsFor(CpuIsa isa) {
  __builtin_cpu_init();
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  if (isa == CpuIsa::kAvx512 && vnni) return MatMulQuantAvx512Vnni;
  return kRowsFns[static_cast<int>(isa)];
}

QuantAxpyFn QuantAxpyFor(CpuIsa isa) {
  constexpr QuantAxpyFn kAxpyFns[] = {QuantAxpyScalar, QuantAxpyAvx2, QuantAxpyAvx512};
  static_assert(std::size(kAxpyFns) == std::size(kRowsFns));
  return kAxpyFns[static_cast<int>(isa)];
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
      avx512 && w.kind() != QuantKind::kTernaryBase3 ? PackTokenAvx512 : PackTokenScalar;
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
  using internal::Job;
  const internal::QuantRowsFn fn = internal::QuantRowsFor(isa);
  const internal::PackedActivations packed =
      internal::PackActivations(x, n, w, internal::ThreadActivationScratch());
  const std::size_t rows = w.rows();
  ThreadPool& pool = ThreadPool::Default();
  const std::size_t threads = pool.num_threads();
  if (threads == 1 || w.bytes() < internal::kMinParallelBytes || rows < 2 * internal::kRowGrain) {
    fn(w, packed, nullptr, 0, rows, y, rows);
    return;
  }
  const std::size_t tasks =
      std::min(threads * internal::kTasksPerThread, rows / internal::kRowGrain);
  const std::size_t rows_per_task = ((rows + tasks - 1) / tasks + internal::kRowGrain - 1) /
                                    internal::kRowGrain * internal::kRowGrain;
  Job job{fn, &w, packed, y, rows_per_task};
  pool.Run((rows + rows_per_task - 1) / rows_per_task, internal::RunJobTask, &job);
}

void MatMulQuant(const float* x, std::size_t n, const QuantWeights& w, float* y) {
  MatMulQuantIsa(DetectedIsa(), x, n, w, y);
}

}  // namespace ghost::kernels
