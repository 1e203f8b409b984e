// Minimal engine logging: one line per event on stderr. absl/log is not available in the
// abseil release we build against (20220623), so this stands in for it.
#ifndef GHOST_ENGINE_COMMON_LOG_H_
#define GHOST_ENGINE_COMMON_LOG_H_

#include <string_view>

namespace ghost {

void LogInfo(std::string_view message);
void LogWarning(std::string_view message);

}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_LOG_H_
