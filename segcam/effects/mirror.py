"""Mirror what is sent (a stage after compositing, whichever effect is chosen)."""

from __future__ import annotations

import cv2
import numpy as np

from segcam.effects.base import Stage
from segcam.effects.registry import register_stage


@register_stage
class Mirror(Stage):
    name = "mirror"
    where = "after"
    order = 100  # last: what other stages frame is then flipped as a whole
    reads = ("mirror",)

    @classmethod
    def enabled(cls, settings) -> bool:
        return settings.mirror

    def after(self, frame: np.ndarray, alpha: np.ndarray, output: np.ndarray) -> np.ndarray:
        return cv2.flip(output, 1)
