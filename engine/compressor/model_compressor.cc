#include "engine/compressor/model_compressor.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/backend/kv_cache.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/checkpoint/quantization_config.h"
#include "engine/common/durable_file.h"
#include "engine/common/file.h"
#include "engine/common/json.h"
#include "engine/common/log.h"
#include "engine/common/owned_directory.h"
#include "engine/common/status_macros.h"
#include "engine/compress/quantize.h"
#include "engine/compressor/activation_profile.h"
#include "engine/compressor/chunked_evaluation.h"
#include "engine/compressor/compressed_output.h"
#include "engine/compressor/gguf_export.h"
#include "engine/model/evaluate.h"
#include "engine/model/model.h"

namespace ghost::compress {
namespace {

namespace fs = std::filesystem;
using Input = ActivationObserver::LinearInput;

struct Scheme {
  const char* name;
  WeightFormat format;
  ScaleScheme scales;
  int sub_scale_bits;
  std::size_t codebook_group_rows;
};
constexpr Scheme kSchemes[] = {
    {"ternary", WeightFormat::kTernary2Bit, ScaleScheme::kF16PerBlock, 0, 0},
    {"ternary-base3", WeightFormat::kTernaryBase3, ScaleScheme::kF16PerBlock, 0, 0},
    {"ternary-2level", WeightFormat::kTernary2Bit, ScaleScheme::kTwoLevel, 4, 0},
    {"codebook4", WeightFormat::kCodebook2Bit, ScaleScheme::kF16PerBlock, 0, 1},
};

const Scheme* FindScheme(const std::string& name) {
  for (const Scheme& s : kSchemes) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

// Percent of the whole job at the start of each phase.
constexpr float kProfileStart = 0, kQuantizeStart = 25, kWriteStart = 75, kEvaluateStart = 80;

// Tokens profiled at most; more calibration text than this adds time, not information.
constexpr std::size_t kMaxCalibrationTokens = 64 * 1024;

// Owners become part of a directory name.
bool IsValidOwner(const std::string& owner) {
  return owner.size() <= 64 && std::all_of(owner.begin(), owner.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
         });
}

// An owner token for callers that name none: unique enough that no two runs share a partial
// directory.
std::string RandomOwner() {
  std::mt19937_64 random(std::random_device{}());
  return absl::StrFormat("%016x", random());
}

class Job {
 public:
  Job(const CompressJobSpec& spec, const CompressProgressFn& progress,
      const std::atomic<bool>& cancel)
      : spec_(spec), progress_(progress), cancel_(cancel) {}

  absl::StatusOr<CompressReport> Run(const std::string& out_dir);

 private:
  absl::Status Cancelled() const {
    return cancel_.load() ? absl::CancelledError("the compression job was cancelled")
                          : absl::OkStatus();
  }
  void Progress(const std::string& phase, int layer, float begin, float end) {
    if (!progress_) return;
    const int layers = source_->config().num_hidden_layers;
    progress_({phase, layer, layers, begin + (end - begin) * layer / std::max(1, layers)});
  }
  // The cancellation check between chunks that also reports the phase's progress.
  absl::Status BeforeChunk(const char* phase, float begin, float end, std::int64_t done,
                           std::int64_t total) {
    if (progress_) {
      progress_({phase, 0, 0, begin + (end - begin) * done / std::max<std::int64_t>(1, total)});
    }
    return Cancelled();
  }
  absl::Status Profile(ActivationProfile& profile);
  void ChooseNeuronsAndGates(const ActivationProfile& profile);
  absl::Status QuantizeLayers(const ActivationProfile& profile, CompressedOutput& output);
  absl::Status Evaluate(const std::string& out_dir);

  const CompressJobSpec& spec_;
  const CompressProgressFn& progress_;
  const std::atomic<bool>& cancel_;
  std::shared_ptr<const Model> source_;
  std::unique_ptr<SafetensorsCheckpoint> checkpoint_;
  std::vector<std::vector<std::int32_t>> kept_;  // per layer; empty = all neurons kept
  CompressReport report_;
};

absl::Status Job::Profile(ActivationProfile& profile) {
  const ModelConfig& config = source_->config();
  std::vector<std::int32_t> ids =
      source_->tokenizer().Encode(spec_.calibration_text, /*parse_special=*/false,
                                  /*add_special_tokens=*/false);
  if (ids.size() > kMaxCalibrationTokens) ids.resize(kMaxCalibrationTokens);
  if (ids.empty()) return absl::InvalidArgumentError("the calibration text has no tokens");
  const int window = std::min(config.max_position_embeddings, 512);
  std::unique_ptr<ModelRunner> runner = source_->NewRunner();
  runner->set_observer(&profile);
  PagedKvCache cache(KvCacheShapeOf(config), PagedKvCache::BlocksForTokens(window),
                     source_->default_kv_dtype());
  std::vector<float> logits;
  const std::size_t chunk = TokensPerChunk(source_->summary().parameters, window);
  for (std::size_t begin = 0; begin < ids.size(); begin += window) {
    const std::size_t length = std::min<std::size_t>(window, ids.size() - begin);
    KvBlockTable table;
    (void)cache.Resize(table, static_cast<int>(length));  // the pool holds one window
    for (std::size_t offset = 0; offset < length; offset += chunk) {
      GHOST_RETURN_IF_ERROR(
          BeforeChunk("profiling", kProfileStart, kQuantizeStart, begin + offset, ids.size()));
      const ForwardSequence sequence{
          absl::MakeConstSpan(&ids[begin + offset], std::min(chunk, length - offset)),
          static_cast<int>(offset), &table, LogitRows::kNone};
      GHOST_RETURN_IF_ERROR(runner->Forward({sequence}, cache, logits));
    }
  }
  return absl::OkStatus();
}

void Job::ChooseNeuronsAndGates(const ActivationProfile& profile) {
  const ModelConfig& config = source_->config();
  std::int64_t removed = 0, total = 0;
  kept_.assign(config.num_hidden_layers, {});
  for (int l = 0; l < config.num_hidden_layers; ++l) {
    const std::vector<float>& peak = profile.max_activation(l);
    std::vector<bool> keep(peak.size(), true);
    if (spec_.remove_dead_neurons) {
      const float tolerance =
          spec_.dead_neuron_tolerance * *std::max_element(peak.begin(), peak.end());
      for (std::size_t j = 0; j < peak.size(); ++j) keep[j] = peak[j] > tolerance;
      if (std::none_of(keep.begin(), keep.end(), [](bool k) { return k; })) keep[0] = true;
      for (std::size_t j = 0; j < peak.size(); ++j) {
        if (keep[j]) kept_[l].push_back(static_cast<std::int32_t>(j));
      }
      removed += static_cast<std::int64_t>(peak.size() - kept_[l].size());
    }
    total += static_cast<std::int64_t>(peak.size());
    if (spec_.target_sparsity > 0) {
      std::vector<float> magnitudes = profile.SampledGateMagnitudes(l, keep);
      const auto nth = magnitudes.begin() +
                       static_cast<std::ptrdiff_t>(spec_.target_sparsity * magnitudes.size());
      std::nth_element(magnitudes.begin(), nth, magnitudes.end());
      report_.gate_thresholds.push_back(nth == magnitudes.end() ? 0.0f : *nth);
    }
  }
  report_.removed_neuron_fraction = total == 0 ? 0.0 : static_cast<double>(removed) / total;
}

absl::Status Job::QuantizeLayers(const ActivationProfile& profile, CompressedOutput& output) {
  const ModelConfig& config = source_->config();
  const Scheme& scheme = *FindScheme(spec_.scheme);
  QuantizeOptions options;
  options.format = scheme.format;
  options.block_size = static_cast<std::size_t>(spec_.block_size);
  options.scale_scheme = scheme.scales;
  if (scheme.sub_scale_bits > 0) options.sub_scale_bits = scheme.sub_scale_bits;
  if (scheme.codebook_group_rows > 0) options.codebook_group_rows = scheme.codebook_group_rows;
  options.parallel = true;
  const bool gated = !report_.gate_thresholds.empty();

  for (int l = 0; l < config.num_hidden_layers; ++l) {
    Progress("quantizing", l, kQuantizeStart, kWriteStart);
    const std::string prefix = absl::StrCat("model.layers.", l, ".");
    struct Linear {
      std::string name;
      Input input;
      LinearSelection selection;
    };
    const std::vector<std::int32_t>& kept = kept_[l];
    const LinearSelection rows_kept{kept, /*select_columns=*/false, /*transpose=*/false};
    const Linear linears[] = {
        {prefix + "self_attn.q_proj.weight", Input::kAttention, {}},
        {prefix + "self_attn.k_proj.weight", Input::kAttention, {}},
        {prefix + "self_attn.v_proj.weight", Input::kAttention, {}},
        {prefix + "self_attn.o_proj.weight", Input::kAttentionOutput, {}},
        {prefix + "mlp.gate_proj.weight", Input::kMlp, rows_kept},
        {prefix + "mlp.up_proj.weight", Input::kMlp, rows_kept},
        {prefix + "mlp.down_proj.weight",
         Input::kMlpDown,
         {kept, /*select_columns=*/true, /*transpose=*/gated}},
    };
    for (const Linear& linear : linears) {
      if (absl::Status s = Cancelled(); !s.ok()) return s;
      std::vector<float> importance;
      // Column importance weighs input channels; a transposed down_proj has them as rows.
      if (!linear.selection.transpose) {
        importance = profile.SecondMoments(l, linear.input);
        if (linear.selection.select_columns && !kept.empty()) {
          std::vector<float> selected;
          for (std::int32_t j : kept) selected.push_back(importance[j]);
          importance.swap(selected);
        }
      }
      absl::StatusOr<TensorQuality> quality =
          output.AddQuantized(linear.name, linear.selection, importance, options);
      if (!quality.ok()) return quality.status();
      report_.tensors.push_back(*quality);
    }
    if (!kept.empty()) output.AddKeptNeurons(prefix + "mlp.kept_neurons", kept);
  }
  Progress("quantizing", config.num_hidden_layers, kQuantizeStart, kWriteStart);
  return absl::OkStatus();
}

absl::Status Job::Evaluate(const std::string& out_dir) {
  if (source_->tokenizer().type_name() != "byte-level") {
    LogInfo("bits per byte is measured for byte-level models only; skipped");
    return absl::OkStatus();
  }
  const std::string& text =
      spec_.evaluation_text.empty() ? spec_.calibration_text : spec_.evaluation_text;
  const int window = std::min(source_->config().max_position_embeddings, 512);
  const int chunk = TokensPerChunk(source_->summary().parameters, window);
  constexpr float kHalfway = (kEvaluateStart + 100) / 2;
  GHOST_ASSIGN_OR_RETURN(
      const EvalResult before,
      EvaluateBitsPerByte(*source_, text, window, chunk, [&](auto done, auto total) {
        return BeforeChunk("evaluating", kEvaluateStart, kHalfway, done, total);
      }));
  GHOST_RETURN_IF_ERROR(Cancelled());
  GHOST_ASSIGN_OR_RETURN(const std::shared_ptr<const Model> compressed, Model::Load(out_dir));
  GHOST_ASSIGN_OR_RETURN(
      const EvalResult after,
      EvaluateBitsPerByte(*compressed, text, window, chunk, [&](auto done, auto total) {
        return BeforeChunk("evaluating", kHalfway, 100, done, total);
      }));
  report_.bits_per_byte_before = before.bits_per_byte;
  report_.bits_per_byte_after = after.bits_per_byte;
  report_.activation_sparsity = after.mlp_activation_sparsity;
  if (progress_) progress_({"evaluating", 0, 0, 100});
  return absl::OkStatus();
}

absl::StatusOr<CompressReport> Job::Run(const std::string& out_dir) {
  absl::StatusOr<std::string> config_text =
      ReadFileToString(JoinPath(spec_.source_dir, "config.json"));
  if (!config_text.ok()) return config_text.status();
  absl::StatusOr<nlohmann::json> config_json =
      ParseJsonStrict(*config_text, JoinPath(spec_.source_dir, "config.json"));
  if (!config_json.ok()) return config_json.status();
  if (IsCompressedConfig(*config_json)) {
    return absl::FailedPreconditionError(
        "the source model is compressed already; compress its original model");
  }
  absl::StatusOr<std::shared_ptr<const Model>> source = Model::Load(spec_.source_dir);
  if (!source.ok()) return source.status();
  source_ = *std::move(source);
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> checkpoint =
      SafetensorsCheckpoint::Open(spec_.source_dir);
  if (!checkpoint.ok()) return checkpoint.status();
  checkpoint_ = *std::move(checkpoint);
  report_.scheme = spec_.scheme;
  report_.block_size = spec_.block_size;

  ActivationProfile profile(source_->config().num_hidden_layers);
  if (absl::Status s = Profile(profile); !s.ok()) return s;
  ChooseNeuronsAndGates(profile);

  CompressedOutput output(*checkpoint_);
  if (absl::Status s = QuantizeLayers(profile, output); !s.ok()) return s;
  if (absl::Status s = Cancelled(); !s.ok()) return s;
  if (progress_) progress_({"writing", 0, 0, kWriteStart});
  GhostQuantization quantization = QuantizationForScheme(spec_.scheme, spec_.block_size);
  quantization.gate_thresholds = report_.gate_thresholds;
  (*config_json)["quantization_config"] = quantization.ToJson();
  if (absl::Status s = output.Write(spec_.source_dir, out_dir, config_json->dump(2)); !s.ok()) {
    return s;
  }
  report_.bits_per_weight = output.bits_per_weight();
  report_.compression_ratio = output.compression_ratio();
  if (absl::Status s = Cancelled(); !s.ok()) return s;
  if (absl::Status s = Evaluate(out_dir); !s.ok()) return s;
  return report_;
}

}  // namespace

const std::vector<std::string>& CompressSchemes() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (const Scheme& s : kSchemes) v->push_back(s.name);
    return v;
  }();
  return *names;
}

GhostQuantization QuantizationForScheme(const std::string& scheme_name, int block_size) {
  const Scheme& scheme = *FindScheme(scheme_name);
  GhostQuantization quantization;
  quantization.scheme = scheme.name;
  quantization.format = scheme.format;
  quantization.block_size = static_cast<std::size_t>(block_size);
  quantization.scale_scheme = scheme.scales;
  quantization.sub_scale_bits = scheme.sub_scale_bits;
  quantization.codebook_group_rows = scheme.codebook_group_rows;
  return quantization;
}

absl::Status ValidateCompressSpec(const CompressJobSpec& spec) {
  if (FindScheme(spec.scheme) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported scheme \"", spec.scheme,
                     "\"; supported: ", absl::StrJoin(CompressSchemes(), ", ")));
  }
  if (std::find(kBlockSizes.begin(), kBlockSizes.end(),
                static_cast<std::size_t>(spec.block_size)) == kBlockSizes.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported block size ", spec.block_size,
                     "; supported: ", absl::StrJoin(kBlockSizes, ", ")));
  }
  if (!(spec.target_sparsity >= 0.0f && spec.target_sparsity < 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target sparsity ", spec.target_sparsity, " is outside [0, 1)"));
  }
  if (!(spec.dead_neuron_tolerance >= 0.0f && spec.dead_neuron_tolerance < 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dead-neuron tolerance ", spec.dead_neuron_tolerance, " is outside [0, 1)"));
  }
  if (spec.calibration_text.empty()) {
    return absl::InvalidArgumentError("the calibration text is empty");
  }
  for (const std::string* text : {&spec.calibration_text, &spec.evaluation_text}) {
    if (text->size() > kMaxCalibrationTextBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the ", text == &spec.calibration_text ? "calibration" : "evaluation", " text has ",
          text->size(), " bytes; at most ", kMaxCalibrationTextBytes, " (256 KiB) are accepted"));
    }
  }
  if (spec.output_format != "" && spec.output_format != "safetensors" &&
      spec.output_format != "gguf") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported output format \"", spec.output_format, "\"; supported: safetensors, gguf"));
  }
  if (spec.output_format == "gguf") {
    if (spec.target_sparsity != 0.0f) {
      return absl::InvalidArgumentError(
          "output format gguf: activation gates are Ghost Serve's alone and GGUF cannot hold "
          "them; use target_sparsity 0");
    }
    const bool ternary = spec.scheme == "ternary" || spec.scheme == "ternary-2level";
    if (!(ternary && (spec.block_size == 64 || spec.block_size == 256)) &&
        !(spec.scheme == "ternary-base3" && spec.block_size == 256)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output format gguf: scheme ", spec.scheme, " at block ", spec.block_size,
          " has no ggml type (ternary or ternary-2level at block 64 -> Q2_0 or 256 -> TQ2_0, "
          "ternary-base3 at 256 -> TQ1_0)"));
    }
  }
  if (!IsValidOwner(spec.owner)) {
    return absl::InvalidArgumentError(
        "the output's owner must be at most 64 letters, digits, '_' or '-'");
  }
  if (spec.source_dir.empty() || spec.output_dir.empty()) {
    return absl::InvalidArgumentError("source and output directories are required");
  }
  return absl::OkStatus();
}

std::string CompressReport::ToJson() const {
  nlohmann::json tensors_json = nlohmann::json::array();
  for (const TensorQuality& t : tensors) {
    tensors_json.push_back({{"tensor", t.tensor}, {"cosine", t.cosine}, {"mse", t.mse}});
  }
  const nlohmann::json json = {{"scheme", scheme},
                               {"block_size", block_size},
                               {"bits_per_weight", bits_per_weight},
                               {"compression_ratio", compression_ratio},
                               {"bits_per_byte_before", bits_per_byte_before},
                               {"bits_per_byte_after", bits_per_byte_after},
                               {"removed_neuron_fraction", removed_neuron_fraction},
                               {"activation_sparsity", activation_sparsity},
                               {"gate_thresholds", gate_thresholds},
                               {"tensors", tensors_json}};
  return json.dump(2) + "\n";
}

bool IsCompressedConfig(const nlohmann::json& config) {
  return config.contains("quantization_config");
}

std::string PartialOutputDir(const std::string& output_dir, const std::string& owner) {
  return absl::StrCat(output_dir, ".", owner, ".partial");
}

absl::StatusOr<CompressReport> CompressModelDirectory(const CompressJobSpec& spec,
                                                      const CompressProgressFn& progress,
                                                      const std::atomic<bool>& cancel) {
  GHOST_RETURN_IF_ERROR(ValidateCompressSpec(spec));
  std::error_code error;
  if (fs::symlink_status(spec.output_dir, error).type() != fs::file_type::not_found) {
    return absl::AlreadyExistsError(absl::StrCat(spec.output_dir, " already exists"));
  }
  const std::string owner = spec.owner.empty() ? RandomOwner() : spec.owner;
  // Created exclusively: a directory that is there already, whoever made it, is never reused
  // or removed.
  const std::string partial = PartialOutputDir(spec.output_dir, owner);
  GHOST_RETURN_IF_ERROR(CreateOwnedDirectory(partial, owner));
  const absl::Time start = absl::Now();
  Job job(spec, progress, cancel);
  absl::StatusOr<CompressReport> report = job.Run(partial);
  absl::Status status = report.status();
  if (status.ok())
    status = WriteFileDurably(JoinPath(partial, kQualityReportFile), report->ToJson());
  if (status.ok() && spec.output_format == "gguf") {
    status = ExportGguf(partial, JoinPath(partial, kGgufOutputFile));
  }
  if (status.ok()) status = SyncDirectory(partial);
  bool renamed = false;
  if (status.ok()) {
    status = RenameNoReplace(partial, spec.output_dir);
    renamed = status.ok();
    if (absl::IsAlreadyExists(status)) {
      status = absl::AlreadyExistsError(
          absl::StrCat(spec.output_dir,
                       " appeared while the job ran (made by a user, or by another server "
                       "sharing the model root); this job's output was discarded"));
    }
  }
  if (status.ok()) {
    const std::string parent = fs::path(spec.output_dir).parent_path().string();
    status = SyncDirectory(parent.empty() ? "." : parent);
  }
  if (!status.ok()) {
    fs::remove_all(partial, error);
    if (renamed) (void)RemoveIfOwned(spec.output_dir, owner);
    return status;
  }
  LogInfo(absl::StrCat("compressed ", spec.source_dir, " -> ", spec.output_dir, " (", spec.scheme,
                       ", block ", spec.block_size, ") in ",
                       absl::FormatDuration(absl::Now() - start)));
  return report;
}

}  // namespace ghost::compress
