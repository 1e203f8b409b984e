// Early returns for absl::Status / absl::StatusOr, the one pair used project-wide (the abseil
// release we build against has none of its own).
//
//   GHOST_RETURN_IF_ERROR(WriteHeader(fd));
//       evaluates the absl::Status expression once and returns it from the enclosing function
//       when it is not OK. The enclosing function returns absl::Status or any
//       absl::StatusOr<T>.
//   GHOST_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
//   GHOST_ASSIGN_OR_RETURN(existing_variable, ReadFile(path));
//   GHOST_ASSIGN_OR_RETURN(const std::string& text, ReadFile(path));
//       evaluates the absl::StatusOr<T> expression once; on error returns its status, otherwise
//       moves the value into `lhs`, a declaration or an existing variable. A `const T&`
//       declaration refers to the value inside the macro's hidden StatusOr, which lives to the
//       end of the enclosing scope (no move; GCC 12 also reports a false -Wmaybe-uninitialized
//       for some std::string values moved out and then compared). It expands to several
//       statements: not for the body of an unbraced if/else. `lhs` must not contain a comma
//       outside parentheses (name the type with an alias); `expr` may.
//
// Errors pass through unchanged. Where the caller adds context to a message, write the test by
// hand.
#ifndef GHOST_ENGINE_COMMON_STATUS_MACROS_H_
#define GHOST_ENGINE_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GHOST_RETURN_IF_ERROR(...)                                           \
  do {                                                                       \
    if (::absl::Status ghost_status_ = (__VA_ARGS__); !ghost_status_.ok()) { \
      return ghost_status_;                                                  \
    }                                                                        \
  } while (false)

#define GHOST_ASSIGN_OR_RETURN(lhs, ...)                                                        \
  GHOST_STATUS_MACROS_ASSIGN_OR_RETURN_(GHOST_STATUS_MACROS_CONCAT_(ghost_statusor_, __LINE__), \
                                        lhs, __VA_ARGS__)

// Implementation details of the macros above.
#define GHOST_STATUS_MACROS_CONCAT_INNER_(a, b) a##b
#define GHOST_STATUS_MACROS_CONCAT_(a, b) GHOST_STATUS_MACROS_CONCAT_INNER_(a, b)
#define GHOST_STATUS_MACROS_ASSIGN_OR_RETURN_(statusor, lhs, ...) \
  auto statusor = (__VA_ARGS__);                                  \
  if (!statusor.ok()) return std::move(statusor).status();        \
  lhs = *std::move(statusor)

#endif  // GHOST_ENGINE_COMMON_STATUS_MACROS_H_
