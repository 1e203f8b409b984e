#!/usr/bin/env bash
# Checks the thread-safety annotations (ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED, ...)
# with clang's -Wthread-safety analysis, which GCC lacks. GCC stays the build compiler: this
# pass only parses (clang++ -fsyntax-only) each translation unit of the code that takes locks,
# engine/, server/ and their tests, with the flags the build compiles it with, and fails on the
# first unit with a diagnostic.
#
# Usage: tools/check/thread_safety.sh [BUILD_DIR]   (default: build)
# BUILD_DIR must be configured and built far enough for its generated headers (protobuf, gRPC)
# to exist; `make test` does both. Environment: CLANGXX (default clang++), JOBS (default 2),
# KEEP_GOING=1 to check every unit instead of stopping at the first that fails.
# Debian's clang is 14, which lacks one C++20 feature GCC has: a lambda cannot capture a
# structured binding (clang 16 can). In the units checked here, capture such a name by
# initializer instead ([&value = value]).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR="${1:-build}"
CLANGXX="${CLANGXX:-clang++}"
JOBS="${JOBS:-2}"
DB="$BUILD_DIR/compile_commands.json"
if [ ! -f "$DB" ]; then
  echo "thread_safety: $DB not found; configure $BUILD_DIR with CMake first" >&2
  exit 2
fi
command -v "$CLANGXX" >/dev/null || { echo "thread_safety: $CLANGXX not found" >&2; exit 2; }

# Two NUL-terminated fields per unit: the directory to run in and the clang command, quoted for
# the shell. The build's warning flags are dropped: only the thread-safety analysis matters
# here, and GCC-only names (-Wno-maybe-uninitialized) mean nothing to clang. So is the output.
units=$(mktemp)
trap 'rm -f "$units"' EXIT
python3 - "$DB" "$CLANGXX" "$PWD" >"$units" <<'PY'
import json, shlex, sys

db_path, clangxx, root = sys.argv[1:]
checked = ("engine/", "server/", "tests/engine/", "tests/server/")
for entry in json.load(open(db_path)):
    source = entry["file"]
    relative = source[len(root) + 1:] if source.startswith(root + "/") else source
    if not relative.startswith(checked) or not relative.endswith(".cc"):
        continue
    args = entry.get("arguments") or shlex.split(entry["command"])
    kept, skip_next = [], False
    for arg in args[1:]:
        if skip_next:
            skip_next = False
        elif arg == "-o":
            skip_next = True
        elif arg != "-c" and not (arg.startswith("-W") and not arg.startswith("-Wl,")):
            kept.append(arg)
    clang = [clangxx, "-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety"] + kept
    sys.stdout.write(entry["directory"] + "\0" + shlex.join(clang) + "\0")
PY
count=$(tr -cd '\0' <"$units" | wc -c)
count=$((count / 2))
if [ "$count" -eq 0 ]; then
  echo "thread_safety: no engine/, server/ or tests/ units in $DB" >&2
  exit 2
fi

# A unit that fails exits 255, which makes xargs start no further units (KEEP_GOING: 1, which
# does not).
fail_status=255
[ "${KEEP_GOING:-0}" = 1 ] && fail_status=1
start=$SECONDS
if xargs -0 -n 2 -P "$JOBS" bash -c 'cd "$1" && eval "$2" || exit '"$fail_status" _ \
    <"$units" 2>&1; then
  echo "thread_safety: $count units clean in $((SECONDS - start)) s"
else
  echo "thread_safety: FAILED (diagnostics above; clang $("$CLANGXX" -dumpversion))" >&2
  exit 1
fi
