#!/usr/bin/env bash
# Bounded soak test (TESTPLAN B10): starts ghostserve on loopback, keeps steady Generate load on
# it with cancellations and short deadlines (the C++ load client, `ghostbench serve`), samples
# the server's RSS, open file descriptors and threads every few seconds, and prints whether each
# stayed flat. Not part of `make test`: it runs for minutes.
#
# Usage: tools/soak/soak.sh [SECONDS] [BUILD_DIR]
#   SECONDS    how long the load runs (default 180)
#   BUILD_DIR  a built tree with ghostserve and ghostbench (default: build)
# Environment: SOAK_INTERVAL (seconds between samples, default 5), SOAK_CONCURRENCY (calls in
# flight, default 16), SOAK_MAX_NEW_TOKENS (default 48), SOAK_MODEL_ROOT (default: models).
# Flat means: the mean of the last third of the samples exceeds the mean of the middle third by
# at most 10% or 16 MiB for RSS, by at most 2 for fds and threads. The first third is warm-up:
# gRPC's thread pool and the allocator's arenas grow to the load and then stay (a 3-minute run
# went from 20 to 23 threads in its first 75 s and stayed there); a leak keeps growing.
# Exit status: 0 when all three are flat and the server exits 0 on SIGTERM, else 1.
set -euo pipefail

seconds=${1:-180}
build_dir=${2:-build}
interval=${SOAK_INTERVAL:-5}
concurrency=${SOAK_CONCURRENCY:-16}
max_new_tokens=${SOAK_MAX_NEW_TOKENS:-48}
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
model_root=${SOAK_MODEL_ROOT:-$source_dir/models}
server=$build_dir/server/ghostserve
bench=$build_dir/bench/ghostbench
for binary in "$server" "$bench"; do
  [ -x "$binary" ] || { echo "soak: $binary is missing; build it first" >&2; exit 2; }
done

work=$(mktemp -d "/tmp/ghost-soak-$$-XXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2> /dev/null; then kill "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$server" --host=127.0.0.1 --port=0 --metrics_port=0 --model_root="$model_root" \
  --data_dir="$work/data" 2> "$work/server.log" &
server_pid=$!
port=
for _ in $(seq 1 600); do
  port=$(sed -n 's/.*gRPC on [0-9.]*:\([0-9]*\).*/\1/p' "$work/server.log" | head -n 1)
  grep -q " ready" "$work/server.log" && [ -n "$port" ] && break
  kill -0 "$server_pid" 2> /dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "soak: the server did not become ready" >&2; exit 1; }
echo "soak: ghostserve pid $server_pid on 127.0.0.1:$port; ${seconds}s of load, $concurrency" \
  "calls in flight, 20% cancelled, 10% with a 50 ms deadline; a sample every ${interval}s"

# Load rounds until the time is up; each round is 4 x concurrency calls.
load() {
  local end=$((SECONDS + seconds)) round=0
  while [ $SECONDS -lt $end ]; do
    round=$((round + 1))
    "$bench" serve --address "127.0.0.1:$port" --curve "$concurrency" --requests_per_stream 4 \
      --max_new_tokens "$max_new_tokens" --cancel_fraction 0.2 --deadline_fraction 0.1 \
      --json > "$work/round-$round.json" 2>> "$work/bench.log" || echo "round $round failed" \
      >> "$work/bench.log"
  done
  echo "$round" > "$work/rounds"
}
load &
load_pid=$!

sample() {
  local rss fds threads
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status")
  fds=$(ls "/proc/$server_pid/fd" | wc -l)
  echo "$SECONDS $rss $fds $threads" >> "$work/samples"
  awk -v t="$SECONDS" -v r="$rss" -v f="$fds" -v h="$threads" \
    'BEGIN { printf "%6ds  rss %8.1f MiB  fds %4d  threads %4d\n", t, r / 1024, f, h }'
}
while kill -0 "$load_pid" 2> /dev/null; do
  sample
  sleep "$interval"
done
wait "$load_pid"
sample

echo "soak: $(cat "$work/rounds") load rounds; calls by status over all rounds:"
cat "$work"/round-*.json | /usr/bin/python3 -c '
import json, sys, collections
text, codes, decoder, i = sys.stdin.read(), collections.Counter(), json.JSONDecoder(), 0
while i < len(text):
    while i < len(text) and text[i].isspace(): i += 1
    if i == len(text): break
    value, i = decoder.raw_decode(text, i)
    for level in value["levels"]: codes.update(level["codes"])
print("  " + ", ".join(f"{k}={v}" for k, v in sorted(codes.items())))'

verdict=$(awk '
  { t[NR] = $1; rss[NR] = $2; fds[NR] = $3; thr[NR] = $4 }
  END {
    third = int(NR / 3); if (third < 1) third = 1
    for (i = NR - 2 * third + 1; i <= NR - third; i++) { r0 += rss[i]; f0 += fds[i]; h0 += thr[i] }
    for (i = NR - third + 1; i <= NR; i++) { r1 += rss[i]; f1 += fds[i]; h1 += thr[i] }
    r0 /= third; r1 /= third; f0 /= third; f1 /= third; h0 /= third; h1 /= third
    rss_flat = (r1 - r0 <= 0.10 * r0 || r1 - r0 <= 16384)
    printf "rss %s (middle third %.1f MiB, last third %.1f MiB, %+.1f%%)\n", \
      rss_flat ? "FLAT" : "GROWING", r0 / 1024, r1 / 1024, 100 * (r1 - r0) / r0
    printf "fds %s (%.1f -> %.1f)\n", (f1 - f0 <= 2) ? "FLAT" : "GROWING", f0, f1
    printf "threads %s (%.1f -> %.1f)\n", (h1 - h0 <= 2) ? "FLAT" : "GROWING", h0, h1
  }' "$work/samples")
echo "$verdict" | sed 's/^/soak: /'

kill -TERM "$server_pid"
code=0
wait "$server_pid" || code=$?
server_pid=
echo "soak: ghostserve exited with $code on SIGTERM"
if [ "$code" -ne 0 ] || echo "$verdict" | grep -q GROWING; then exit 1; fi
