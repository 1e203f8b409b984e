#include "engine/model/evaluate.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace ghost {

double NextTokenBits(const float* row, std::size_t vocab, std::int32_t next) {
  const double max_logit = *std::max_element(row, row + vocab);
  double sum = 0.0;
  for (std::size_t v = 0; v < vocab; ++v) sum += std::exp(double{row[v]} - max_logit);
  const double log_prob = double{row[next]} - max_logit - std::log(sum);
  return -log_prob / std::log(2.0);
}

absl::StatusOr<EvalResult> EvaluateBitsPerByte(const Model& model, std::string_view text,
                                               int window, int chunk_tokens,
                                               BeforeChunkFn before_chunk) {
  const Tokenizer& tokenizer = model.tokenizer();
  if (tokenizer.type_name() != "byte-level") {
    return absl::UnimplementedError(absl::StrCat(
        "bits per byte needs a byte-level tokenizer, this model has ", tokenizer.type_name()));
  }
  const int context = model.config().max_position_embeddings;
  if (window < 2 || window > context) {
    return absl::InvalidArgumentError(
        absl::StrCat("window must be in [2, ", context, "], got ", window));
  }
  if (chunk_tokens < 1) return absl::InvalidArgumentError("chunk_tokens must be >= 1");
  const std::vector<std::int32_t> ids = tokenizer.Encode(text, /*parse_special=*/false);
  if (ids.size() != text.size()) {
    return absl::InternalError("byte-level tokenizer did not map one byte to one token");
  }
  const std::size_t vocab = model.config().vocab_size;
  const auto total = static_cast<std::int64_t>(ids.size());
  double total_bits = 0.0;
  std::int64_t targets = 0;
  std::int64_t done = 0;
  std::vector<float> logits;
  MlpActivity activity;
  for (std::size_t start = 0; start < ids.size(); start += window) {
    const std::size_t length = std::min<std::size_t>(window, ids.size() - start);
    if (length < 2) break;  // a one-token window predicts nothing
    std::unique_ptr<ModelSession> session =
        model.NewSession(model.default_kv_dtype(), static_cast<int>(length));
    for (std::size_t offset = 0; offset < length; offset += chunk_tokens) {
      GHOST_RETURN_IF_ERROR(before_chunk(done, total));
      const std::size_t count = std::min<std::size_t>(chunk_tokens, length - offset);
      GHOST_RETURN_IF_ERROR(session->Forward(absl::MakeConstSpan(&ids[start + offset], count),
                                             /*all_logits=*/true, logits));
      // Row t predicts the token after it; the window's last token predicts nothing.
      for (std::size_t t = 0; t < count && offset + t + 1 < length; ++t) {
        total_bits += NextTokenBits(&logits[t * vocab], vocab, ids[start + offset + t + 1]);
      }
      done += static_cast<std::int64_t>(count);
    }
    targets += static_cast<std::int64_t>(length - 1);
    activity.active += session->mlp_activity().active;
    activity.total += session->mlp_activity().total;
  }
  if (targets == 0) {
    return absl::InvalidArgumentError("text too short: at least 2 bytes are needed");
  }
  const double sparsity =
      activity.total == 0 ? 0.0 : 1.0 - static_cast<double>(activity.active) / activity.total;
  return EvalResult{total_bits / static_cast<double>(targets), targets, sparsity};
}

absl::StatusOr<EvalResult> EvaluateBitsPerByte(const Model& model, std::string_view text,
                                               int window) {
  return EvaluateBitsPerByte(model, text, window, std::max(window, 1),
                             [](std::int64_t, std::int64_t) { return absl::OkStatus(); });
}

}  // namespace ghost
