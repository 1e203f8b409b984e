#!/usr/bin/env bash
# Checks that every tracked C, C++ and CUDA file is formatted as .clang-format says:
# clang-format --dry-run -Werror on each, listing the files it would change. Changes nothing;
# to fix a file, run clang-format -i on it. Other clang-format releases format some constructs
# differently: CI's is Debian bookworm's (14), and that is the one to format with.
#
# Usage: tools/check/format.sh [-v]   (-v: print clang-format's diagnostics for each file)
# Environment: CLANG_FORMAT (default clang-format), JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"
JOBS="${JOBS:-2}"
VERBOSE=0
[ "${1:-}" = "-v" ] && VERBOSE=1
command -v "$CLANG_FORMAT" >/dev/null || { echo "format: $CLANG_FORMAT not found" >&2; exit 2; }

files=$(mktemp)
trap 'rm -f "$files"' EXIT
git ls-files -z -- '*.c' '*.cc' '*.cpp' '*.h' '*.hpp' '*.cu' '*.cuh' >"$files"
total=$(tr -cd '\0' <"$files" | wc -c)

# Each file that needs formatting prints its name (and, with -v, the diagnostics).
flagged=$(xargs -0 -n 16 -P "$JOBS" bash -c '
  clang_format=$1; verbose=$2; shift 2
  for file; do
    [ -f "$file" ] || continue
    if ! diagnostics=$("$clang_format" --dry-run -Werror "$file" 2>&1); then
      echo "$file"
      [ "$verbose" = 1 ] && printf "%s\n" "$diagnostics" >&2
    fi
  done
  exit 0' _ "$CLANG_FORMAT" "$VERBOSE" <"$files" | sort)

if [ -z "$flagged" ]; then
  echo "format: $total files clean"
  exit 0
fi
count=$(printf '%s\n' "$flagged" | wc -l)
printf '%s\n' "$flagged"
echo "format: $count of $total files differ from .clang-format ($("$CLANG_FORMAT" --version));" \
  "fix with clang-format -i FILE, or see tools/check/format.sh -v" >&2
exit 1
