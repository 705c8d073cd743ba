"""Writing files so that a reader only ever sees the old file or the whole new one.

`replacing(path)` hands out a temporary name beside `path`; when the block succeeds the
file there is flushed to disk and renamed over `path` in one step, and when anything fails
(an exception, Ctrl-C, a full disk) the temporary file is removed. Also the sha256 of a
file, which the weights and the derived files are checked with.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on failure it is gone."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a plain name rather than mkstemp (which makes 0600 files): the file gets the user's umask;
    # the leading dot keeps it out of globs such as *.onnx while it is being written
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        yield tmp
        _flush_to_disk(tmp)  # a crash just after the rename must not leave an empty file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _flush_to_disk(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
