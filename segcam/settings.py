"""Every user-facing choice, in sections by what reads it and how long it lives, with load/save.

    source  where frames come from              read by the capture stage
    model   which network runs, where           read by the segmenter (through the processor)
    mask    how the network's mask is refined,  read by the refiner and the privacy guard
            and whether it is trusted           (segcam.guard, in the processor)
    effect  what replaces the background        read by the compositor (segcam.effects)
    output  where frames go, for one run        read by the sinks (segcam.sinks.build)
    app     the window's own state              read by the app only

Each setting also has one flat name, its key (`FIELDS`): "source", "effect", "blur_strength",
"output"... Keys are what `Settings(...)` and `replace(...)` take, what an error's `setting`
names, and what the command line and the app map to their flags and widgets. Sections are
immutable; change settings with `settings.replace(blur_strength=0.8, effect="blur")`.

The settings file is JSON by section (version 2); the flat files of earlier versions are read
and migrated on load.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from segcam import fileio, paths
from segcam.errors import SettingsError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")
# for a network whose input follows the frame (RVM): how large that input is
QUALITIES = ("fast", "balanced", "best")
GREEN = (0, 177, 64)  # chroma-key green that OBS's default key colour matches
FILE_VERSION = 2
# more checks of a loaded section, by section name, from the stage that owns a value in it
Checks = Mapping[str, Callable[[Any], None]]


def _setting(default, key: str | None = None, **facts) -> Any:
    """A section field with its flat key (when it differs from the field's name) and facts for
    the front ends: label and hint (the app's words), help (the command line's, when not the
    hint), kind ("fraction", "threshold", "color", "choice" with `choices`...), flag."""
    factory = {"default_factory": default} if callable(default) else {"default": default}
    return field(metadata={"key": key, **facts}, **factory)


@dataclass(frozen=True)
class SourceSettings:
    # a camera index ("0") or a video / image-sequence path
    name: str = _setting("0", key="source", flag="--source")
    width: int = _setting(1280, flag="--size")
    height: int = _setting(720, flag="--size")
    fps: float = _setting(30.0)
    loop: bool = _setting(False)  # loop a video-file source instead of stopping at its end

    def validate(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise SettingsError(f"Frame size must be positive, got {self.width}x{self.height}.", setting="width")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise SettingsError(f"Frame rate must be positive, got {self.fps}.", setting="fps")


@dataclass(frozen=True)
class ModelSettings:
    name: str = _setting("auto", key="model")  # a registry name, a model file, or "auto" (by frame shape)
    device: str = _setting("auto")
    quality: str = _setting("balanced")  # fast, balanced or best: the input size of networks that follow the frame

    def validate(self) -> None:
        for key, value, choices in (("device", self.device, DEVICES), ("quality", self.quality, QUALITIES)):
            if value not in choices:
                raise SettingsError(f"Unknown {key} {value!r}; choose one of {', '.join(choices)}.", setting=key)


@dataclass(frozen=True)
class MaskSettings:
    edge_softness: float = _setting(0.3, kind="fraction", label="Edge softness",
                                    hint="Feathering of the edge around you: more hides a ragged outline")
    # segcam.edges: the alpha follows the frame's edges and stays off the room (no dark fringe)
    edge_refine: bool = _setting(True, label="Fit edge to the picture", flag="--no-edge-refine",
                                 hint="Fit the outline to the picture's edges, so no ring of the room shows around you",
                                 help="lift the mask to the frame plainly: by default its outline follows the frame's "
                                      "edges, so no ring of the room shows around the person")
    smoothing: float = _setting(0.5, kind="fraction", label="Smoothing",
                                hint="Steadies the outline between frames: more is calmer, less follows fast moves")
    # a hard cut at this probability; None keeps the mask soft
    threshold: float | None = _setting(None, kind="threshold", label="Threshold",
                                       hint="Cut the mask hard at this probability (0 to 1, exclusive) instead of "
                                            "keeping its edge soft")
    # the privacy guard (segcam.guard): the room blurred beyond recognition while the mask is untrusted
    guard: bool = _setting(True, label="Privacy guard", flag="--no-guard",
                           hint="While the mask cannot be trusted (at the start, after a switch, when it collapses "
                                "or the network fails), send the room blurred beyond recognition",
                           help="turn the privacy guard off: by default the room is sent blurred beyond recognition "
                                "while the mask cannot be trusted (at the start, after a switch, when it collapses "
                                "or the network fails)")

    def validate(self) -> None:
        _check_values(self)


@dataclass(frozen=True)
class EffectSettings:
    name: str = _setting("blur", key="effect")  # a name in segcam.effects' registry, which checks it
    background: str = _setting("", kind="image", flag="--background")  # picture for the "image" effect
    background_video: str = _setting("", kind="video", flag="--background")  # video for the "video" effect
    color: tuple[int, int, int] = _setting(GREEN, kind="color", label="Colour",  # RGB, for the "solid" effect
                                           hint="colour of the solid effect; OBS's chroma-key green by default")
    blur_strength: float = _setting(0.5, kind="fraction", label="Blur strength",
                                    hint="How strongly the room behind you is blurred")
    blur_style: str = _setting("gaussian", kind="choice", choices=(("gaussian", "Soft blur"), ("lens", "Lens blur")),
                               label="Blur style", hint="Soft: an even blur. Lens: as an open camera lens blurs, "
                                                        "with lights as round discs",
                               help="gaussian (an even blur) or lens (as an open camera lens blurs: lights become "
                                    "round discs)")
    splash_strength: float = _setting(1.0, kind="fraction", label="Grey amount",
                                      hint="0%: the room keeps its colours; 100%: fully grey",
                                      help="how grey the room turns: 0 keeps its colours, 1 is fully grey")
    # stages (segcam.effects: only_me, low_light, framing), whichever effect is chosen
    only_me: bool = _setting(False, label="Only me",
                             hint="Show only the main person: anyone else in view becomes part of the room",
                             help="show only the main person (the largest, nearest the centre, then followed); "
                                  "anyone else in view becomes part of the room")
    low_light: bool = _setting(False, label="Brighten a dim room",
                               hint="Lift a dim picture, judged on you and eased over time so it does not pump",
                               help="brighten a dim picture, judged on the person, before the effect")
    frame_me: bool = _setting(False, label="Keep me centred",
                              hint="Pan and zoom gently to keep your head and shoulders in the picture",
                              help="pan and zoom to keep the person's head and shoulders in the picture "
                                   "(the output keeps its size)")
    mirror: bool = _setting(False, label="Mirror what is sent", help="mirror what is sent",  # mirror the output
                            hint="Meeting apps already mirror your self-view; leave this off so others see writing "
                                 "the right way round")

    def validate(self) -> None:
        # the effect's name is a plain string here: the effects own their names and check it
        # (segcam.effects.check), so that settings never imports the effects that read it
        if len(self.color) != 3 or not all(0 <= int(c) <= 255 for c in self.color):
            raise SettingsError(f"Colour must be three values 0-255, got {self.color}.", setting="color")
        _check_values(self)


@dataclass(frozen=True)
class OutputSettings:
    target: str = _setting("vcam", key="output")  # "vcam", a video file path, or "none"
    vcam_backend: str | None = _setting(None)
    vcam_device: str | None = _setting(None)
    max_frames: int | None = _setting(None)

    def validate(self) -> None:
        if self.max_frames is not None and self.max_frames < 1:
            raise SettingsError(f"The frame count must be 1 or more, got {self.max_frames}.", setting="max_frames")

    @property
    def is_file(self) -> bool:
        return self.target not in ("vcam", "none")


@dataclass(frozen=True)
class AppSettings:
    """The window's own state, kept here so there is one place that persists."""

    user_backgrounds: list[str] = _setting(list)
    preview_mirror: bool = _setting(True)  # the preview only; people expect a mirror image of themselves
    window_geometry: str = _setting("")
    recent_folders: dict[str, str] = _setting(dict)  # per kind of file dialog, the folder last used
    # "Learn my room" (segcam.learn); None until the user chooses: on wherever RVM is installed
    learn_room: bool | None = _setting(None)

    def validate(self) -> None:
        pass


SECTIONS: dict[str, type] = {"source": SourceSettings, "model": ModelSettings, "mask": MaskSettings,
                             "effect": EffectSettings, "output": OutputSettings, "app": AppSettings}


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("key") or f.name


# flat key -> (section, field name); keys are unique across sections
FIELDS: dict[str, tuple[str, str]] = {_key(f): (section, f.name)
                                      for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)}


def facts(key: str) -> dict:
    """What the front ends show for a setting: its label, hint, kind and flag (where given)."""
    section, name = FIELDS[key]
    return dict(next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == name).metadata)


def flag(key: str) -> str:
    """The command-line flag that sets `key`: --blur-strength for blur_strength, --size for width..."""
    return facts(key).get("flag") or "--" + key.replace("_", "-")


def _check_values(section) -> None:
    """Fractions, thresholds and choices in range, by their kind."""
    for f in dataclasses.fields(section):
        kind, value = f.metadata.get("kind"), getattr(section, f.name)
        words = _key(f).replace("_", " ")
        if kind == "fraction" and not 0.0 <= value <= 1.0:  # NaN fails this too
            raise SettingsError(f"{words.capitalize()} must be between 0 and 1, got {value}.", setting=_key(f))
        if kind == "threshold" and value is not None and not 0.0 < value < 1.0:
            raise SettingsError(f"{words.capitalize()} must be between 0 and 1, got {value}.", setting=_key(f))
        choices = [choice for choice, _ in f.metadata.get("choices", ())]
        if kind == "choice" and value not in choices:
            raise SettingsError(f"Unknown {words} {value!r}; choose one of {', '.join(choices)}.", setting=_key(f))


@dataclass(frozen=True, init=False)
class Settings:
    source: SourceSettings
    model: ModelSettings
    mask: MaskSettings
    effect: EffectSettings
    output: OutputSettings
    app: AppSettings

    def __init__(self, **values):
        """Settings from keys (`Settings(effect="splash", blur_strength=0.8)`), the rest defaults.

        A section's name with a section object takes that whole section instead
        (`Settings(effect=EffectSettings(...))`).
        """
        self._fill({}, values)

    def _fill(self, base: dict, values: dict) -> None:
        sections = dict(base)
        changes: dict[str, dict] = {name: {} for name in SECTIONS}
        for key, value in values.items():
            if key in SECTIONS and isinstance(value, SECTIONS[key]):
                sections[key] = value
            elif key in FIELDS:
                section, name = FIELDS[key]
                changes[section][name] = value
            else:
                raise TypeError(f"Settings has no setting {key!r}")
        for name, cls in SECTIONS.items():
            section = sections.get(name) or cls()
            if changes[name]:
                section = dataclasses.replace(section, **changes[name])
            object.__setattr__(self, name, section)

    def validate(self) -> "Settings":
        """Raise SettingsError, naming the setting, for a value no stage can use (except the
        effect's name, which segcam.effects checks: see segcam.processor.validated)."""
        for name in SECTIONS:
            getattr(self, name).validate()
        return self

    def replace(self, **changes) -> "Settings":
        """A copy with these settings changed (keys, or whole sections by their names)."""
        copy = object.__new__(Settings)
        copy._fill({name: getattr(self, name) for name in SECTIONS}, changes)
        return copy

    def get(self, key: str):
        """The value of the setting with this key."""
        section, name = FIELDS[key]
        return getattr(getattr(self, section), name)

    # -- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The settings file's content: {"version": 2, "source": {"source": "0", ...}, ...} by key."""
        data: dict[str, Any] = {"version": FILE_VERSION}
        for name in SECTIONS:
            section = getattr(self, name)
            data[name] = {_key(f): _plain(getattr(section, f.name)) for f in dataclasses.fields(section)}
        return data

    @classmethod
    def from_dict(cls, data: dict, checks: Checks | None = None) -> tuple["Settings", list[str]]:
        """Build settings from a settings file's object, keeping defaults for unknown or ill-typed keys.

        Reads version 2 (by section) and the flat files of earlier versions. Returns the
        settings and a list of warnings, one per value or section that was dropped. `checks`:
        more checks by section name, from the stages that own a value (the effects, for the
        effect's name); a section one of them refuses falls back like one out of range.
        """
        warnings: list[str] = []
        flat = _flatten(data, warnings)
        defaults = cls()
        values = {}
        for key, value in flat.items():
            if key not in FIELDS:
                continue
            try:
                values[key] = _coerce(value, defaults.get(key), key)
            except (TypeError, ValueError, OverflowError):  # OverflowError: int(1e400)
                warnings.append(f"Ignored setting {key}={_shorten(value)}: wrong type.")
        kept = {}
        for name in SECTIONS:  # a section out of range falls back alone; the others are kept
            mine = {key: value for key, value in values.items() if FIELDS[key][0] == name}
            try:
                section = getattr(cls(**mine), name)
                section.validate()
                if checks and name in checks:
                    checks[name](section)
            except SettingsError as exc:
                warnings.append(f"Ignored saved {name} settings that were out of range ({exc}).")
                continue
            kept[name] = section
        return cls(**kept), warnings


def _flatten(data: dict, warnings: list[str]) -> dict:
    """{key: value} from a settings file of either version."""
    if data.get("version") != FILE_VERSION:
        return data  # version 1: flat by key
    flat = {}
    for name in SECTIONS:
        section = data.get(name, {})
        if isinstance(section, dict):
            flat.update(section)
        else:
            warnings.append(f"Ignored saved {name} settings: {_shorten(section)} is not a section.")
    return flat


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _shorten(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _coerce(value, default, key):
    if key == "color":
        color = tuple(int(c) for c in value)
        if len(color) != 3:
            raise ValueError(key)
        return color
    if key == "user_backgrounds":
        if not isinstance(value, list):
            raise TypeError(key)
        return [str(v) for v in value]
    if key == "recent_folders":
        if not isinstance(value, dict):
            raise TypeError(key)
        return {str(kind): str(folder) for kind, folder in value.items()}
    if key == "threshold":
        return None if value is None else float(value)
    if key in ("vcam_backend", "vcam_device"):
        return None if value is None else str(value)
    if key == "learn_room":
        if value is not None and not isinstance(value, bool):
            raise TypeError(key)
        return value
    if key == "max_frames":
        return None if value is None else int(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(key)
        return value
    if isinstance(default, (int, float, str)):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(key)
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


def load(path: Path | None = None, checks: Checks | None = None) -> tuple[Settings, list[str]]:
    """Load the app's saved settings. A missing file gives defaults; a broken one gives defaults and a warning.

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
    settings, warnings = Settings.from_dict(data, checks)
    for warning in warnings:
        log.warning("%s", warning)
    return settings, warnings


def read(path: str | Path, checks: Checks | None = None) -> tuple[Settings, list[str]]:
    """Settings from a file the user names (`segcam run --settings FILE`): like `load`, but a
    file that cannot be read is an error, and it is never moved."""
    path = Path(path)
    try:
        data = _read_object(path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise SettingsError(f"Cannot read settings file {path} ({reason}).", setting="settings") from None
    return Settings.from_dict(data, checks)


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write settings atomically, so a crash mid-write never leaves a broken file."""
    return fileio.write_text(path or config_path(), json.dumps(settings.to_dict(), indent=2))
