"""`--model auto`: the best model this machine can run at the camera's frame rate.

A model calibrated for this very source at this frame size (`segcam calibrate`) comes first:
the user made it for this camera and room, and it costs what the fast network it was tuned
from costs.

Each installed model that segcam offers by default is measured once per machine (processor
model and cores), device, frame size and quality: a dozen frames through the real per-frame
path with the blur composited on every one, timed as `segcam bench` times them
(segcam.frame_timing), a second or two; the figures are kept in the data folder. Auto takes
the highest-quality one whose frame fits in `BUDGET` of the frame interval, so capture, the
preview and the virtual camera keep the rest. The fast MediaPipe network for the frame's
shape is the floor: it is always affordable. A model that later cannot keep up (the pipeline sees its frames take longer than
the interval) is stepped down from, and the step is remembered with its figure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from segcam import fileio, paths, system
from segcam.models import calibrated, registry

log = logging.getLogger(__name__)

BUDGET = 0.6  # share of the frame interval the worker may spend on one frame
_WARMUP, _TIMED = 3, 9
_FILE = "model-speed.json"

# measure(model name, width, height, settings) -> median ms a frame on the worker
Measure = Callable[[str, int, int, object], float]
# timer(model name, width, height, settings) -> the same, measured now (processor.time_model)
Timer = Measure


@dataclass(frozen=True)
class Choice:
    name: str
    reason: str  # one sentence for the status bar, the run log and doctor


IN_THE_SETTINGS = "as chosen in the settings"
ON_THE_COMMAND_LINE = "chosen on the command line"


def pinned(name: str, where: str = IN_THE_SETTINGS) -> Choice:
    """A model named rather than `auto`; `where` it was named (a front end knows, the processor not)."""
    return Choice(name, f"{name}, {where}")


def candidates(width: int, height: int) -> list[str]:
    """Installed default models, best masks first; the shape's fast network always last."""
    floor = registry.pick_for_frame(width, height)
    better = sorted((s for s in registry.specs() if s.default_download and s.installed()
                     and s.name not in registry.FALLBACK_MODELS),
                    key=lambda s: -s.quality)
    return [s.name for s in better] + [floor]


def choose(width: int, height: int, settings, measure: Measure, too_slow: frozenset[str] = frozenset()) -> Choice:
    """The model calibrated for this source at this size, else the best installed model whose
    frame fits the budget at the source's frame rate; `too_slow` are skipped. `measure` is
    usually `kept(processor.time_model)`."""
    mine = calibrated.calibrated_for(settings.source.name, width, height)
    if mine is not None and mine not in too_slow:
        where = "camera" if calibrated.source_key(settings.source.name).isdigit() else "video"
        return Choice(mine, f"auto: {mine}, calibrated for this {where} at {width}x{height}")
    fps = settings.source.fps
    budget = BUDGET * 1000.0 / fps
    options = candidates(width, height)
    floor = options[-1]
    for name in options[:-1]:
        if name in too_slow:
            continue
        ms = measure(name, width, height, settings)
        if ms <= budget:
            return Choice(name, f"auto: {name}, the best model that keeps {fps:g} fps here "
                                f"({ms:.0f} ms a {width}x{height} frame, budget {budget:.0f} ms)")
        log.info("auto: %s takes %.0f ms a %dx%d frame, over the %.0f ms budget", name, ms, width, height, budget)
    better = [n for n in options[:-1]]
    why = (f"{', '.join(better)} cannot keep {fps:g} fps on this machine" if better
           else "no better model is installed (`segcam models download rvm`)")
    return Choice(floor, f"auto: {floor}, the fast model for this frame shape; {why}")


# -- measuring ------------------------------------------------------------------------------

def _key(name: str, width: int, height: int, settings) -> str:
    import torch

    from segcam import __version__
    from segcam.segmenter import pick_device

    # the processor's model and cores, not only its architecture: figures of one machine are never
    # read on another (keys of older segcams, which named "x86_64" alone, are never matched)
    return "|".join([name, f"{width}x{height}", settings.model.quality, pick_device(settings.model.device),
                     system.machine(), f"torch {torch.__version__}", f"segcam {__version__}"])


def _load() -> dict:
    try:
        data = json.loads((paths.data_dir() / _FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # no figures yet, or a damaged file: they are measured again


def remember(name: str, width: int, height: int, settings, ms: float) -> None:
    figures = _load()
    figures[_key(name, width, height, settings)] = round(float(ms), 2)
    try:
        fileio.write_text(paths.data_dir() / _FILE, json.dumps(figures, indent=1, sort_keys=True))
    except OSError as exc:  # a read-only data folder: measured again next time
        log.info("cannot keep the model speed figures: %s", exc)


def kept(timer: Timer) -> Measure:
    """A measure that times a model once per key with `timer` and keeps the figure."""
    def measure(name: str, width: int, height: int, settings) -> float:
        figure = _load().get(_key(name, width, height, settings))
        if isinstance(figure, (int, float)):
            return float(figure)
        ms = timer(name, width, height, settings)
        remember(name, width, height, settings, ms)
        return ms

    return measure


def keeps_up(frame_ms: list[float], fps: float) -> bool:
    """Whether recent worker times (ms) hold the frame rate; a few slow frames are forgiven."""
    if len(frame_ms) < 30:
        return True
    return float(np.median(frame_ms[-30:])) <= 1000.0 / fps
