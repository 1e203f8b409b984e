// ghostctl eval: bits per byte of a local model on a text file, computed by the engine in
// this process (no server needed), printed as JSON.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "engine/model/evaluate.h"
#include "engine/model/model.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, model_root, "./models", "directory holding the model directories");
ABSL_FLAG(std::string, text, "", "text file to evaluate");
ABSL_FLAG(int, window, 512, "evaluation window in tokens");

namespace ghost::ctl {

int RunEval() {
  const std::string name = absl::GetFlag(FLAGS_model).empty() ? "ghost-tiny"
                                                              : absl::GetFlag(FLAGS_model);
  const std::string path = absl::GetFlag(FLAGS_text);
  std::ifstream file(path, std::ios::binary);
  if (path.empty() || !file) {
    std::fprintf(stderr, "ghostctl eval: cannot read --text '%s'\n", path.c_str());
    return 1;
  }
  std::stringstream buffer;
  buffer << file.rdbuf();
  auto model = Model::Load(absl::GetFlag(FLAGS_model_root) + "/" + name);
  if (!model.ok()) {
    std::fprintf(stderr, "ghostctl eval: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const absl::Time start = absl::Now();
  auto result = EvaluateBitsPerByte(**model, buffer.str(), absl::GetFlag(FLAGS_window));
  if (!result.ok()) {
    std::fprintf(stderr, "ghostctl eval: %s\n", result.status().ToString().c_str());
    return 1;
  }
  nlohmann::json out = {{"model", name},
                        {"text", path},
                        {"window", absl::GetFlag(FLAGS_window)},
                        {"bits_per_byte", result->bits_per_byte},
                        {"bytes_predicted", result->bytes_predicted},
                        {"seconds", absl::ToDoubleSeconds(absl::Now() - start)}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace ghost::ctl
