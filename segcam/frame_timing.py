"""How segcam times the per-frame work. `segcam bench`, `--model auto` (processor.time_model)
and the tools that measure costs (tools/model_costs.py, tools/feature_costs.py) all time with
this, so their figures are of the same work.

What is timed: one call of FrameProcessor.process: segment, refine, the privacy guard's
judgement and the composite with the effect; what the pipeline's worker does for a frame,
the sinks apart. The first frames are not timed (`warm_up`: caches, ONNX Runtime's first runs,
the guard letting go on a clip).

Every frame in a figure has the effect composited. While the privacy guard holds, the
compositor sends the safe frame and the effect does not run: such a frame times other, cheaper
work (at 1280x720 with the blur, less than half), which once made `--model auto` think every
model faster than it is. So synthetic frames, with nobody in them, are timed with the guard off
(`for_synthetic`; it still judges every mask, so its cost stays in); frames of a video keep the
guard as set, and those it held on are timed apart (`Timing.held_ms`), never in the figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from segcam.io import iter_video_frames

WARMUP = 10  # frames before the timed ones
SYNTHETIC_GUARD_NOTE = "privacy guard off: nobody is in the synthetic frames, and it would hold on every one"

Clock = Callable[[], float]  # seconds, like time.perf_counter


@dataclass
class Timing:
    """Per-frame times (ms) of the frames timed."""

    ms: list[float] = field(default_factory=list)  # frames with the effect composited: the figure
    stages: dict[str, list[float]] = field(default_factory=dict)  # each stage's ms, of those frames
    held_ms: list[float] = field(default_factory=list)  # frames the privacy guard held on (the safe frame)

    def add(self, ms: float, result) -> None:
        if result.guard is not None and result.guard.holding:
            self.held_ms.append(ms)
            return
        self.ms.append(ms)
        for name, value in result.ms.items():
            self.stages.setdefault(name, []).append(value)

    @property
    def median(self) -> float | None:
        """The figure: median ms of a frame with the effect; None when the guard held on every one."""
        return float(statistics.median(self.ms)) if self.ms else None

    @property
    def held_median(self) -> float | None:
        return float(statistics.median(self.held_ms)) if self.held_ms else None

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.ms, q)) if self.ms else None


def for_synthetic(settings):
    """(settings, note): the settings to time synthetic frames with (the guard off) and the note
    that says so, or the settings as they are and "" when the guard is off already."""
    if settings.mask.guard:
        return settings.replace(guard=False), SYNTHETIC_GUARD_NOTE
    return settings, ""


def warm_up(processor, frames: Sequence[np.ndarray], count: int = WARMUP) -> None:
    for i in range(count):
        processor.process(frames[i % len(frames)])


def time_frame(processor, frame: np.ndarray, timing: Timing, clock: Clock = time.perf_counter):
    """Time one frame through `processor` into `timing`; the Result."""
    start = clock()
    result = processor.process(frame)
    timing.add((clock() - start) * 1e3, result)
    return result


def time_frames(processor, frames: Iterable[np.ndarray], count: int, warmup: int = WARMUP,
                clock: Clock = time.perf_counter) -> Timing:
    """`warmup` frames, then `count` timed ones, taken in turn from `frames`, which must not run
    out (itertools.cycle of a list, or `clip_frames`)."""
    frames = iter(frames)
    for _ in range(warmup):
        processor.process(next(frames))
    timing = Timing()
    for _ in range(count):
        time_frame(processor, next(frames), timing, clock)
    return timing


def clip_frames(path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """A video's frames at `size`, from its start again when it ends, decoded as they are
    wanted: the clip plays on as a camera would, and only a frame at a time is in memory.
    SourceError when the file gives no frame."""
    while True:
        yield from iter_video_frames(path, size=size)
