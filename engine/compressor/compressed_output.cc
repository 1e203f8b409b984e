#include "engine/compressor/compressed_output.h"

#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "engine/backend/weight_loader.h"
#include "engine/checkpoint/quantized_tensors.h"
#include "engine/checkpoint/safetensors_writer.h"
#include "engine/common/durable_file.h"
#include "engine/common/file.h"
#include "engine/compress/metrics.h"

namespace ghost::compress {
namespace {

// Files of a model directory the compressed model keeps as they are (when present).
constexpr const char* kCopiedFiles[] = {"tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json", "generation_config.json",
                                        "validation-sample.txt"};

// The selected part of w [rows, cols] (see LinearSelection); sets rows/cols to its shape.
std::vector<float> Select(std::vector<float> w, std::size_t& rows, std::size_t& cols,
                          const LinearSelection& s) {
  std::vector<float> out;
  if (s.indices.empty()) {
    out = std::move(w);
  } else if (!s.select_columns) {
    for (std::int32_t r : s.indices) out.insert(out.end(), &w[r * cols], &w[(r + 1) * cols]);
    rows = s.indices.size();
  } else {
    out.reserve(rows * s.indices.size());
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::int32_t c : s.indices) out.push_back(w[r * cols + c]);
    }
    cols = s.indices.size();
  }
  if (!s.transpose) return out;
  std::vector<float> t(out.size());
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = out[r * cols + c];
  }
  std::swap(rows, cols);
  return t;
}

absl::Status CopyFileDurably(const std::string& from, const std::string& to) {
  absl::StatusOr<std::string> contents = ReadFileToString(from);
  if (!contents.ok()) return contents.status();
  return WriteFileDurably(to, *contents);
}

}  // namespace

absl::StatusOr<TensorQuality> CompressedOutput::AddQuantized(
    const std::string& weight_name, const LinearSelection& selection,
    absl::Span<const float> column_importance, const QuantizeOptions& options) {
  const TensorView* source = source_.Find(weight_name);
  if (source == nullptr || source->shape.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_.FileOf(weight_name), ": missing 2-D tensor ", weight_name));
  }
  if (source->dtype != Dtype::kF32 && source->dtype != Dtype::kBF16 &&
      source->dtype != Dtype::kF16) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", weight_name, " has dtype ",
                                                   DtypeName(source->dtype), ", not a float type"));
  }
  std::size_t rows = static_cast<std::size_t>(source->shape[0]);
  std::size_t cols = static_cast<std::size_t>(source->shape[1]);
  const std::vector<float> w = Select(TensorToF32(*source), rows, cols, selection);
  QuantizeOptions o = options;
  if (column_importance.size() == cols) o.column_importance = column_importance;
  absl::StatusOr<QuantizedMatrix> q = Quantize(w.data(), rows, cols, o);
  if (!q.ok()) {
    return absl::Status(q.status().code(), absl::StrCat(weight_name, ": ", q.status().message()));
  }
  const Quality quality = QualityOf(CompareWithOriginal(w.data(), *q));
  matrices_.push_back(*std::move(q));
  quantized_.emplace_back(LinearBaseName(weight_name), &matrices_.back());
  replaced_.insert(weight_name);
  return TensorQuality{weight_name, quality.cosine, quality.mse};
}

void CompressedOutput::AddKeptNeurons(const std::string& name, std::vector<std::int32_t> kept) {
  kept_.push_back(std::move(kept));
  kept_names_.push_back(name);
}

absl::Status CompressedOutput::Write(const std::string& source_dir, const std::string& out_dir,
                                     const std::string& config_json) const {
  std::vector<TensorToWrite> tensors;
  std::size_t source_bytes = 0, written_bytes = 0;
  for (const std::string& name : source_.tensor_names()) {
    const TensorView* t = source_.Find(name);
    source_bytes += t->nbytes;
    if (replaced_.count(name) > 0) continue;
    tensors.push_back({name, t->dtype, t->shape, {t->data, t->nbytes}});
  }
  for (const auto& [base, matrix] : quantized_) {
    for (TensorToWrite& t : QuantizedTensorsToWrite(base, *matrix)) tensors.push_back(t);
  }
  for (std::size_t i = 0; i < kept_.size(); ++i) {
    tensors.push_back({kept_names_[i],
                       Dtype::kI32,
                       {static_cast<std::int64_t>(kept_[i].size())},
                       {reinterpret_cast<const std::uint8_t*>(kept_[i].data()),
                        kept_[i].size() * sizeof(std::int32_t)}});
  }
  for (const TensorToWrite& t : tensors) written_bytes += t.bytes.size();
  compression_ratio_ = written_bytes == 0 ? 0.0 : double(source_bytes) / double(written_bytes);

  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"producer", "ghost compressor"}};
  if (absl::Status s = WriteSafetensors(JoinPath(out_dir, "model.safetensors"), tensors, metadata);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteFileDurably(JoinPath(out_dir, "config.json"), config_json); !s.ok()) {
    return s;
  }
  for (const char* file : kCopiedFiles) {
    const std::string from = JoinPath(source_dir, file);
    if (::access(from.c_str(), F_OK) != 0) continue;
    if (absl::Status s = CopyFileDurably(from, JoinPath(out_dir, file)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

double CompressedOutput::bits_per_weight() const {
  double bits = 0, weights = 0;
  for (const auto& [base, m] : quantized_) {
    bits += 8.0 * static_cast<double>(m->StorageBytes());
    weights += static_cast<double>(m->rows * m->cols);
  }
  return weights == 0 ? 0 : bits / weights;
}

}  // namespace ghost::compress
