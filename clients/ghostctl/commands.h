// ghostctl subcommands. Each returns the process exit code.
#ifndef GHOST_CLIENTS_GHOSTCTL_COMMANDS_H_
#define GHOST_CLIENTS_GHOSTCTL_COMMANDS_H_

#include <string>

namespace ghost::ctl {

int RunGenerate();
int RunHealth();
int RunList();
// Bits per byte of a served model on --file (Inference/Evaluate).
int RunEval();
// Model management: each takes the model name given after the command.
int RunShow(const std::string& name);
int RunLoad(const std::string& name);    // needs the admin token when the server has one
int RunUnload(const std::string& name);  // needs the admin token when the server has one
// Compression jobs: compress needs the admin token when the server has one, as does cancel.
int RunCompress();
int RunJobs();
int RunCancel(const std::string& operation);

}  // namespace ghost::ctl

#endif  // GHOST_CLIENTS_GHOSTCTL_COMMANDS_H_
