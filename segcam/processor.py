"""One frame through segment -> refine -> composite, with per-stage timings. No threads.

The pipeline runs this on its worker thread; `segcam bench` and the evaluation tools run
it directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from segcam.effects import Compositor
from segcam.models import registry
from segcam.refine import MaskRefiner
from segcam.segmenter import Segmenter
from segcam.settings import Settings

STAGES = ("segment", "refine", "composite")


@dataclass
class Result:
    frame: np.ndarray  # the input frame (BGR)
    alpha: np.ndarray  # float32 person alpha at frame size
    output: np.ndarray  # the composited frame (BGR)
    ms: dict[str, float] = field(default_factory=dict)  # time per stage


class FrameProcessor:
    """Owns one segmenter, refiner and compositor, and applies setting changes to them."""

    def __init__(self, settings: Settings, runtime: str = "auto", download: bool = True):
        self.settings = settings.validate()
        self.runtime = runtime
        self.download = download
        self.compositor = Compositor(settings)
        self.refiner = MaskRefiner(settings)
        self.segmenter: Segmenter | None = None

    def update(self, settings: Settings) -> None:
        """Apply new settings; on error (bad background, bad value) nothing changes."""
        settings.validate()
        self.compositor.update(settings)
        self.refiner.update(settings)
        if (settings.model, settings.device) != (self.settings.model, self.settings.device):
            self.segmenter = None  # rebuilt for the next frame
        self.settings = settings

    def prepare(self, width: int, height: int) -> Segmenter:
        """Make sure the right network for this frame size is loaded."""
        name = registry.resolve(self.settings.model, width, height)
        if self.segmenter is None or self.segmenter.name != name:
            self.segmenter = Segmenter(name, self.settings.device, self.runtime, self.download)
            self.refiner.reset()
        return self.segmenter

    def process(self, frame: np.ndarray) -> Result:
        segmenter = self.prepare(frame.shape[1], frame.shape[0])
        t0 = time.perf_counter()
        model_input = segmenter.resize_input(frame)
        mask = segmenter.infer(model_input)
        t1 = time.perf_counter()
        alpha = self.refiner.refine(mask, model_input, frame.shape)
        t2 = time.perf_counter()
        output = self.compositor.compose(frame, alpha)
        t3 = time.perf_counter()
        ms = {"segment": (t1 - t0) * 1e3, "refine": (t2 - t1) * 1e3, "composite": (t3 - t2) * 1e3}
        return Result(frame, alpha, output, ms)

    def close(self) -> None:
        self.compositor.close()
