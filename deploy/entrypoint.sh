#!/bin/sh
# Starts ghostserve in the container as PID 1 (exec), so that the runtime's SIGTERM reaches it and
# in-flight streams drain for GHOST_GRACE_PERIOD_S before it exits 0. Extra arguments are passed
# on as ghostserve flags (a later flag wins over the defaults here).
set -eu

# Tokens from files (Docker/Compose secrets, Kubernetes secret volumes) rather than environment
# variables, which `inspect` shows. ghostserve itself reads GHOST_ADMIN_TOKEN / GHOST_AUTH_TOKEN.
if [ -n "${GHOST_ADMIN_TOKEN_FILE:-}" ]; then
  GHOST_ADMIN_TOKEN=$(cat "$GHOST_ADMIN_TOKEN_FILE")
  export GHOST_ADMIN_TOKEN
fi
if [ -n "${GHOST_AUTH_TOKEN_FILE:-}" ]; then
  GHOST_AUTH_TOKEN=$(cat "$GHOST_AUTH_TOKEN_FILE")
  export GHOST_AUTH_TOKEN
fi

# The OpenAI-compatible HTTP front end is passed its port only by a ghostserve that has it.
http_flag=""
if ghostserve --helpfull 2>&1 | grep -q -- '-http_port'; then
  http_flag="--http_port=${GHOST_HTTP_PORT}"
fi

# Bundled models (read-only, in the image) first, then the /models volume.
# shellcheck disable=SC2086  # http_flag is one flag or nothing
exec ghostserve \
  --host="${GHOST_HOST}" --port="${GHOST_PORT}" --metrics_port="${GHOST_METRICS_PORT}" \
  --model_root=/usr/share/ghost/models,/models --data_dir=/var/lib/ghost \
  --default_model="${GHOST_DEFAULT_MODEL}" --grace_period_s="${GHOST_GRACE_PERIOD_S}" \
  $http_flag "$@"
