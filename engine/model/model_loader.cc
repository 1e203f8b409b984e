// Model::Load: reads a Hugging Face model directory (or a GGUF file, converted to the same
// parts by engine/checkpoint/gguf_import.h) and builds the model for its architecture.
#include <algorithm>
#include <filesystem>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/checkpoint/gguf.h"
#include "engine/checkpoint/gguf_import.h"
#include "engine/common/file.h"
#include "engine/common/log.h"
#include "engine/model/generation_config.h"
#include "engine/model/llama.h"
#include "engine/model/model.h"
#include "nlohmann/json.hpp"

namespace ghost {
namespace {

absl::StatusOr<GenerationConfig> ReadGenerationConfig(const std::string& directory) {
  const std::string path = JoinPath(directory, "generation_config.json");
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (absl::IsNotFound(contents.status())) return GenerationConfig{};  // optional file
  if (!contents.ok()) return contents.status();
  return ParseGenerationConfig(*contents, path);
}

// A .gguf file: its config, tokenizer, chat template and weights as a directory would hold them.
// GGUF has no generation_config.json; the engine's defaults apply. The template has no
// bos_token/eos_token strings (GGUF keeps token ids only).
absl::StatusOr<std::shared_ptr<const Model>> LoadGguf(const std::string& path,
                                                      std::shared_ptr<Backend> backend,
                                                      const ModelOptions& options) {
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<GgufModel> parts = ImportGguf(**file);
  if (!parts.ok()) return parts.status();
  absl::StatusOr<ModelConfig> config = ParseModelConfig(parts->config.dump(), (*file)->name());
  if (!config.ok()) return config.status();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::FromJson(parts->tokenizer_json, (*file)->name());
  if (!tokenizer.ok()) return tokenizer.status();
  if ((*tokenizer)->vocab_size() > config->vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat((*file)->name(), ": the tokenizer has ", (*tokenizer)->vocab_size(),
                     " tokens but the vocabulary size is ", config->vocab_size));
  }
  ChatTemplate chat_template;
  if (!parts->chat_template.empty()) {
    chat_template = ChatTemplate::FromTokenizerConfig(
        nlohmann::json{{"chat_template", parts->chat_template}}.dump(), (*file)->name());
  }
  absl::StatusOr<std::shared_ptr<const Model>> model = LlamaModel::Create(
      *std::move(config), *std::move(tokenizer), std::move(chat_template), GenerationDefaults{},
      std::move(parts->weights), std::move(backend), options, path);
  if (!model.ok()) return model.status();
  const ModelSummary& s = (*model)->summary();
  LogInfo(absl::StrFormat("loaded %s: %s, %d parameters, %s, %.1f MiB of weights (GGUF)",
                          (*file)->name(), s.architecture, s.parameters, s.dtype,
                          s.weight_bytes / (1024.0 * 1024.0)));
  return model;
}

// The megabytes of the weight files of `directory` (or of the .gguf file it is), for an
// out-of-memory message.
double WeightFileMib(const std::string& directory) {
  std::error_code error;
  if (std::filesystem::is_regular_file(directory, error)) {
    const std::uintmax_t size = std::filesystem::file_size(directory, error);
    return error ? 0.0 : static_cast<double>(size) / (1024.0 * 1024.0);
  }
  std::uintmax_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    std::error_code size_error;
    if (entry.path().extension() == ".safetensors") {
      const std::uintmax_t size = entry.file_size(size_error);
      if (!size_error) bytes += size;
    }
  }
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

absl::StatusOr<std::shared_ptr<const Model>> LoadModel(const std::string& directory,
                                                       const ModelOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<Backend>> backend =
      NewBackend({.device = options.device, .device_index = options.device_index});
  if (!backend.ok()) return backend.status();
  if (absl::EndsWith(directory, ".gguf")) return LoadGguf(directory, *std::move(backend), options);
  const std::string config_path = JoinPath(directory, "config.json");
  absl::StatusOr<std::string> config_text = ReadFileToString(config_path);
  if (!config_text.ok()) return config_text.status();
  absl::StatusOr<ModelConfig> config = ParseModelConfig(*config_text, config_path);
  if (!config.ok()) return config.status();

  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::FromFile(JoinPath(directory, "tokenizer.json"));
  if (!tokenizer.ok()) return tokenizer.status();
  if ((*tokenizer)->vocab_size() > config->vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(directory, ": tokenizer.json has ", (*tokenizer)->vocab_size(),
                     " tokens but config.json vocab_size is ", config->vocab_size));
  }
  absl::StatusOr<GenerationConfig> generation = ReadGenerationConfig(directory);
  if (!generation.ok()) return generation.status();
  // generation_config.json may name extra end-of-sequence tokens (chat models do).
  for (std::int32_t id : generation->eos_token_ids) {
    if (std::find(config->eos_token_ids.begin(), config->eos_token_ids.end(), id) ==
        config->eos_token_ids.end()) {
      config->eos_token_ids.push_back(id);
    }
  }

  ChatTemplate chat_template = ChatTemplate::Load(directory);
  if (!chat_template.load_status().ok()) {
    LogWarning(absl::StrCat(
        directory, ": serving without chat requests: ", chat_template.load_status().message()));
  }

  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> weights =
      SafetensorsCheckpoint::Open(directory);
  if (!weights.ok()) return weights.status();
  // Every supported architecture runs on the Llama-family decoder (architecture.h);
  // ParseModelConfig has already rejected the others.
  absl::StatusOr<std::shared_ptr<const Model>> model =
      LlamaModel::Create(*std::move(config), *std::move(tokenizer), std::move(chat_template),
                         std::move(generation->defaults), *std::move(weights), *std::move(backend),
                         options, directory);
  if (!model.ok()) return model.status();
  const ModelSummary& s = (*model)->summary();
  if (s.streamed_layers > 0) {
    LogInfo(absl::StrFormat(
        "%s streams %d layers (%.1f MiB per step): weight budget %.1f MiB, %.1f MiB resident",
        directory, s.streamed_layers, s.streamed_weight_bytes / (1024.0 * 1024.0),
        s.weight_budget_bytes / (1024.0 * 1024.0), s.resident_weight_bytes / (1024.0 * 1024.0)));
  }
  LogInfo(
      absl::StrFormat("loaded %s: %s, %d parameters, %s, %.1f MiB of weights, %s tokenizer, "
                      "context %d",
                      directory, s.architecture, s.parameters, s.dtype,
                      s.weight_bytes / (1024.0 * 1024.0), s.tokenizer, s.context_length));
  return model;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Model>> Model::Load(const std::string& directory,
                                                         const ModelOptions& options) {
  // Any allocation that fails while loading fails this load, not the process: sizes come from
  // the model's files, and the server must keep serving its other models.
  try {
    return LoadModel(directory, options);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("out of memory while loading the model (%.1f MiB of weight files)",
                        WeightFileMib(directory)));
  }
}

}  // namespace ghost
