"""The held-out evaluation texts: English prose that no Ghost model is trained on.

    /usr/bin/python3 tools/train/heldout.py [--data-dir build/train-data] [--out DIR]

Reads the two Debian packages that fetch_data.sh unpacks under <data dir>/heldout/ and
writes, into --out (default <data dir>/heldout):
  kjv.txt            the King James Bible (1611, public domain), one verse a line with
                     its reference removed, printed by the package's own `bible` reader
                     (bible-kjv 4.38 over the compressed bible-kjv-text 4.38 data)
  austen-<book>.txt  Jane Austen's six novels (public domain) from r-cran-janeaustenr
                     1.0.0-1 (MIT packaging of the Project Gutenberg texts), one line of
                     the book a line
  kjv-sample.txt, austen-sample.txt
                     the evaluation samples: SAMPLE_BYTES of the KJV from Genesis 1:1 and
                     of Pride and Prejudice from its first chapter, cut at a line end
"""

import argparse
import gzip
import os
import re
import struct
import subprocess
import zlib

SAMPLE_BYTES = 65536
# r-cran-janeaustenr's lazy-load database holds one character vector per novel, stored in
# the order of its index (Rdata.rdx): the names sorted alphabetically.
AUSTEN_BOOKS = ("emma", "mansfieldpark", "northangerabbey", "persuasion", "prideprejudice", "sensesensibility")


def r_character_vector(raw):
    """The strings of an R XDR-serialized character vector (format version 2 or 3)."""
    if raw[:2] != b"X\n":
        raise ValueError("not an XDR R serialization")
    pos = 2
    version = struct.unpack(">i", raw[pos:pos + 4])[0]
    pos += 12  # version, writer R version, minimal reader R version
    if version == 3:
        n = struct.unpack(">i", raw[pos:pos + 4])[0]
        pos += 4 + n  # native encoding name
    flags, length = struct.unpack(">ii", raw[pos:pos + 8])
    if flags & 0xFF != 16:  # STRSXP
        raise ValueError(f"expected a character vector, found SEXP type {flags & 0xFF}")
    pos += 8
    strings = []
    for _ in range(length):
        flags, n = struct.unpack(">ii", raw[pos:pos + 8])
        pos += 8
        if n < 0:  # NA_character_
            strings.append("")
            continue
        strings.append(raw[pos:pos + n].decode("utf-8"))  # the package's strings are ASCII or UTF-8
        pos += n
    return strings


def austen_novels(package_dir):
    """{book: text} from the package's data/Rdata.rdb (zlib blobs, each after a 4-byte length)."""
    with open(os.path.join(package_dir, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"), "rb") as f:
        db = f.read()
    novels, pos = {}, 0
    for book in AUSTEN_BOOKS:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(db[pos + 4:])
        if len(raw) != struct.unpack(">I", db[pos:pos + 4])[0]:
            raise SystemExit(f"{book}: unexpected Rdata.rdb layout")
        novels[book] = "\n".join(r_character_vector(raw)) + "\n"
        pos = len(db) - len(inflater.unused_data)
    return novels


def kjv_text(reader_dir, text_dir):
    """The whole KJV, one verse a line, without the "Ge1:1 " references."""
    out = subprocess.run([os.path.join(reader_dir, "usr/bin/bible"), "-f", "-d",
                          os.path.join(text_dir, "usr/lib/bible.data"), "Gen1:1-Rev22:21"],
                         check=True, capture_output=True).stdout.decode("utf-8")
    verses = [re.sub(r"^\S+\d+:\d+ ", "", line) for line in out.splitlines() if line.strip()]
    return "\n".join(verses) + "\n"


def sample(text, start_marker):
    """SAMPLE_BYTES (or a little less: cut at the last full line) from start_marker on."""
    data = text[text.index(start_marker):].encode("utf-8")[:SAMPLE_BYTES]
    return data[:data.rindex(b"\n") + 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="build/train-data")
    ap.add_argument("--out")
    args = ap.parse_args()
    src = os.path.join(args.data_dir, "heldout")
    out = args.out or src
    os.makedirs(out, exist_ok=True)

    kjv = kjv_text(os.path.join(src, "bible-kjv"), os.path.join(src, "bible-kjv-text"))
    novels = austen_novels(os.path.join(src, "r-cran-janeaustenr"))
    files = {"kjv.txt": kjv.encode("utf-8"),
             "kjv-sample.txt": sample(kjv, "In the beginning"),
             "austen-sample.txt": sample(novels["prideprejudice"], "Chapter 1\n")}
    files.update({f"austen-{book}.txt": text.encode("utf-8") for book, text in novels.items()})
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(f"{os.path.join(out, name)}: {len(data)} bytes")


if __name__ == "__main__":
    main()
