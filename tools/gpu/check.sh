#!/usr/bin/env bash
# The GPU machine check, one script: runs the CUDA tests and `ghostbench gpu` from the bundle
# that tools/gpu/pack.sh made, and writes into OUTDIR
#   summary.md       a table: each test binary's passed / failed / skipped counts, the benchmark
#   tests.json       every test's outcome (and skip reason), from gtest's JSON
#   gpu_bench.json   ghostbench gpu --json
#   log.txt          everything the binaries printed
# Without a device every test skips and the benchmark reports "no device": the script says so
# and exits 0. Exit status 1 when a test failed or a binary could not run.
#
#   tools/gpu/check.sh OUTDIR [BUNDLE_DIR]      (bundle default: .gpu_bundle in the repository)
set -uo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: tools/gpu/check.sh OUTDIR [BUNDLE_DIR]" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$1"
bundle="$(cd "${2:-$repo/.gpu_bundle}" && pwd)" || { echo "check.sh: no bundle; run tools/gpu/pack.sh" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
log="$out/log.txt"
: > "$log"
per_test_timeout=${GHOST_GPU_TEST_TIMEOUT:-150}

# The toolkit's cuBLAS: /usr/local/cuda, else the pip wheel PyTorch brings.
cuda_libs=""
for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [[ -e "$dir/libcublas.so.13" ]] && cuda_libs="$dir" && break
done
if [[ -z "$cuda_libs" ]] && command -v python3 >/dev/null; then
  cuda_libs="$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null || true)"
fi
export LD_LIBRARY_PATH="$bundle/lib${cuda_libs:+:$cuda_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# The tests read fixtures through the path they were built in; point it at this checkout.
source_dir="$(cat "$bundle/source_dir")"
if [[ "$source_dir" != "$repo" && ! -e "$source_dir" ]]; then
  mkdir -p "$(dirname "$source_dir")" 2>/dev/null && ln -s "$repo" "$source_dir" 2>/dev/null ||
    echo "check.sh: cannot link $source_dir -> $repo; tests reading models/ may fail" | tee -a "$log"
fi

{
  echo "# bundle commit $(cat "$bundle/commit"), $(date -u +%FT%TZ)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  else
    echo "nvidia-smi: not found"
  fi
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
} >> "$log"

status=0
missing="$(for b in "$bundle"/bin/*; do ldd "$b" | grep 'not found'; done | sort -u)"
if [[ -n "$missing" ]]; then
  echo "check.sh: libraries not found: $missing" | tee -a "$log"
  status=1
fi

rows=()
for binary in "$bundle"/bin/*; do
  name="$(basename "$binary")"
  [[ "$name" == ghostbench ]] && continue
  echo "=== $name" >> "$log"
  timeout "$per_test_timeout" "$binary" --gtest_output="json:$out/.gtest_$name.json" >> "$log" 2>&1
  rc=$?
  (( rc != 0 )) && status=1 && echo "=== $name exited $rc" >> "$log"
  rows+=("$name $rc")
done

echo "=== ghostbench gpu" >> "$log"
timeout 300 "$bundle/bin/ghostbench" gpu --json > "$out/gpu_bench.json" 2>> "$log"
bench_rc=$?
(( bench_rc != 0 )) && status=1

python3 - "$out" "$bench_rc" "${rows[@]}" <<'PY'
import glob, json, os, sys
out, bench_rc, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
tests, lines = [], ["| binary | exit | passed | failed | skipped |", "|---|---|---|---|---|"]
for row in rows:
    name, rc = row.rsplit(" ", 1)
    path = os.path.join(out, f".gtest_{name}.json")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    if os.path.exists(path):
        for suite in json.load(open(path)).get("testsuites", []):
            for case in suite.get("testsuite", []):
                failed = bool(case.get("failures"))
                skipped = case.get("result") == "SKIPPED"
                kind = "failed" if failed else "skipped" if skipped else "passed"
                counts[kind] += 1
                tests.append({"binary": name, "test": f'{suite["name"]}.{case["name"]}',
                              "outcome": kind,
                              "messages": [f["failure"] for f in case.get("failures", [])]
                                          + [s.get("message", "") for s in case.get("skipped", [])]})
        os.remove(path)
    lines.append(f"| {name} | {rc} | {counts['passed']} | {counts['failed']} | {counts['skipped']} |")
json.dump(tests, open(os.path.join(out, "tests.json"), "w"), indent=1)
summary = ["# GPU check", ""] + lines + [""]
try:
    bench = json.load(open(os.path.join(out, "gpu_bench.json")))
except Exception as error:
    bench = {"error": f"ghostbench gpu exited {bench_rc}: {error}"}
if "skipped" in bench or "error" in bench:
    summary.append(f"ghostbench gpu: {bench.get('skipped') or bench.get('error')}")
else:
    summary.append(f"D2D {bench['d2d_gbps']:.0f} GB/s, pinned H2D {bench['h2d_gbps']:.1f} GB/s "
                   f"on {bench['device']}")
    summary += ["", "| kernel | rows x cols | batch | GB/s | / D2D |", "|---|---|---|---|---|"]
    for r in bench["matvec"]:
        summary.append(f"| {r['format']} | {r['rows']}x{r['cols']} | {r['batch']} | "
                       f"{r['gbps']:.0f} | {r['ratio_to_d2d']:.2f} |")
    summary += ["", "| decode | budget | batch | tokens/s | GB/s | / D2D | stream GB/s | / H2D "
                "| overlap (timing) | overlap (streamer) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in bench["decode"]:
        stream = "| | | | |"
        if "stream_gbps" in r:
            timing = r.get("overlap_ratio_timing")
            stream = (f"| {r['stream_gbps']:.1f} | {r['stream_ratio_to_h2d']:.2f} | "
                      f"{'-' if timing is None else f'{timing:.2f}'}"
                      f"{' (copy-bound)' if r.get('copy_bound') else ''} | "
                      f"{r['overlap_ratio']:.2f} |")
        summary.append(f"| {r['format']} | {r['weight_budget_percent']}% | {r['batch']} | "
                       f"{r['tokens_per_second']:.1f} | {r['gbps']:.0f} | "
                       f"{r['ratio_to_d2d']:.2f} {stream}")
if "skipped" in bench:
    summary += ["", "no device: the CUDA kernel and model tests skipped (reasons in tests.json); "
                "nothing on the GPU side was verified"]
open(os.path.join(out, "summary.md"), "w").write("\n".join(summary) + "\n")
print("\n".join(summary))
PY
exit $status
