"""One frame through segment -> refine -> guard -> composite, with per-stage timings. No threads.

The pipeline runs this on its worker thread; `segcam bench` and the evaluation tools run
it directly. The privacy guard (segcam.guard) judges each frame's mask here and tells the
compositor how much of the safe frame to show.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from segcam import effects, frame_timing, model_choice
from segcam.effects import Compositor
from segcam.errors import SegcamError
from segcam.guard import MODEL_SWITCHED, SCENE_CUT, STARTING, SWITCHED, PrivacyGuard, Verdict
from segcam.models import registry
from segcam.refine import MaskRefiner
from segcam.segmenter import Segmenter
from segcam.settings import Settings

log = logging.getLogger(__name__)

STAGES = ("segment", "refine", "composite")
# segmenter errors in a row that the guard covers with the safe frame (1 s at 30 fps); the
# next one ends the run with that error
MAX_FAILURES = 30


@dataclass
class FrameMatte:
    """One frame's masks: the network's own, and the refiner's at frame size."""

    raw: np.ndarray  # float32 alpha at the network's resolution, as the network gave it
    alpha: np.ndarray  # float32 alpha at frame size, refined (the one that is composited)
    foreground: np.ndarray | None  # a matting network's colour correction (see segmenter.Matte)
    ms: dict[str, float] = field(default_factory=dict)  # segment and refine times

    def raw_at(self, width: int, height: int) -> np.ndarray:
        """The network's alpha lifted to a frame size, as the refiner lifts its own."""
        return cv2.resize(self.raw, (width, height), interpolation=cv2.INTER_LINEAR)


@dataclass
class Result:
    frame: np.ndarray  # the input frame (BGR)
    alpha: np.ndarray  # float32 person alpha at frame size, as composited (after only-me)
    output: np.ndarray  # the composited frame (BGR)
    ms: dict[str, float] = field(default_factory=dict)  # time per stage
    guard: Verdict | None = None  # the privacy guard's verdict on this frame; None while it is off


class SceneCut:
    """Notices a cut between two frames: most of the picture changed at once.

    A recurrent network's state describes the scene it has been watching; after a cut (a
    new source, a camera switch, an edited video) it would keep the old person's outline
    for a few frames, so the processor starts it afresh.

    The statistic: the change in grey levels that SHARE of the picture exceeds, on a picture
    shrunk to WIDTH pixels across. A person moving, however fast, changes the part of the
    picture they cover; a cut (or the light going on) changes nearly all of it. Measured with
    tools/scene_cuts.py on the network's input: the Hamilton clip's three cuts 6.3, 7.2 and 8.0,
    its other frames at most 1.2; the carphone clip at most 0.8; eval --motion clips (60 "talk",
    60 "fast": crossing the frame at 10-30 px a frame, turning, swinging arms) at most 0.3. The
    mean change, used before, could not tell them apart: cuts 26-30, fast motion up to 23.
    """

    THRESHOLD = 3.0  # grey levels
    SHARE = 0.7
    WIDTH = 32

    def __init__(self):
        self._previous: np.ndarray | None = None

    def reset(self) -> None:
        self._previous = None

    def change(self, model_input: np.ndarray) -> float | None:
        """This picture's change from the previous one (None for the first), and keep it."""
        height, width = model_input.shape[:2]
        grey = cv2.cvtColor(model_input, cv2.COLOR_BGR2GRAY).astype(np.float32)
        grey = cv2.resize(grey, (self.WIDTH, max(1, round(self.WIDTH * height / width))), interpolation=cv2.INTER_AREA)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return None
        change = np.abs(grey - previous).ravel()
        k = int((1.0 - self.SHARE) * (change.size - 1))
        return float(np.partition(change, k)[k])

    def __call__(self, model_input: np.ndarray) -> bool:
        change = self.change(model_input)
        return change is not None and change > self.THRESHOLD


def validated(settings: Settings) -> Settings:
    """The settings, or SettingsError naming the setting no stage can use: the sections' own
    checks, and the effect's name, which the effects check (settings do not import them)."""
    settings.validate()
    effects.check(settings.effect)
    return settings


class FrameProcessor:
    """Owns one segmenter, refiner and compositor, and applies setting changes to them.

    The temporal state (the network's recurrent state, the refiner's previous mask, the
    stages that follow the picture, the privacy guard) is reset here and only here: on a new
    model or frame size, on a scene cut, and by `reset`.
    """

    def __init__(self, settings: Settings, runtime: str = "auto", download: bool = True,
                 choose_by_speed: bool = True):
        self.settings = validated(settings)
        # "auto" measures what this machine can afford (model_choice); evaluation wants the
        # same model on every machine, so it picks by frame shape alone
        self.choose_by_speed = choose_by_speed
        self.choice: model_choice.Choice | None = None  # the model running, and why
        self._too_slow: set[str] = set()  # models auto stepped down from
        self.runtime = runtime
        self.download = download
        self.compositor = Compositor(settings.effect)
        self.refiner = MaskRefiner(settings.mask)
        self.segmenter: Segmenter | None = None
        self.scene_cut = SceneCut()
        self.guard = PrivacyGuard()  # judges every frame, even while off: turned on, it knows the mask
        self._failures = 0  # segmenter errors in a row
        self._prepared_for: tuple | None = None  # what the segmenter was chosen for

    def update(self, settings: Settings) -> None:
        """Apply new settings; on error (bad background, bad value) nothing changes."""
        validated(settings)
        self.compositor.update(settings.effect)
        self.refiner.update(settings.mask)
        # auto's choice depends on the source too: a model calibrated for one camera is not the other's
        if settings.model != self.settings.model or settings.source.name != self.settings.source.name or \
                self._network_replaced():
            self._prepared_for = None  # chosen again for the next frame
        self.settings = settings

    def _network_replaced(self) -> bool:
        """The running model's name now stands for another network: a calibrated model kept
        again under the same name, whose file holds new weights."""
        running = self.segmenter
        if running is None:
            return False
        try:
            return registry.lookup(running.name) is not running.spec
        except SegcamError:  # its file is gone: it runs on from memory until something else is chosen
            return False

    @property
    def guarded(self) -> bool:
        """The privacy guard is on and has a room to hide (the chosen effect uses the mask)."""
        return self.settings.mask.guard and self.compositor.effect.uses_mask

    def reset(self, reason: str = SWITCHED) -> None:
        """Forget every frame seen: the next one starts a new video (`reason`: what the guard says meanwhile)."""
        self._forget_the_scene(reason)
        self.scene_cut.reset()

    def _forget_the_scene(self, reason: str) -> None:
        if self.segmenter is not None:
            self.segmenter.reset()
        self.refiner.reset()
        self.compositor.reset()
        self.guard.reset(reason)

    def prepare(self, width: int, height: int) -> Segmenter:
        """Make sure the right network for this frame size is loaded (chosen once per size and setting)."""
        s = self.settings.model
        key = (s, width, height)
        if self._prepared_for == key and self.segmenter is not None:
            return self.segmenter
        self.choice = self._choose(width, height)
        name = self.choice.name
        spec = registry.get(name)
        current = self.segmenter
        if current is None or current.spec is not spec or \
                current.input_size != spec.input_size_for(width, height, s.quality):
            self.segmenter = Segmenter(name, s.device, self.runtime, self.download,
                                       frame_size=(width, height), quality=s.quality)
            self.refiner.update(self.settings.mask, matte=spec.matting)
            self.reset(MODEL_SWITCHED if current is not None else STARTING)
        self._prepared_for = key
        return self.segmenter

    def _choose(self, width: int, height: int) -> model_choice.Choice:
        model = self.settings.model.name
        if model not in ("", "auto"):
            name = registry.resolve(model, width, height)
            return model_choice.pinned(name)
        if self.choose_by_speed:
            return model_choice.choose(width, height, self.settings, model_choice.kept(time_model),
                                       too_slow=frozenset(self._too_slow))
        name = registry.resolve(model, width, height)
        return model_choice.Choice(name, f"auto: {name}, by the frame's shape")

    def use_weights(self, runner, live: str, weights: str) -> bool:
        """Run other weights of the running network from the next frame on: the online learner's,
        or stock again. Not a model switch: the guard, the refiner, the scene state carry on.
        False (and nothing changes) when another model runs now than the one they were made for."""
        segmenter = self.segmenter
        if segmenter is None or segmenter.name != live:
            return False
        segmenter.use_runner(runner, weights)
        return True

    def forget_network(self) -> None:
        """Load the network again for the next frame (chosen afresh): what the learner swapped in
        is gone."""
        self._prepared_for = None
        self.segmenter = None  # prepare() loads one, and the guard starts afresh

    def adopt_registered(self) -> None:
        """The running model's file was written again by the learner with the weights it runs
        already: take the registry's new entry for it, so that this is not seen as a new network."""
        segmenter = self.segmenter
        if segmenter is None:
            return
        try:
            spec = registry.lookup(segmenter.name)
        except SegcamError:
            return
        if spec is not segmenter.spec and spec.input_size == segmenter.spec.input_size:
            segmenter.spec = spec

    def step_down(self, frame_ms: float) -> bool:
        """The running model cannot keep up: under "auto", take the next faster one from the
        next frame on (and keep the figure). False when there is nothing faster."""
        segmenter = self.segmenter
        if self.settings.model.name not in ("", "auto") or segmenter is None or \
                segmenter.name in registry.FALLBACK_MODELS:
            return False
        width, height = self._prepared_for[1:]
        model_choice.remember(segmenter.name, width, height, self.settings, frame_ms)
        self._too_slow.add(segmenter.name)
        self._prepared_for = None
        return True

    def matte(self, frame: np.ndarray) -> FrameMatte:
        """Segment and refine one frame: the temporal state moves on by a frame."""
        segmenter = self.prepare(frame.shape[1], frame.shape[0])
        t0 = time.perf_counter()
        model_input = segmenter.resize_input(frame)
        if self.scene_cut(model_input):
            self._forget_the_scene(SCENE_CUT)
        matte = segmenter.matte(model_input)
        t1 = time.perf_counter()
        alpha = self.refiner.refine_frame(matte.alpha, model_input, frame)
        t2 = time.perf_counter()
        return FrameMatte(matte.alpha, alpha, matte.foreground,
                          {"segment": (t1 - t0) * 1e3, "refine": (t2 - t1) * 1e3})

    def process(self, frame: np.ndarray) -> Result:
        """One frame through segment -> refine -> guard -> composite.

        With the guard on, a segmenter that raises gets the safe frame sent instead (up to
        MAX_FAILURES frames in a row); without it, the error is the caller's."""
        self.prepare(frame.shape[1], frame.shape[0])  # a model that cannot load is always the caller's error
        guarded = self.guarded
        try:
            matte = self.matte(frame)
        except Exception as exc:
            self._failures += 1
            if not guarded or self._failures > MAX_FAILURES:
                raise
            if self._failures == 1:
                log.warning("the segmenter failed (%s: %s); the privacy guard sends the safe frame",
                            type(exc).__name__, exc)
            t0 = time.perf_counter()
            verdict = self.guard.update(None)
            output, alpha = self.compositor.run(frame, None)
            ms = {"segment": 0.0, "refine": 0.0, "composite": (time.perf_counter() - t0) * 1e3}
            return Result(frame, alpha, output, ms, verdict)
        self._failures = 0
        t0 = time.perf_counter()
        verdict = self.guard.update(matte.raw)
        output, alpha = self.compositor.run(frame, matte.alpha, matte.foreground,
                                            hold=verdict.amount if guarded else 0.0)
        ms = {**matte.ms, "composite": (time.perf_counter() - t0) * 1e3}
        return Result(frame, alpha, output, ms, verdict if guarded else None)

    def close(self) -> None:
        self.compositor.close()


def time_model(name: str, width: int, height: int, settings: Settings, warmup: int = 3, timed: int = 9,
               clock: frame_timing.Clock = time.perf_counter) -> float:
    """Median ms of a frame through the real per-frame path with model `name` and the blur
    effect composited on every frame, on synthetic frames of width x height: what `--model auto`
    compares. Timed as `segcam bench` times (segcam.frame_timing), on a dozen frames."""
    from segcam.imageops import synthetic_frames

    chosen, _ = frame_timing.for_synthetic(settings.replace(model=name, effect="blur"))
    processor = FrameProcessor(chosen, download=False, choose_by_speed=False)
    try:
        timing = frame_timing.time_frames(processor, itertools.cycle(synthetic_frames(width, height)), timed,
                                          warmup, clock)
    finally:
        processor.close()
    return timing.median
