// ghostctl: command-line client for ghostserve.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "clients/ghostctl/commands.h"

namespace {

constexpr char kUsage[] =
    "ghostctl COMMAND [flags]\n"
    "\n"
    "Commands:\n"
    "  generate  stream a completion: --prompt TEXT [--max_new_tokens N] [--temperature T]\n"
    "            [--top_p P] [--top_k K] [--seed S] [--stop STR] [--logprobs N]\n"
    "  health    print the server's liveness and readiness\n"
    "  list      list the models the server knows\n"
    "  show NAME   print one model's state and details\n"
    "  load NAME   load (or reload) a model and wait until it is ready\n"
    "  unload NAME unload a model once its streams have finished\n"
    "  compress  start a compression job: --model SRC --output NAME [--scheme S]\n"
    "            [--block_size B] [--remove_dead_neurons] [--target_sparsity T]\n"
    "            [--output_format safetensors|gguf]\n"
    "            [--calibration_file F] [--request_id ID] [--wait]\n"
    "  jobs      list the compression jobs\n"
    "  cancel OPERATION  cancel a compression job (operations/ID or ID)\n"
    "  eval      bits per byte of the served model on a text file: --file PATH [--window N]\n"
    "            [--timeout_s S] (byte-level models; the file is bounded by the server's\n"
    "            --max_prompt_bytes)\n"
    "\n"
    "Common flags: --address host:port (localhost:50051), --token T (or env\n"
    "GHOST_AUTH_TOKEN; load, unload, compress and cancel need the admin token when the\n"
    "server has one), --model NAME (for compress, the source model).\n"
    "Run 'ghostctl --helpfull' for every flag. Bits per byte of a local model directory,\n"
    "without a server: 'ghostbench eval --text FILE [--model NAME] [--model_root DIR]'.";

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string command = args.size() >= 2 ? args[1] : "";
  const bool takes_name =
      command == "show" || command == "load" || command == "unload" || command == "cancel";
  if (args.size() != (takes_name ? 3u : 2u)) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  if (command == "show") return ghost::ctl::RunShow(args[2]);
  if (command == "load") return ghost::ctl::RunLoad(args[2]);
  if (command == "unload") return ghost::ctl::RunUnload(args[2]);
  if (command == "cancel") return ghost::ctl::RunCancel(args[2]);
  if (command == "compress") return ghost::ctl::RunCompress();
  if (command == "jobs") return ghost::ctl::RunJobs();
  if (command == "generate") return ghost::ctl::RunGenerate();
  if (command == "health") return ghost::ctl::RunHealth();
  if (command == "list") return ghost::ctl::RunList();
  if (command == "eval") return ghost::ctl::RunEval();
  std::fprintf(stderr, "ghostctl: unknown command '%s'\n\n%s\n", command.c_str(), kUsage);
  return 2;
}
