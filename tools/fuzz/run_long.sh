#!/bin/sh
# Runs one of the libFuzzer targets for a given time (TESTPLAN A1/A3: the long runs that do not
# fit in `make test`, whose ctest entries run each fuzzer for 20 s; cmake/GhostFuzzer.cmake).
#
# Usage: tools/fuzz/run_long.sh FUZZER SECONDS [BUILD_DIR] [-- extra libFuzzer flags]
#   FUZZER     safetensors | tokenizer | config | request | all (each in turn, SECONDS each)
#   SECONDS    total fuzzing time
#   BUILD_DIR  a configured build tree (default: build); the fuzzer is built there first
#   extra flags, e.g. -fork=4 to use four cores
# The corpus grows in BUILD_DIR/tests/<engine|server>/<fuzzer>_fuzz_corpus (the committed seeds
# are only read); crashes are written to BUILD_DIR/fuzz-artifacts/<fuzzer>/. Exit status: libFuzzer's
# (0 when nothing was found).
set -eu

if [ $# -lt 2 ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
fuzzer=$1
seconds=$2
shift 2
build_dir=build
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  build_dir=$1
  shift
fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift

if [ "$fuzzer" = all ]; then
  for each in safetensors tokenizer config request; do
    "$0" "$each" "$seconds" "$build_dir" -- "$@" || exit $?
  done
  exit 0
fi
case "$fuzzer" in
  safetensors | tokenizer | config) tests=tests/engine ;;
  request) tests=tests/server ;;
  *) echo "unknown fuzzer '$fuzzer' (safetensors, tokenizer, config, request)" >&2; exit 2 ;;
esac
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
cmake --build "$build_dir" --target "${fuzzer}_fuzz_build"

binary="$build_dir/$tests/${fuzzer}_fuzz/${fuzzer}_fuzzer"
corpus="$build_dir/$tests/${fuzzer}_fuzz_corpus"
artifacts="$build_dir/fuzz-artifacts/$fuzzer"
mkdir -p "$corpus" "$artifacts"
echo "fuzzing $fuzzer for ${seconds}s; corpus $corpus, crashes in $artifacts"
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" \
  "$@" "$corpus" "$source_dir/$tests/${fuzzer}_fuzz/seeds"
