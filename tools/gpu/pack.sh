#!/usr/bin/env bash
# Packs what tools/gpu/check.sh runs on a GPU machine that has CUDA, CMake and Python but none of
# our Debian libraries: the CUDA test binaries and ghostbench, stripped, plus every shared library
# they load that such a machine lacks (found with ldd), into one folder.
#
#   tools/gpu/pack.sh [BUILD_DIR] [BUNDLE_DIR]      (defaults: build, .gpu_bundle)
#
# Left out: glibc's own libraries and the loader (the machine has a glibc at least as new as
# Debian bookworm's), the NVIDIA driver (libcuda) and the CUDA toolkit's libraries (libcublas,
# libcublasLt: check.sh finds them on the machine). Fails when the bundle passes 48 MiB (see max_mib).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$repo/build}" && pwd)"
bundle="${2:-$repo/.gpu_bundle}"
# The device tool carries at most 64 MiB with the working tree (about 15 MiB): keep room.
max_mib=48

# What check.sh runs; each path relative to the build tree.
binaries=(
  tests/kernels/kernels_cuda_device_test
  tests/kernels/kernels_cuda_status_test
  tests/kernels/kernels_cuda_elementwise_test
  tests/kernels/kernels_cuda_matvec_test
  tests/kernels/kernels_cuda_attention_test
  tests/kernels/kernels_cuda_sparse_mlp_test
  tests/engine/cuda_backend_test
  tests/engine/backend_test
  bench/ghostbench
)

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
for binary in "${binaries[@]}"; do
  if [[ ! -x "$build/$binary" ]]; then
    echo "pack.sh: $build/$binary is missing; build it first (ninja -C $build ...)" >&2
    exit 1
  fi
  cp "$build/$binary" "$bundle/bin/"
  strip --strip-unneeded "$bundle/bin/$(basename "$binary")"
done

# The machine's own: glibc, the loader, the driver and the CUDA toolkit.
system_lib='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libresolv|libutil|libcuda\.so|libcublas|libcublasLt|libcudart|libnvidia)'
for binary in "$bundle"/bin/*; do
  # "name => /path (address)" lines; a library ldd cannot find here is an error here too.
  while read -r name _ path _; do
    [[ "$name" =~ $system_lib ]] && continue
    if [[ "$path" == "not" ]]; then
      echo "pack.sh: $binary needs $name, which ldd cannot find on this machine" >&2
      exit 1
    fi
    [[ -f "$path" && ! -e "$bundle/lib/$name" ]] || continue
    cp -L "$path" "$bundle/lib/$name"
    strip --strip-unneeded "$bundle/lib/$name" 2>/dev/null || true
  done < <(ldd "$binary" | grep '=>')
done

# Where the tests were built from: they read fixtures (models/ghost-tiny) through this path, and
# check.sh points it at the repository on the GPU machine.
echo "$repo" > "$bundle/source_dir"
git -C "$repo" rev-parse HEAD > "$bundle/commit" 2>/dev/null || echo unknown > "$bundle/commit"

mib=$(( $(du -sb "$bundle" | cut -f1) / 1048576 ))
echo "pack.sh: $bundle holds $(ls "$bundle/bin" | wc -l) binaries and $(ls "$bundle/lib" | wc -l) libraries, ${mib} MiB"
if (( mib > max_mib )); then
  echo "pack.sh: the bundle is over ${max_mib} MiB" >&2
  exit 1
fi
