"""The ghost-tiny corpus: 233 State of the Union addresses plus Moby-Dick (public domain).

Documents are read as raw UTF-8 bytes (the .txt files carry no header, only the text).
Train/validation split: the last 5% of the bytes of *every* document is held out for
validation (the split point is moved forward to the next UTF-8 character boundary), so
both sources appear in both sets. The training stream is every document's first 95%
followed by the EOS token, in a fixed order (SOTU files sorted by name, then Moby-Dick).
"""

import glob
import os

import numpy as np

from ghost_model import EOS_ID

VALIDATION_FRACTION = 0.05


def documents(data_dir):
    """[(name, bytes)] in a fixed order; data_dir is where fetch_data.sh unpacked the packages."""
    sotu = sorted(glob.glob(os.path.join(data_dir, "sotu", "package", "data", "*.txt")))
    moby = os.path.join(data_dir, "moby-dick", "package", "data", "data.txt")
    if len(sotu) != 233 or not os.path.exists(moby):
        raise SystemExit(f"corpus not found under {data_dir}: run tools/train/fetch_data.sh first")
    docs = []
    for path in sotu + [moby]:
        with open(path, "rb") as f:
            name = "moby-dick" if path == moby else "sotu/" + os.path.basename(path)
            docs.append((name, f.read()))
    return docs


def split_point(data):
    """Start of the held-out tail: 95% of the bytes, moved to a UTF-8 character boundary."""
    cut = int(len(data) * (1.0 - VALIDATION_FRACTION))
    while cut < len(data) and 0x80 <= data[cut] < 0xC0:
        cut += 1
    return cut


def train_stream(data_dir):
    """uint16 token ids: each document's training part followed by EOS."""
    parts = []
    for _, data in documents(data_dir):
        parts.append(np.frombuffer(data[: split_point(data)], dtype=np.uint8).astype(np.uint16))
        parts.append(np.array([EOS_ID], dtype=np.uint16))
    return np.concatenate(parts)


def validation_documents(data_dir):
    """[(name, bytes)]: the held-out tail of every document."""
    return [(name, data[split_point(data):]) for name, data in documents(data_dir)]
