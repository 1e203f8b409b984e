// ghostbench eval: bits per byte of a local model on a text file, computed by the engine in this
// process (no server needed), printed as JSON.
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "bench/subcommands.h"
#include "engine/common/file.h"
#include "engine/model/evaluate.h"
#include "engine/model/model.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

constexpr char kUsage[] =
    "usage: ghostbench eval --text FILE [--model NAME] [--model_root DIR] [--window N]\n";

struct EvalOptions {
  std::string model = "ghost-small";
  std::string model_root = "./models";
  std::string text;
  int window = 512;
};

// Takes "--name value" and "--name=value", as the ghostctl flags this command replaces did.
bool ParseOptions(int argc, char** argv, EvalOptions& options) {
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string value;
    const std::size_t equals = arg.find('=');
    if (equals != std::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
      arg = arg.substr(0, equals);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return false;
    }
    if (arg == "--model") {
      options.model = value;
    } else if (arg == "--model_root") {
      options.model_root = value;
    } else if (arg == "--text") {
      options.text = value;
    } else if (arg == "--window") {
      if (!absl::SimpleAtoi(value, &options.window)) return false;
    } else {
      return false;
    }
  }
  return !options.text.empty();
}

}  // namespace

int RunEval(int argc, char** argv) {
  EvalOptions options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  absl::StatusOr<std::string> text = ReadFileToString(options.text);
  if (!text.ok()) {
    std::fprintf(stderr, "ghostbench eval: --text: %s\n", text.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::shared_ptr<const Model>> model =
      Model::Load(JoinPath(options.model_root, options.model));
  if (!model.ok()) {
    std::fprintf(stderr, "ghostbench eval: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<EvalResult> result = EvaluateBitsPerByte(**model, *text, options.window);
  if (!result.ok()) {
    std::fprintf(stderr, "ghostbench eval: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const nlohmann::json out = {{"model", options.model},
                              {"text", options.text},
                              {"window", options.window},
                              {"bits_per_byte", result->bits_per_byte},
                              {"bytes_predicted", result->bytes_predicted},
                              {"seconds", absl::ToDoubleSeconds(absl::Now() - start)}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace ghost::bench
