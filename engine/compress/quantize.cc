#include "engine/compress/quantize.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/compress/codebook.h"
#include "engine/compress/fp16.h"
#include "engine/compress/ternary.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::compress {
namespace {

constexpr float kMaxWeight = 65504.0f;  // The largest finite fp16.

// Codes for a fixed scale, in the format's own way.
struct BlockCoder {
  const Codebook* codebook = nullptr;  // nullptr: ternary

  double Encode(absl::Span<const float> w, absl::Span<const float> importance, float scale,
                absl::Span<std::int8_t> codes) const {
    return codebook == nullptr ? TernaryCodesForScale(w, importance, scale, codes)
                               : CodebookCodesForScale(w, importance, *codebook, scale, codes);
  }
};

struct Job {
  const float* w;
  const QuantizeOptions* options;
  QuantizedMatrix* m;
  std::size_t rows_per_task;
};

// Block b of one row: its weights and their importances.
struct BlockView {
  absl::Span<const float> w;
  absl::Span<const float> importance;
};

BlockView ViewBlock(const Job& job, const float* row_w, std::size_t b) {
  const std::size_t first = b * job.m->block_size;
  const std::size_t length = std::min(job.m->block_size, job.m->cols - first);
  const absl::Span<const float> importance = job.options->column_importance;
  return {absl::MakeConstSpan(row_w + first, length),
          importance.empty() ? importance : importance.subspan(first, length)};
}

// Stores row `row`'s scales given the fitted (unrounded) block scales, and packs the codes
// re-solved for each stored scale.
void StoreRow(const Job& job, std::size_t row, absl::Span<const float> block_scales,
              const BlockCoder& coder) {
  QuantizedMatrix& m = *job.m;
  const float* row_w = job.w + row * m.cols;
  std::array<std::int8_t, kMaxBlockSize> codes;
  const auto encode = [&](std::size_t b, float scale) {
    const BlockView block = ViewBlock(job, row_w, b);
    return coder.Encode(block.w, block.importance, scale,
                        absl::MakeSpan(codes.data(), block.w.size()));
  };
  const auto store_codes = [&](std::size_t b, float scale) {
    encode(b, scale);
    // A short last block is packed whole, padded with code 0 / index 0 (packing.h).
    const std::size_t length = std::min(m.block_size, m.cols - b * m.block_size);
    std::fill(codes.begin() + length, codes.begin() + m.block_size, std::int8_t{0});
    std::uint8_t* out = m.codes.data() + row * m.code_bytes_per_row() + b * m.block_bytes();
    TraitsOf(m.format).pack(absl::MakeConstSpan(codes.data(), m.block_size),
                            absl::MakeSpan(out, m.block_bytes()));
  };
  const std::size_t blocks = m.blocks_per_row();
  if (m.scale_scheme == ScaleScheme::kF16PerBlock) {
    for (std::size_t b = 0; b < blocks; ++b) {
      m.scales[row * blocks + b] = ScaleToF16(block_scales[b]);
      store_codes(b, kernels::F16ToF32(m.scales[row * blocks + b]));
    }
    return;
  }
  const int bits = m.sub_scale_bits;
  const int top = (1 << bits) - 1;  // The highest level: the super scale itself.
  std::vector<std::uint8_t> sub_scales(blocks);
  for (std::size_t super = 0; super < m.scales_per_row(); ++super) {
    const std::size_t first = super * m.blocks_per_super_block();
    const std::size_t last = std::min(blocks, first + m.blocks_per_super_block());
    const float largest =
        *std::max_element(block_scales.begin() + first, block_scales.begin() + last);
    const std::uint16_t stored = ScaleToF16(largest);
    m.scales[row * m.scales_per_row() + super] = stored;
    const float super_scale = kernels::F16ToF32(stored);
    for (std::size_t b = first; b < last; ++b) {
      // The two levels around the fitted scale and one beyond each, each with its own
      // optimal codes: the best of them is stored, not merely the nearest. (Trying all
      // 2^bits levels gained under 0.0002 cosine on Gaussian and Student-t weights.)
      const double position =
          super_scale > 0.0f ? block_scales[b] / super_scale * (top + 1) - 1.0 : 0.0;
      const int below = static_cast<int>(std::floor(std::clamp(position, -1.0, top + 1.0)));
      const int highest = std::clamp(below + 2, 0, top);
      int best_q = highest;
      double best_error = std::numeric_limits<double>::infinity();
      for (int q = std::clamp(below - 1, 0, top); q <= highest; ++q) {
        const double error =
            encode(b, TwoLevelBlockScale(super_scale, static_cast<unsigned>(q), bits));
        if (error < best_error) {
          best_error = error;
          best_q = q;
        }
      }
      sub_scales[b] = static_cast<std::uint8_t>(best_q);
      store_codes(b, TwoLevelBlockScale(super_scale, static_cast<unsigned>(best_q), bits));
    }
  }
  PackBits(sub_scales, bits,
           absl::MakeSpan(m.sub_scales.data() + row * m.sub_scale_bytes_per_row(),
                          m.sub_scale_bytes_per_row()));
}

void QuantizeTernaryRow(const Job& job, std::size_t row) {
  const QuantizedMatrix& m = *job.m;
  const float* row_w = job.w + row * m.cols;
  std::vector<float> block_scales(m.blocks_per_row());
  std::array<std::int8_t, kMaxBlockSize> codes;  // The solvers' own codes are re-solved later.
  for (std::size_t b = 0; b < block_scales.size(); ++b) {
    const BlockView block = ViewBlock(job, row_w, b);
    const absl::Span<std::int8_t> block_codes(codes.data(), block.w.size());
    block_scales[b] = job.options->solver == TernarySolver::kExact
                          ? FitTernaryExact(block.w, block.importance, block_codes).scale
                          : FitTernaryIterative(block.w, block.importance,
                                                job.options->iterative_rounds, block_codes)
                                .scale;
  }
  StoreRow(job, row, block_scales, BlockCoder{});
}

void QuantizeCodebookGroup(const Job& job, std::size_t first_row, std::size_t last_row) {
  QuantizedMatrix& m = *job.m;
  const CodebookFit fit =
      FitCodebook(job.w + first_row * m.cols, last_row - first_row, m.cols, m.block_size,
                  job.options->column_importance, job.options->lloyd_iterations);
  // Codes are chosen against the entries as stored; rounding keeps them ascending.
  Codebook stored;
  const std::size_t group = first_row / m.codebook_group_rows;
  for (int i = 0; i < kCodebookSize; ++i) {
    m.codebook[kCodebookSize * group + i] = F32ToF16(fit.codebook[i]);
    stored[i] = kernels::F16ToF32(m.codebook[kCodebookSize * group + i]);
  }
  const std::size_t blocks = m.blocks_per_row();
  for (std::size_t row = first_row; row < last_row; ++row) {
    const absl::Span<const float> scales(fit.scales.data() + (row - first_row) * blocks, blocks);
    StoreRow(job, row, scales, BlockCoder{&stored});
  }
}

void RunTask(void* context, std::size_t task) {
  const Job& job = *static_cast<const Job*>(context);
  const std::size_t first = task * job.rows_per_task;
  const std::size_t last = std::min(job.m->rows, first + job.rows_per_task);
  if (job.m->codebook_group_rows > 0) {
    QuantizeCodebookGroup(job, first, last);
  } else {
    for (std::size_t row = first; row < last; ++row) QuantizeTernaryRow(job, row);
  }
}

absl::Status CheckInputs(const float* w, std::size_t rows, std::size_t cols,
                         const QuantizeOptions& options) {
  if (rows == 0 || cols == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot quantize an empty ", rows, "x", cols, " matrix"));
  }
  const absl::Span<const float> importance = options.column_importance;
  if (!importance.empty() && importance.size() != cols) {
    return absl::InvalidArgumentError(absl::StrCat("column_importance has ", importance.size(),
                                                   " values for ", cols, " columns"));
  }
  for (std::size_t j = 0; j < importance.size(); ++j) {
    if (!(importance[j] >= 0.0f) || std::isinf(importance[j])) {
      return absl::InvalidArgumentError(absl::StrCat("column_importance[", j, "] = ", importance[j],
                                                     ": must be finite and >= 0"));
    }
  }
  for (std::size_t i = 0; i < rows * cols; ++i) {
    if (!(std::fabs(w[i]) <= kMaxWeight)) {
      return absl::InvalidArgumentError(
          absl::StrCat("weight (", i / cols, ", ", i % cols, ") = ", w[i],
                       ": weights must be finite and within the fp16 range (|w| <= 65504)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* TernarySolverName(TernarySolver solver) {
  switch (solver) {
    case TernarySolver::kExact:
      return "exact";
    case TernarySolver::kIterative:
      return "iterative";
  }
  return "unknown";
}

absl::Status QuantizeOptions::Validate() const {
  if (static_cast<std::size_t>(format) >= std::size(kWeightFormats)) {
    return absl::InvalidArgumentError(
        absl::StrCat("format ", static_cast<int>(format), " is not a WeightFormat"));
  }
  if (!IsBlockQuantized(format)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "format ", WeightFormatName(format), " is not block-quantized; Quantize() writes codes"));
  }
  if (std::find(kBlockSizes.begin(), kBlockSizes.end(), block_size) == kBlockSizes.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_size ", block_size, " is not one of 16, 32, 64, 128, 256"));
  }
  if (scale_scheme == ScaleScheme::kTwoLevel && sub_scale_bits != 4 && sub_scale_bits != 6) {
    return absl::InvalidArgumentError(
        absl::StrCat("sub_scale_bits ", sub_scale_bits, " is not 4 or 6"));
  }
  if (TraitsOf(format).reconstruction == Reconstruction::kScaleTimesCodebookEntry) {
    if (solver != TernarySolver::kExact) {
      return absl::UnimplementedError(
          absl::StrCat("solver ", TernarySolverName(solver), " applies to ternary formats; ",
                       WeightFormatName(format), " is always fitted by Lloyd-Max"));
    }
    if (codebook_group_rows < 1) {
      return absl::InvalidArgumentError("codebook_group_rows must be at least 1");
    }
    if (lloyd_iterations < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("lloyd_iterations ", lloyd_iterations, " must be at least 1"));
    }
  } else if (solver == TernarySolver::kIterative && iterative_rounds < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("iterative_rounds ", iterative_rounds, " must be at least 1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<QuantizedMatrix> Quantize(const float* w, std::size_t rows, std::size_t cols,
                                         const QuantizeOptions& options) {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  if (absl::Status status = CheckInputs(w, rows, cols, options); !status.ok()) return status;

  QuantizedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.format = options.format;
  m.block_size = options.block_size;
  m.scale_scheme = options.scale_scheme;
  const bool two_level = options.scale_scheme == ScaleScheme::kTwoLevel;
  m.sub_scale_bits = two_level ? options.sub_scale_bits : 0;
  const bool has_codebook =
      TraitsOf(options.format).reconstruction == Reconstruction::kScaleTimesCodebookEntry;
  m.codebook_group_rows = has_codebook ? std::min(options.codebook_group_rows, rows) : 0;
  m.codes.resize(rows * m.code_bytes_per_row());
  m.scales.resize(rows * m.scales_per_row());
  m.sub_scales.resize(rows * m.sub_scale_bytes_per_row());
  m.codebook.resize(kCodebookSize * m.num_codebook_groups());

  Job job{w, &options, &m, has_codebook ? m.codebook_group_rows : 1};
  const std::size_t tasks = (rows + job.rows_per_task - 1) / job.rows_per_task;
  if (options.parallel) {
    kernels::ThreadPool::Default().Run(tasks, RunTask, &job);
  } else {
    for (std::size_t task = 0; task < tasks; ++task) RunTask(&job, task);
  }
  return m;
}

}  // namespace ghost::compress
