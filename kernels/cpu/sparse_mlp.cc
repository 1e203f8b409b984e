// Row-packed sparse MLP: gathers the active neurons, then splits them over the thread pool;
// each task computes its neurons' up-row dot products and adds their down_t rows, scaled,
// into its own partial output.
#include "kernels/cpu/sparse_mlp.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/quant_internal.h"
#include "kernels/cpu/row_axpy.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::kernels {
namespace {

struct Variant {
  internal::MatMulF32RowsFn dot_f32;
  internal::MatMulBf16RowsFn dot_bf16;
  internal::MatMulF16RowsFn dot_f16;
  internal::AxpyF32RowsFn axpy_f32;
  internal::AxpyBf16RowsFn axpy_bf16;
  internal::AxpyF16RowsFn axpy_f16;
};

// Indexed by CpuIsa.
constexpr Variant kVariants[] = {
    {internal::MatMulF32Scalar, internal::MatMulBf16Scalar, internal::MatMulF16Scalar,
     internal::AxpyF32RowsScalar, internal::AxpyBf16RowsScalar, internal::AxpyF16RowsScalar},
    {internal::MatMulF32Avx2, internal::MatMulBf16Avx2, internal::MatMulF16Avx2,
     internal::AxpyF32RowsAvx2, internal::AxpyBf16RowsAvx2, internal::AxpyF16RowsAvx2},
    {internal::MatMulF32Avx512, internal::MatMulBf16Avx512, internal::MatMulF16Avx512,
     internal::AxpyF32RowsAvx512, internal::AxpyBf16RowsAvx512, internal::AxpyF16RowsAvx512},
};
static_assert(std::size(kVariants) == static_cast<std::size_t>(CpuIsa::kAvx512) + 1);

// Fewer neurons than this per task are not worth waking a worker for.
constexpr std::size_t kMinNeuronsPerTask = 64;

struct Scratch {
  std::vector<std::uint32_t> active;
  std::vector<float> coefs;
  std::vector<float> partials;  // One output per task, partial_size floats each.
};

struct Job {
  const Variant* variant;
  internal::QuantRowsFn quant_dot;
  internal::QuantAxpyFn quant_axpy;
  const float* x;
  const float* h;
  std::size_t hidden;
  const MlpWeights* up;
  const MlpWeights* down_t;
  internal::PackedActivations packed_x;  // For a quantized up.
  const std::uint32_t* active;
  float* coefs;
  std::size_t count;
  std::size_t per_task;
  float* partials;
  std::size_t partial_size;
};

void RunTask(void* context, std::size_t task) {
  const Job& job = *static_cast<const Job*>(context);
  const std::size_t begin = task * job.per_task;
  const std::size_t count = std::min(job.per_task, job.count - begin);
  const std::uint32_t* active = job.active + begin;
  float* coefs = job.coefs + begin;
  const std::size_t hidden = job.hidden;
  if (job.up->quant != nullptr) {
    job.quant_dot(*job.up->quant, job.packed_x, active, 0, count, coefs, count);
  } else {
    // bf16 and fp16 rows share one kernel signature: pick the pointer and kernel once.
    const std::uint16_t* up_half = job.up->bf16 != nullptr ? job.up->bf16 : job.up->f16;
    const internal::MatMulBf16RowsFn dot_half =
        job.up->bf16 != nullptr ? job.variant->dot_bf16 : job.variant->dot_f16;
    const std::size_t row_bytes = hidden * (job.up->f32 != nullptr ? 4 : 2);
    const char* up_bytes = job.up->f32 != nullptr ? reinterpret_cast<const char*>(job.up->f32)
                                                  : reinterpret_cast<const char*>(up_half);
    for (std::size_t i = 0; i < count; ++i) {
      if (i + 1 < count) {  // Scattered rows: fetch the next one early.
        internal::PrefetchBytes(up_bytes + std::size_t{active[i + 1]} * row_bytes, row_bytes);
      }
      const std::size_t row = std::size_t{active[i]} * hidden;
      if (job.up->f32 != nullptr) {
        job.variant->dot_f32(job.x, 1, job.up->f32 + row, 1, hidden, coefs + i, 1);
      } else {
        dot_half(job.x, 1, up_half + row, 1, hidden, coefs + i, 1);
      }
    }
  }
  for (std::size_t i = 0; i < count; ++i) coefs[i] *= job.h[active[i]];

  float* partial = job.partials + task * job.partial_size;
  std::fill_n(partial, job.partial_size, 0.0f);
  if (job.down_t->quant != nullptr) {
    job.quant_axpy(*job.down_t->quant, active, coefs, count, partial);
  } else if (job.down_t->f32 != nullptr) {
    job.variant->axpy_f32(job.down_t->f32, active, coefs, count, hidden, partial);
  } else if (job.down_t->bf16 != nullptr) {
    job.variant->axpy_bf16(job.down_t->bf16, active, coefs, count, hidden, partial);
  } else {
    job.variant->axpy_f16(job.down_t->f16, active, coefs, count, hidden, partial);
  }
}

// out = the sum of the tasks' partial outputs, read through the activation layout of a
// quantized down_t.
void SumPartials(const Job& job, std::size_t tasks, float* out) {
  const std::uint32_t* positions =
      job.down_t->quant != nullptr ? job.down_t->quant->activation_positions() : nullptr;
  std::fill_n(out, job.hidden, 0.0f);
  for (std::size_t task = 0; task < tasks; ++task) {
    const float* partial = job.partials + task * job.partial_size;
    if (positions != nullptr) {
      for (std::size_t c = 0; c < job.hidden; ++c) {
        out[c] += partial[internal::AxpyPosition(positions[c])];
      }
    } else {
      for (std::size_t c = 0; c < job.hidden; ++c) out[c] += partial[c];
    }
  }
}

}  // namespace

std::size_t GatherActive(const float* h, std::size_t inner, std::uint32_t* active) {
  std::size_t count = 0;
  for (std::size_t j = 0; j < inner; ++j) {
    active[count] = static_cast<std::uint32_t>(j);
    count += h[j] != 0.0f ? 1 : 0;
  }
  return count;
}

void SparseMlpIsa(CpuIsa isa, const float* x, const float* h, std::size_t n, std::size_t hidden,
                  std::size_t inner, const MlpWeights& up, const MlpWeights& down_t, float* out) {
  thread_local Scratch scratch;
  ThreadPool& pool = ThreadPool::Default();
  const std::size_t threads = pool.num_threads();
  const std::size_t partial_size =
      down_t.quant != nullptr ? down_t.quant->layout().activation_bytes : hidden;
  scratch.active.resize(inner);
  scratch.coefs.resize(inner);
  scratch.partials.resize(threads * partial_size);

  Job job{};
  job.variant = &kVariants[static_cast<int>(isa)];
  job.quant_dot = internal::QuantRowsFor(isa);
  job.quant_axpy = internal::QuantAxpyFor(isa);
  job.hidden = hidden;
  job.up = &up;
  job.down_t = &down_t;
  job.active = scratch.active.data();
  job.coefs = scratch.coefs.data();
  job.partials = scratch.partials.data();
  job.partial_size = partial_size;
  for (std::size_t t = 0; t < n; ++t) {
    job.x = x + t * hidden;
    job.h = h + t * inner;
    job.count = GatherActive(job.h, inner, scratch.active.data());
    if (up.quant != nullptr) {
      job.packed_x =
          internal::PackActivations(job.x, 1, *up.quant, internal::ThreadActivationScratch());
    }
    const std::size_t tasks = std::clamp<std::size_t>(job.count / kMinNeuronsPerTask, 1, threads);
    job.per_task = (job.count + tasks - 1) / tasks;
    if (tasks == 1) {
      RunTask(&job, 0);
    } else {
      pool.Run(tasks, RunTask, &job);
    }
    SumPartials(job, tasks, out + t * hidden);
  }
}

void SparseMlp(const float* x, const float* h, std::size_t n, std::size_t hidden, std::size_t inner,
               const MlpWeights& up, const MlpWeights& down_t, float* out) {
  SparseMlpIsa(DetectedIsa(), x, h, n, hidden, inner, up, down_t, out);
}

}  // namespace ghost::kernels
