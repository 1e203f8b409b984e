#!/usr/bin/env bash
# The deployment, for real (make deploy-test): builds deploy/Dockerfile with podman, runs the
# image with host networking on free ports and a named volume, and from the host checks health,
# list, generate, a compression job through the API, the dashboard's queries through Prometheus
# (Debian's package in a container), a SIGTERM drain with a stream in flight, and a restart on
# the same volume. Needs podman and the base images: ../shared/tools/container-setup.sh (or any
# podman that can pull debian:bookworm and debian:bookworm-slim). Takes long: the image build
# compiles the server. Not part of `make test`.
#   GHOST_DEPLOY_IMAGE   image tag to build and test (default localhost/ghostserve:deploy-test)
#   GHOST_DEPLOY_NO_BUILD=1  test an image built already
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

image=${GHOST_DEPLOY_IMAGE:-localhost/ghostserve:deploy-test}
prometheus_image=localhost/ghost-deploy-test-prometheus
run_id="ghost-deploy-test-$$"
volume="$run_id-data"
work=$(mktemp -d "/tmp/$run_id.XXXX")
admin_token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

log() { echo "deploy-test [$(($(date +%s) - started))s]: $*"; }
fail() {
  echo "deploy-test: FAILED: $*" >&2
  for c in "$run_id" "$run_id-2"; do
    podman logs "$c" >"$work/$c.log" 2>&1 && { echo "--- $c log (tail)"; tail -20 "$work/$c.log"; }
  done >&2
  exit 1
}
cleanup() {
  # One at a time: podman stops at the first name it does not know. -v: the /models volume.
  for c in "$run_id" "$run_id-2" "$run_id-prometheus" "$run_id-copy"; do
    podman rm -f -v -t 0 --ignore "$c" >/dev/null 2>&1 || true
  done
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

command -v podman >/dev/null || fail "podman missing: run ../shared/tools/container-setup.sh"
# Podman whose stderr is shown only when it fails: without systemd, podman 4.3 logs an error for
# every health check timer it cannot create or remove (the test runs the HEALTHCHECK itself).
podman_quiet() {
  podman "$@" 2>"$work/podman.err" || { cat "$work/podman.err" >&2; return 1; }
}
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- The images -------------------------------------------------------------------------------
if [ "${GHOST_DEPLOY_NO_BUILD:-0}" != 1 ]; then
  log "building $image (deploy/Dockerfile)"
  build_start=$(date +%s)
  podman build --network host --format docker -f deploy/Dockerfile -t "$image" . \
    >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail "image build"; }
  log "image built in $(($(date +%s) - build_start)) s"
fi
podman build --network host -f tools/deploy/prometheus.Dockerfile -t "$prometheus_image" \
  tools/deploy >"$work/prometheus-build.log" 2>&1 || { tail -20 "$work/prometheus-build.log"; fail "prometheus image"; }
image_bytes=$(podman image inspect --format '{{.Size}}' "$image")
log "image size: $((image_bytes / 1000000)) MB ($image_bytes bytes)"

# Every shared library the binaries need is in the runtime stage, and no compiler or Python is.
missing=$(podman run --rm --network host --no-healthcheck --entrypoint sh "$image" -c \
  'ldd /usr/local/bin/ghostserve /usr/local/bin/ghostctl | grep "not found" || true')
[ -z "$missing" ] || fail "libraries missing in the image: $missing"
if podman run --rm --network host --no-healthcheck --entrypoint sh "$image" -c \
  'command -v cc || command -v c++ || command -v cmake || command -v python3'; then
  fail "the runtime image holds a compiler or Python"
fi
log "ldd: every library present; no compiler or Python in the image"

# ghostctl from the image, run on the host (its libraries are the `run` group of install-deps).
podman_quiet create --name "$run_id-copy" "$image" >/dev/null
podman cp "$run_id-copy:/usr/local/bin/ghostctl" "$work/ghostctl" >/dev/null
podman_quiet rm -v "$run_id-copy" >/dev/null

grpc_port=$(free_port)
metrics_port=$(free_port)
http_port=$(free_port)
prometheus_port=$(free_port)
ctl() { "$work/ghostctl" --address="127.0.0.1:$grpc_port" "$@"; }

# Every model runs under a 6 MiB weight budget: ghost-small (0.3 MiB resident unit, six 1.8 MiB
# layers) keeps one layer resident and streams five through two slots, so the streaming panels
# of the dashboard get data from a real stream.
start_server() {  # name
  podman_quiet run -d --name "$1" --network host --stop-timeout 40 \
    -v "$volume:/var/lib/ghost" \
    -e GHOST_PORT="$grpc_port" -e GHOST_METRICS_PORT="$metrics_port" -e GHOST_HTTP_PORT="$http_port" \
    -e GHOST_ADMIN_TOKEN="$admin_token" "$image" --weight_budget_mb=6 >/dev/null
  for _ in $(seq 1 120); do
    if ctl health >/dev/null 2>&1; then return 0; fi
    [ "$(podman inspect --format '{{.State.Running}}' "$1")" = true ] || fail "$1 exited at start"
    sleep 1
  done
  fail "$1 not ready after 120 s"
}

# --- First start ------------------------------------------------------------------------------
podman volume create "$volume" >/dev/null
start_server "$run_id"
ctl health
podman healthcheck run "$run_id" || fail "the image's HEALTHCHECK reports unhealthy"
log "ready; HEALTHCHECK healthy"
uid=$(podman exec "$run_id" sh -c 'echo "$(cat /proc/1/comm) $(awk "/^Uid:/ {print \$2}" /proc/1/status)"')
[ "$uid" = "ghostserve 10001" ] || fail "PID 1 should be ghostserve as uid 10001, is: $uid"
log "ghostserve runs as PID 1, uid 10001 (ghost)"

# Prometheus scrapes the server every second from the start.
cat >"$work/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: ghostserve
    static_configs: [{targets: ["127.0.0.1:$metrics_port"]}]
EOF
chmod a+r "$work/prometheus.yml"
podman run -d --name "$run_id-prometheus" --network host \
  -v "$work/prometheus.yml:/etc/prometheus/prometheus.yml:ro" "$prometheus_image" \
  --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/tmp/prometheus \
  --web.listen-address="127.0.0.1:$prometheus_port" >/dev/null

ctl list | tee "$work/list.txt"
grep -q "^ghost-small  *READY" "$work/list.txt" || fail "ghost-small is not READY"
for i in 1 2 3 4; do
  ctl generate --prompt "Deployment test $i" --max_new_tokens 24 >"$work/generate.txt"
  [ -s "$work/generate.txt" ] || fail "generate returned no text"
done
log "generate: $(wc -c <"$work/generate.txt") bytes of text"
# One rejected request, so that the dashboard's error panel has a series.
if ctl generate --prompt x --temperature -1 >/dev/null 2>&1; then fail "temperature -1 was accepted"; fi

# Compression over the API: refused without the admin token, done with it.
if ctl compress --model ghost-small --output small-ternary 2>"$work/denied.txt"; then
  fail "compress without the admin token was accepted"
fi
grep -q UNAUTHENTICATED "$work/denied.txt" || fail "compress without token: $(cat "$work/denied.txt")"
log "compressing ghost-small -> small-ternary (admin token)"
ctl --token "$admin_token" compress --model ghost-small --output small-ternary --wait \
  >"$work/compress.txt" 2>&1 || { tail -5 "$work/compress.txt"; fail "compression job"; }
grep "bits/weight" "$work/compress.txt"
ctl --token "$admin_token" load small-ternary
ctl --model small-ternary generate --prompt "Compressed" --max_new_tokens 16 >"$work/generate2.txt"
[ -s "$work/generate2.txt" ] || fail "the compressed model generated no text"
log "compressed model serves"

# --- The dashboard's queries through Prometheus -----------------------------------------------
sleep 5
/usr/bin/python3 tools/deploy/dashboard_queries.py "http://127.0.0.1:$prometheus_port" \
  deploy/grafana/ghost-serve.json ||
  fail "dashboard queries"

# --- SIGTERM with a stream in flight ----------------------------------------------------------
ctl generate --prompt "Drain" --max_new_tokens 480 --temperature 0 \
  >"$work/stream.txt" 2>"$work/stream.err" &
stream_pid=$!
until [ -s "$work/stream.txt" ]; do
  kill -0 "$stream_pid" 2>/dev/null || fail "the stream ended before any text"
  sleep 0.05
done
bytes_at_stop=$(wc -c <"$work/stream.txt")
stop_start_ms=$(($(date +%s%N) / 1000000))
podman_quiet stop --time 40 "$run_id" >/dev/null
stop_ms=$(($(date +%s%N) / 1000000 - stop_start_ms))
wait "$stream_pid" || fail "the stream in flight failed: $(cat "$work/stream.err")"
grep -q "finish_reason=length.*completion_tokens=480" "$work/stream.err" ||
  fail "the stream did not finish: $(cat "$work/stream.err")"
final_bytes=$(wc -c <"$work/stream.txt")
[ "$final_bytes" -gt "$bytes_at_stop" ] ||
  fail "the stream had finished before SIGTERM ($bytes_at_stop bytes): nothing was drained"
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$run_id")
[ "$exit_code" = 0 ] || fail "ghostserve exited $exit_code after SIGTERM"
podman logs "$run_id" 2>&1 | grep -q "SIGTERM received, draining" || fail "no drain in the log"
log "SIGTERM: stream went on from $bytes_at_stop to $final_bytes bytes and finished; exit 0" \
  "after $stop_ms ms"

# --- Restart on the same volume ---------------------------------------------------------------
start_server "$run_id-2"
ctl list | tee "$work/list2.txt"
grep -q "^small-ternary " "$work/list2.txt" || fail "small-ternary lost across the restart"
ctl jobs | tee "$work/jobs.txt"
grep -q "succeeded.*ghost-small -> small-ternary" "$work/jobs.txt" || fail "the job was lost"
ctl --token "$admin_token" load small-ternary
ctl --model small-ternary generate --prompt "Again" --max_new_tokens 8 >"$work/generate3.txt"
[ -s "$work/generate3.txt" ] || fail "the compressed model generated no text after the restart"
podman_quiet stop --time 40 "$run_id-2" >/dev/null

log "PASSED; image $image: $((image_bytes / 1000000)) MB; wall time $(($(date +%s) - started)) s"
