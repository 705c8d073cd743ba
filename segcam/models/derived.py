"""Derived files: what segcam makes from a verified source and can always make again.

The torch state dict converted from a MediaPipe .tflite, a network's ONNX export,
torchvision's downloaded weights: each is written whole (`fileio.replacing`), and then the
sha256 of what was written is recorded beside it in `<file>.sha256` (sha256sum's format, so
`sha256sum -c` checks it too). A file whose record does not match is damaged. A file without
a record (made by an older segcam, or put there by hand) is accepted when it passes its
kind's load check, and recorded then. A damaged file is deleted and made again from its
source; `ensure` does both steps for any kind of file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segcam import fileio

log = logging.getLogger(__name__)

LoadCheck = Callable[[Path], object]  # raises when the file cannot be used
Make = Callable[[Path], object]  # writes the file at the path it is given

OK, MISSING, DAMAGED = "ok", "missing", "damaged"


@dataclass(frozen=True)
class Status:
    path: Path
    state: str  # OK, MISSING or DAMAGED
    detail: str = ""  # why it is damaged

    @property
    def ok(self) -> bool:
        return self.state == OK


@dataclass(frozen=True)
class Derived:
    """One derived file and how to tell, without a record, whether it can be used."""

    path: Path
    load_check: LoadCheck | None = None

    def check(self) -> Status:
        return check(self.path, self.load_check)


def record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def write(path: Path, make: Make) -> Path:
    """make(tmp) writes the file; it replaces `path` whole, then its sha256 is recorded."""
    record_path(path).unlink(missing_ok=True)  # never a new file under the old file's record
    with fileio.replacing(path) as tmp:
        make(tmp)
    record(path)
    return path


def record(path: Path) -> None:
    """Record the sha256 of `path` as it is now (after it is complete, never before)."""
    fileio.write_text(record_path(path), f"{fileio.sha256_of(path)}  {path.name}\n")


def check(path: Path, load_check: LoadCheck | None = None) -> Status:
    """Whether `path` is there and whole. An unrecorded file that passes `load_check` is recorded."""
    if not path.is_file():
        return Status(path, MISSING)
    recorded = _recorded_sha256(path)
    try:
        if recorded is not None:
            if fileio.sha256_of(path) == recorded:
                return Status(path, OK)
            return Status(path, DAMAGED, "its sha256 differs from the one recorded when it was written")
    except OSError as e:
        return Status(path, DAMAGED, f"it cannot be read ({e.strerror or e})")
    if load_check is None:
        return Status(path, DAMAGED, "no sha256 was recorded for it")
    try:
        load_check(path)
    except Exception as e:  # noqa: BLE001 - every loader has its own errors; all mean "unusable"
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return Status(path, DAMAGED, f"it does not load ({first_line[:160]})")
    try:
        record(path)
    except OSError as e:  # a read-only folder: the file is still good, just checked again next time
        log.info("cannot record the sha256 of %s: %s", path, e)
    return Status(path, OK)


def discard(path: Path) -> None:
    """Delete a derived file and its record."""
    path.unlink(missing_ok=True)
    record_path(path).unlink(missing_ok=True)


def ensure(path: Path, make: Make, load_check: LoadCheck | None = None) -> Path:
    """`path`, verified; made (again, when it is damaged) by make(tmp) when it does not verify."""
    status = check(path, load_check)
    if status.ok:
        return path
    if status.state == DAMAGED:
        log.warning("%s is damaged (%s); making it again", path, status.detail)
    discard(path)
    return write(path, make)


def _recorded_sha256(path: Path) -> str | None:
    try:
        text = record_path(path).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None
    digest = text[0].lower() if text else ""
    # a damaged record is no record: the file then has to pass its load check
    return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


# -- load checks for the kinds of files segcam derives ----------------------------------------

def loads_as_state_dict(path: Path) -> None:
    """A torch file holding a dict of tensors (a state dict), loadable without running code."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("it holds no state dict")


def loads_as_onnx(path: Path) -> None:
    import onnx

    onnx.checker.check_model(str(path))
