// ghostctl subcommands. Each returns the process exit code.
#ifndef GHOST_CLIENTS_GHOSTCTL_COMMANDS_H_
#define GHOST_CLIENTS_GHOSTCTL_COMMANDS_H_

namespace ghost::ctl {

int RunGenerate();
int RunHealth();
int RunList();
int RunEval();

}  // namespace ghost::ctl

#endif  // GHOST_CLIENTS_GHOSTCTL_COMMANDS_H_
