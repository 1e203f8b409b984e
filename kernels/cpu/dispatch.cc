// The one place that chooses a CPU variant and splits a call across the thread pool.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::kernels {
namespace {

using internal::MatMulBf16RowsFn;
using internal::MatMulF16RowsFn;
using internal::MatMulF32RowsFn;

struct Variant {
  MatMulF32RowsFn f32;
  MatMulBf16RowsFn bf16;
  MatMulF16RowsFn f16;
};

// Indexed by CpuIsa.
constexpr Variant kVariants[] = {
    {internal::MatMulF32Scalar, internal::MatMulBf16Scalar, internal::MatMulF16Scalar},
    {internal::MatMulF32Avx2, internal::MatMulBf16Avx2, internal::MatMulF16Avx2},
    {internal::MatMulF32Avx512, internal::MatMulBf16Avx512, internal::MatMulF16Avx512},
};
static_assert(std::size(kVariants) == static_cast<std::size_t>(CpuIsa::kAvx512) + 1);

// Waking the workers costs some microseconds; below this many multiply-adds one core is
// faster on its own.
constexpr std::size_t kMinParallelMacs = std::size_t{1} << 18;
// Rows per task are a multiple of this, so that tasks share no output cache line and the
// micro-kernels' 4-row tiles are whole.
constexpr std::size_t kRowGrain = 16;
// Several tasks per thread let a core slowed by other load take fewer of them.
constexpr std::size_t kTasksPerThread = 4;

template <typename Weight, typename RowsFn, typename Input>
struct Job {
  RowsFn fn;
  const Input* x;
  std::size_t n;
  const Weight* w;
  std::size_t rows;
  std::size_t cols;
  float* y;
  std::size_t rows_per_task;
};

template <typename Weight, typename RowsFn, typename Input>
void RunJobTask(void* context, std::size_t task) {
  const auto& job = *static_cast<const Job<Weight, RowsFn, Input>*>(context);
  const std::size_t r0 = task * job.rows_per_task;
  const std::size_t nr = std::min(job.rows_per_task, job.rows - r0);
  job.fn(job.x, job.n, job.w + r0 * job.cols, nr, job.cols, job.y + r0, job.rows);
}

// x is the activations as fn reads them: fp32 [n, cols], or the AMX kernels' packing.
template <typename Weight, typename RowsFn, typename Input>
void RunSplit(RowsFn fn, const Input* x, std::size_t n, const Weight* w, std::size_t rows,
              std::size_t cols, float* y) {
  ThreadPool& pool = ThreadPool::Default();
  const std::size_t threads = pool.num_threads();
  if (threads == 1 || n * rows * cols < kMinParallelMacs || rows < 2 * kRowGrain) {
    fn(x, n, w, rows, cols, y, rows);
    return;
  }
  const std::size_t tasks = std::min(threads * kTasksPerThread, rows / kRowGrain);
  const std::size_t rows_per_task =
      ((rows + tasks - 1) / tasks + kRowGrain - 1) / kRowGrain * kRowGrain;
  Job<Weight, RowsFn, Input> job{fn, x, n, w, rows, cols, y, rows_per_task};
  pool.Run((rows + rows_per_task - 1) / rows_per_task, RunJobTask<Weight, RowsFn, Input>, &job);
}

// From this many tokens a bf16 product whose cols are whole 32-column tiles goes through the
// AMX tiles where they are enabled. Below it the FMA kernels read the weights faster (the
// tiles' 16-row strided loads reached 0.57-0.76 of the bandwidth pass where the FMA kernels
// reached 0.8-0.9 at n = 4); from 8 they are compute-bound. `ghostbench kernels --only bf16`,
// one thread, ms, FMA / AMX: 2048x5632 n = 4 1.69-1.77 / 1.85-2.05, n = 8 2.56-2.58 /
// 1.94-2.12; 4096x14336 n = 8 14.0-14.3 / 12.4-12.9.
constexpr std::size_t kAmxMinTokens = 8;
constexpr std::size_t kAmxTileCols = 32;

// Rounds x to bf16 once into the calling thread's scratch, in the AMX tiles' layout.
const std::uint16_t* PackBf16ForAmx(const float* x, std::size_t n, std::size_t cols) {
  thread_local std::vector<std::uint16_t> storage;
  const std::size_t values = internal::AmxBf16ActivationValues(n, cols);
  if (storage.size() < values + 32) storage.resize(values + 32);
  const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
  auto* packed = reinterpret_cast<std::uint16_t*>((address + 63) & ~std::uintptr_t{63});
  internal::PackBf16ActivationsAmx(x, n, cols, packed);
  return packed;
}

bool CpuHas(CpuIsa isa) {
  // Needed when this runs from another static initializer, before libgcc's own.
  __builtin_cpu_init();
  switch (isa) {
    case CpuIsa::kScalar:
      return true;
    case CpuIsa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case CpuIsa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  }
  return false;
}

}  // namespace

bool IsaSupported(CpuIsa isa) {
  static const bool supported[] = {CpuHas(CpuIsa::kScalar), CpuHas(CpuIsa::kAvx2),
                                   CpuHas(CpuIsa::kAvx512)};
  const auto index = static_cast<std::size_t>(isa);
  return index < std::size(supported) && supported[index];
}

CpuIsa DetectedIsa() {
  static const CpuIsa isa = IsaSupported(CpuIsa::kAvx512) ? CpuIsa::kAvx512
                            : IsaSupported(CpuIsa::kAvx2) ? CpuIsa::kAvx2
                                                          : CpuIsa::kScalar;
  return isa;
}

const char* IsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar:
      return "scalar";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

void MatMulF32Isa(CpuIsa isa, const float* x, std::size_t n, const float* w, std::size_t rows,
                  std::size_t cols, float* y) {
  RunSplit(kVariants[static_cast<int>(isa)].f32, x, n, w, rows, cols, y);
}

void MatMulBf16Isa(CpuIsa isa, const float* x, std::size_t n, const std::uint16_t* w,
                   std::size_t rows, std::size_t cols, float* y) {
  if (isa == CpuIsa::kAvx512 && n >= kAmxMinTokens && cols % kAmxTileCols == 0 && AmxEnabled()) {
    RunSplit(internal::MatMulBf16Amx, PackBf16ForAmx(x, n, cols), n, w, rows, cols, y);
    return;
  }
  RunSplit(kVariants[static_cast<int>(isa)].bf16, x, n, w, rows, cols, y);
}

void MatMulF16Isa(CpuIsa isa, const float* x, std::size_t n, const std::uint16_t* w,
                  std::size_t rows, std::size_t cols, float* y) {
  RunSplit(kVariants[static_cast<int>(isa)].f16, x, n, w, rows, cols, y);
}

void MatMulF32(const float* x, std::size_t n, const float* w, std::size_t rows, std::size_t cols,
               float* y) {
  MatMulF32Isa(DetectedIsa(), x, n, w, rows, cols, y);
}

void MatMulBf16(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                std::size_t cols, float* y) {
  MatMulBf16Isa(DetectedIsa(), x, n, w, rows, cols, y);
}

void MatMulF16(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
               std::size_t cols, float* y) {
  MatMulF16Isa(DetectedIsa(), x, n, w, rows, cols, y);
}

}  // namespace ghost::kernels
