"""Low-light correction: a dim picture brightened where it matters, the person, without pumping.

The exposure is judged on the person (the alpha), not the whole frame: a dark room behind a
lit face needs nothing, a dim face in front of a bright window does. The lift is a gamma
curve (out = in ** gamma, gamma <= 1) chosen to bring the person's mean brightness up to
`target`: black stays black, white stays white, nothing clips, and the shadows gain the most
contrast. It is one lookup table on the frame (no float work at frame size).

Promises: a person already as bright as `target` is left exactly as is (gamma 1); the lift
never goes beyond `strongest` (noise in the dark grows with it); the gamma follows a change of
light gradually (a running average, at most `max_step` a frame), so the picture does not pump
when someone moves or a lamp flickers. The first frame after a start or `reset` takes its
gamma at once. Apply it to the frame before compositing.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from segcam.effects.base import Stage
from segcam.effects.registry import register_stage

_STATS_WIDTH = 160  # brightness is measured on a frame about this wide
_MIN_PERSON = 0.02  # share of the frame: with less person than this, the whole frame is judged


class LowLight:
    def __init__(self, target: float = 0.42, strongest: float = 0.45, rate: float = 0.1,
                 max_step: float = 0.02):
        self.target = target  # the person's mean brightness to aim at, 0..1 of white
        self.strongest = strongest  # the lowest gamma it uses
        self.rate = rate  # weight of each frame's gamma in the running average
        self.max_step = max_step  # the most the gamma changes from one frame to the next
        self._table: tuple[float, np.ndarray] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the light seen so far: the next frame sets the gamma at once."""
        self.gamma: float | None = None

    def __call__(self, frame: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
        """`frame` (BGR uint8) brightened for the person in `alpha` (float32 0..1, any size;
        None judges the whole frame). Moves the running gamma on by one frame."""
        wanted = self.wanted_gamma(frame, alpha)
        if self.gamma is None:
            self.gamma = wanted
        else:
            change = self.rate * (wanted - self.gamma)
            # the last thousandths at once: the running average would only approach them
            self.gamma = wanted if abs(wanted - self.gamma) < 0.005 else \
                self.gamma + max(-self.max_step, min(self.max_step, change))
        if self.gamma >= 0.999:
            return frame
        return cv2.LUT(frame, self._lookup(self.gamma))

    def wanted_gamma(self, frame: np.ndarray, alpha: np.ndarray | None) -> float:
        """The gamma that brings the person's mean brightness in this frame to `target`."""
        height, width = frame.shape[:2]
        size = (min(width, _STATS_WIDTH), max(1, round(height * min(width, _STATS_WIDTH) / width)))
        # a mean brightness needs no area average: a sample of every n-th pixel is as good, and 20x cheaper
        sample = cv2.resize(frame, size, interpolation=cv2.INTER_NEAREST)
        grey = cv2.cvtColor(sample, cv2.COLOR_BGR2GRAY).astype(np.float32) * (1.0 / 255.0)
        brightness = float(grey.mean())
        if alpha is not None:
            weight = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
            total = float(weight.sum())
            if total >= _MIN_PERSON * weight.size:
                brightness = float((grey * weight).sum()) / total
        if brightness >= self.target:
            return 1.0
        brightness = max(brightness, 1.0 / 255.0)
        return max(self.strongest, math.log(self.target) / math.log(brightness))

    def _lookup(self, gamma: float) -> np.ndarray:
        if self._table is None or abs(self._table[0] - gamma) > 1e-4:
            levels = np.arange(256, dtype=np.float64) / 255.0
            self._table = (gamma, np.clip(np.round(255.0 * levels ** gamma), 0, 255).astype(np.uint8))
        return self._table[1]


@register_stage
class LowLightStage(Stage):
    """Before compositing: a dim frame brightened for the person, so the effect blends the lit picture."""

    name = "low_light"
    where = "before"
    order = 20  # after only-me: the exposure is judged on the main person
    reads = ("low_light",)

    def __init__(self, settings):
        super().__init__(settings)
        self.low_light = LowLight()

    @classmethod
    def enabled(cls, settings) -> bool:
        return settings.low_light

    def before(self, frame: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.low_light(frame, alpha), alpha

    def reset(self) -> None:
        self.low_light.reset()
