// Runs a command through the shell for tests that check a binary's output.
#ifndef GHOST_TESTS_RUN_COMMAND_H_
#define GHOST_TESTS_RUN_COMMAND_H_

#include <cstdio>
#include <string>

namespace ghost::testing {

// Puts the command's standard output in `output`; returns pclose's status (0 = exit 0), or
// -1 when the command could not be started.
inline int RunCommand(const std::string& command, std::string& output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  for (std::size_t got; (got = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) {
    output.append(buffer, got);
  }
  return pclose(pipe);
}

}  // namespace ghost::testing

#endif  // GHOST_TESTS_RUN_COMMAND_H_
