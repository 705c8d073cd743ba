"""The one settings object: every user-facing choice, with load/save to the config dir."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from segcam import fileio, paths
from segcam.errors import SettingsError

log = logging.getLogger(__name__)

EFFECTS = ("none", "blur", "image", "video", "splash", "solid")
DEVICES = ("auto", "cpu", "cuda", "mps")
# for a network whose input follows the frame (RVM): how large that input is
QUALITIES = ("fast", "balanced", "best")
GREEN = (0, 177, 64)  # chroma-key green that OBS's default key colour matches


@dataclass
class Settings:
    # where frames come from: a camera index ("0") or a video / image-sequence path
    source: str = "0"
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    loop: bool = False  # loop a video-file source instead of stopping at its end

    effect: str = "blur"
    background: str = ""  # image for the "image" effect
    background_video: str = ""  # video for the "video" effect
    color: tuple[int, int, int] = GREEN  # RGB, for the "solid" effect
    blur_strength: float = 0.5  # 0..1
    splash_strength: float = 1.0  # 0 = background keeps its colour, 1 = fully grey
    edge_softness: float = 0.3  # 0..1, feathering of the mask edge
    smoothing: float = 0.5  # 0..1, temporal smoothing of the mask
    threshold: float | None = None  # hard cut at this probability; None keeps the mask soft
    mirror: bool = False  # mirror the output

    model: str = "auto"  # a registry name, a model file, or "auto" (by frame shape)
    device: str = "auto"
    quality: str = "balanced"  # fast, balanced or best: the input size of networks that follow the frame

    output: str = "vcam"  # "vcam", a video file path, or "none"
    vcam_backend: str | None = None
    vcam_device: str | None = None
    max_frames: int | None = None

    # app-only state, kept here so there is one place that persists
    user_backgrounds: list[str] = field(default_factory=list)
    preview_mirror: bool = True  # the preview only; people expect a mirror image of themselves
    window_geometry: str = ""

    def validate(self) -> "Settings":
        """Raise SettingsError for a value no stage can use."""
        if self.effect not in EFFECTS:
            raise SettingsError(f"Unknown effect {self.effect!r}; choose one of {', '.join(EFFECTS)}.")
        if self.device not in DEVICES:
            raise SettingsError(f"Unknown device {self.device!r}; choose one of {', '.join(DEVICES)}.")
        if self.quality not in QUALITIES:
            raise SettingsError(f"Unknown quality {self.quality!r}; choose one of {', '.join(QUALITIES)}.")
        if self.width <= 0 or self.height <= 0:
            raise SettingsError(f"Frame size must be positive, got {self.width}x{self.height}.")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise SettingsError(f"Frame rate must be positive, got {self.fps}.")
        if len(self.color) != 3 or not all(0 <= int(c) <= 255 for c in self.color):
            raise SettingsError(f"Colour must be three values 0-255, got {self.color}.")
        for name in ("blur_strength", "splash_strength", "edge_softness", "smoothing"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:  # NaN fails this too
                raise SettingsError(f"{name.replace('_', ' ')} must be between 0 and 1, got {value}.")
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise SettingsError(f"Threshold must be between 0 and 1, got {self.threshold}.")
        return self

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    # -- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["color"] = list(self.color)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> tuple["Settings", list[str]]:
        """Build settings from a dict, keeping defaults for unknown or ill-typed keys.

        Returns the settings and a list of warnings, one per value that was dropped.
        """
        warnings: list[str] = []
        defaults = cls()
        values = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            default = getattr(defaults, f.name)
            try:
                values[f.name] = _coerce(value, default, f.name)
            except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e400)
                warnings.append(f"Ignored setting {f.name}={_shorten(value)}: wrong type.")
        settings = cls(**values)
        try:
            settings.validate()
        except SettingsError as exc:
            warnings.append(f"Ignored saved settings that were out of range ({exc}).")
            keep = {k: values[k] for k in ("user_backgrounds", "window_geometry") if k in values}
            settings = cls(**keep)
        return settings, warnings


def _shorten(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _coerce(value, default, name):
    if name == "color":
        color = tuple(int(c) for c in value)
        if len(color) != 3:
            raise ValueError(name)
        return color
    if name == "user_backgrounds":
        if not isinstance(value, list):
            raise TypeError(name)
        return [str(v) for v in value]
    if name in ("threshold",):
        return None if value is None else float(value)
    if name in ("vcam_backend", "vcam_device"):
        return None if value is None else str(value)
    if name == "max_frames":
        return None if value is None else int(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(name)
        return value
    if isinstance(default, (int, float, str)):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(name)
        return type(default)(value)
    return value


def config_path() -> Path:
    """Where the app's settings live: settings.json in segcam's config folder (see segcam.paths)."""
    return paths.config_dir() / "settings.json"


def _read_object(path: Path) -> dict:
    """The JSON object in a settings file; ValueError when it holds anything else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:  # "[[[[…" nested deeper than the parser goes
        raise ValueError("nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _free_backup_name(path: Path) -> Path:
    """settings.json.broken, or .broken.1, .broken.2 … when an earlier broken file is kept there already."""
    backup = path.with_name(path.name + ".broken")
    number = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.broken.{number}")
        number += 1
    return backup


def _set_aside(path: Path) -> str:
    """Move an unreadable settings file out of the way; where it went, as words for a warning."""
    try:
        backup = _free_backup_name(path)
        path.replace(backup)
    except OSError:
        return ""
    return f" (kept as {backup})"


def keep_broken(path: Path | None = None) -> str | None:
    """Before writing settings: a file there that is not settings is moved aside, never overwritten.

    Returns the warning to show (it is logged too), or None when the file is missing or reads
    as settings.
    """
    path = path or config_path()
    if not path.exists():
        return None
    try:
        _read_object(path)
    except (OSError, ValueError) as exc:
        warning = f"Settings file {path} had been replaced by something unreadable ({exc}){_set_aside(path)}."
        log.warning("%s", warning)
        return warning
    return None


def load(path: Path | None = None) -> tuple[Settings, list[str]]:
    """Load saved settings. A missing file gives defaults; a broken one gives defaults and a warning.

    A broken file is kept aside as settings.json.broken so nothing the user made is lost, and
    the warning goes to the log (stderr) as well as to the caller.
    """
    path = path or config_path()
    if not path.exists():
        return Settings(), []
    try:
        data = _read_object(path)
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        warning = f"Settings file {path} could not be read ({exc}); using defaults{_set_aside(path)}."
        log.warning("%s", warning)
        return Settings(), [warning]
    settings, warnings = Settings.from_dict(data)
    for warning in warnings:
        log.warning("%s", warning)
    return settings, warnings


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write settings atomically, so a crash mid-write never leaves a broken file."""
    return fileio.write_text(path or config_path(), json.dumps(settings.to_dict(), indent=2))
