"""Calibrated models: networks `segcam calibrate` (or the online learner, segcam.learn) tuned
to one person's room, kept by name.

Each is a normal segcam model file, `<models dir>/calibrated/NAME.pt`, whose provenance says
what it was calibrated on (source, frame size, date, frames, IoU against the teacher). The
files come and go while segcam runs (a calibration is kept, a model removed, another data
folder), so the registry asks this module to `sync` before every answer: each file here is
registered under its bare NAME, and a name whose file is gone is dropped.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from segcam.errors import SettingsError
from segcam.models import modelfile, registry

log = logging.getLogger(__name__)

FOLDER = "calibrated"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


@dataclass(frozen=True)
class Entry:
    """One calibrated model file, as read when it was last seen to change."""

    name: str
    path: Path
    signature: tuple[int, int]  # (mtime_ns, size): read again only when this changes
    spec: registry.ModelSpec
    calibration: dict  # the provenance's "calibration" record (source, frame_size, ...)


_entries: dict[str, Entry] = {}  # name -> entry registered by this module
_unreadable: dict[tuple[str, int, int], str] = {}  # files that are not model files, said once
_lock = threading.Lock()


def folder() -> Path:
    from segcam import paths

    return paths.models_dir() / FOLDER


def path_for(name: str) -> Path:
    return folder() / f"{name}.pt"


def source_key(source: str | int) -> str:
    """How a source is recorded: a camera by its index ("0"), a file by its absolute path."""
    text = str(source).strip()
    return str(int(text)) if text.isdigit() else str(Path(text).expanduser().resolve())


def check_name(name: str) -> str:
    """`name`, when it can name a calibrated model; else one sentence on why not."""
    if not NAME_PATTERN.fullmatch(name or "") or modelfile.looks_like_model_file(name):
        raise SettingsError(f"{name!r} cannot name a calibrated model: use up to 40 letters, digits, '-', '_' "
                            "or '.', starting with a letter or digit, and not ending in .pt.")
    if name == "auto":
        raise SettingsError("'auto' is the automatic model choice; give the calibrated model another name.")
    if name in registry.names() and name not in _entries:  # names() loads every family first
        raise SettingsError(f"{name!r} is the name of a built-in model; give the calibrated model another name.")
    return name


# -- the registry's view ----------------------------------------------------------------------

def sync() -> None:
    """Register every calibrated model file in the folder and drop those that are gone."""
    with _lock:
        found = {}
        directory = folder()
        try:
            paths = sorted(p for p in directory.iterdir() if p.suffix == ".pt" and not p.name.startswith("."))
        except OSError:  # no folder yet (or an unreadable one): no calibrated models
            paths = []
        for path in paths:
            entry = _entry_for(path)
            if entry is not None:
                found[entry.name] = entry
        for name in set(_entries) - set(found):
            registry.unregister(name)
            del _entries[name]
        for name, entry in found.items():
            if _entries.get(name) is not entry:
                _entries[name] = entry
                registry.register(entry.spec)


def _entry_for(path: Path) -> Entry | None:
    name = path.stem
    try:
        stat = path.stat()
    except OSError:
        return None
    signature = (stat.st_mtime_ns, stat.st_size)
    known = _entries.get(name)
    if known is not None and known.path == path and known.signature == signature:
        return known
    if (str(path), *signature) in _unreadable or not NAME_PATTERN.fullmatch(name):
        return None
    if registry.registered(name) is not None and name not in _entries:
        log.warning("%s is not used: %r is a built-in model's name", path, name)
        _unreadable[(str(path), *signature)] = "built-in name"
        return None
    try:
        info = modelfile.read(path)
    except SettingsError as e:
        log.warning("%s is not used: %s", path, e)
        _unreadable[(str(path), *signature)] = str(e)
        return None
    calibration = dict(info.provenance.get("calibration") or {})
    return Entry(name, path, signature, _spec(name, path, info, calibration), calibration)


def _spec(name: str, path: Path, info: modelfile.ModelFile, calibration: dict) -> registry.ModelSpec:
    metrics = info.provenance.get("metrics") or {}
    figures = ""
    if isinstance(metrics.get("stock_iou"), float) and isinstance(metrics.get("calibrated_iou"), float):
        figures = f"; IoU against {calibration.get('teacher', 'the teacher')} on held-back frames " \
                  f"{metrics['stock_iou']:.3f} stock, {metrics['calibrated_iou']:.3f} calibrated"
    size = calibration.get("frame_size") or ["?", "?"]
    where = calibration.get("source", "?")
    where = f"camera {where}" if str(where).isdigit() else Path(str(where)).name
    date = str(calibration.get("date", ""))[:10]
    return registry.ModelSpec(
        name=name,
        input_size=info.input_size,
        build=lambda download: info.build(),
        weights=modelfile.FileWeights(path),
        description=f"{'learned while segcam ran' if calibration.get('learned') else 'calibrated'} {date} for "
                    f"{where} at {size[0]}x{size[1]}, from {calibration.get('base', info.architecture)}{figures}",
        license=str(info.provenance.get("license", "as its base model's")),
        mean=info.mean,
        std=info.std,
        quality=1,
    )


def entries() -> list[Entry]:
    registry.names()  # loads the families (the built-in names come first), then syncs
    return sorted(_entries.values(), key=lambda entry: entry.name)


def names() -> list[str]:
    return [entry.name for entry in entries()]


def calibrated_for(source: str | int, width: int, height: int) -> str | None:
    """The newest calibrated model made for this source at this frame size, or None.

    For `auto`: a model calibrated on camera 0 at 1280x720 is the one for camera 0 at 1280x720.
    """
    key = source_key(source)
    matching = [entry for entry in entries() if str(entry.calibration.get("source")) == key
                and list(entry.calibration.get("frame_size") or []) == [int(width), int(height)]]
    if not matching:
        return None
    return max(matching, key=lambda entry: (str(entry.calibration.get("date", "")), entry.name)).name


# -- keeping and removing -----------------------------------------------------------------------

def forget_exports(name: str) -> None:
    """Delete the ONNX exports made from an earlier file of this name: they would run old weights."""
    from segcam.models import derived, install

    for cache in install.model_derived(name):
        try:
            derived.discard(cache.path)
        except OSError as e:  # in use on Windows: it is made again once it can go
            log.warning("cannot delete %s: %s", cache.path, e)


def remove(name: str) -> list[str]:
    """Delete calibrated model `name` (its file and its ONNX exports); lines saying what went."""
    registry.names()  # loads the families, then syncs
    entry = _entries.get(name)
    if entry is None:
        if registry.registered(name) is not None:
            raise SettingsError(f"{name} is a built-in model; `segcam models remove` removes calibrated models "
                                "(made by `segcam calibrate`).")
        known = ", ".join(_entries) or "none"
        raise SettingsError(f"There is no calibrated model named {name!r} (calibrated models here: {known}).")
    forget_exports(name)  # while the name is still registered
    try:
        entry.path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise SettingsError(f"Cannot delete {entry.path}: {e.strerror or e}.") from e
    sync()
    return [f"Removed calibrated model {name} ({entry.path})."]


registry.sync_before_answering(sync)
