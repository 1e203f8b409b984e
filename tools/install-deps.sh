#!/usr/bin/env bash
# Installs the Debian bookworm packages Ghost Serve needs, by purpose; does nothing when all the
# requested ones are present.
#   tools/install-deps.sh build          compile ghostserve, ghostctl, ghostbench and the tests
#   tools/install-deps.sh run            the shared libraries the binaries load at run time
#   tools/install-deps.sh test           what the test suite runs besides our binaries
#   tools/install-deps.sh build run test (several groups at once; no argument = all three)
# `make run` installs build + run, `make test` build + run + test; deploy/Dockerfile's build stage
# installs build only and its runtime stage run only, so a package in the wrong group shows up
# there as a failed build or a missing .so (deploy-test checks the image with ldd).
set -euo pipefail

# Compiler, build tools and the -dev packages CMake's find_package()/pkg-config look for.
BUILD_PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  libpcre2-dev libre2-dev nlohmann-json3-dev libutf8proc-dev libcpp-httplib-dev zlib1g-dev
)

# Run-time libraries of ghostserve and ghostctl (the sonames `ldd` lists, by Debian package).
RUN_PKGS=(
  libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libre2-9 libc-ares2 libssl3 zlib1g
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcivetweb1 libcpp-httplib0.11
  libpcre2-8-0 libutf8proc2 libstdc++6
)

# Tools the tests use: the PyTorch reference and Python client checks, clang and its runtime for
# the fuzzers, clang-format, promtool, openssl (TLS test certificates), iproute2 (ss), PyYAML
# (deploy/ manifest check).
TEST_PKGS=(
  clang libclang-rt-14-dev clang-format
  prometheus openssl iproute2
  python3 python3-torch python3-numpy python3-grpcio python3-protobuf python3-yaml
)
# Tests run npm packages under node: the reference tokenizers and chat templates
# (@huggingface/jinja), the independent GGUF parser (@huggingface/gguf) and the official openai
# SDK, all pinned by package-lock.json files and installed into the build tree by ctest
# fixtures; any node >= 18 with npm will do (Debian's packages, or NodeSource's nodejs, which
# bundles npm). Checked by command.
TEST_COMMANDS=(node npm)
TEST_COMMAND_PKGS=(nodejs npm)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build run test)

wanted=()
for group in "${groups[@]}"; do
  case "$group" in
    build) wanted+=("${BUILD_PKGS[@]}") ;;
    run) wanted+=("${RUN_PKGS[@]}") ;;
    test) wanted+=("${TEST_PKGS[@]}") ;;
    *)
      echo "install-deps: unknown group '$group' (expected build, run or test)" >&2
      exit 2
      ;;
  esac
done

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for group in "${groups[@]}"; do
  [ "$group" = test ] || continue
  for c in "${TEST_COMMANDS[@]}"; do
    command -v "$c" >/dev/null || { missing+=("${TEST_COMMAND_PKGS[@]}"); break; }
  done
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
