"""Colour splash: the person in colour, the room grey."""

from __future__ import annotations

import cv2
import numpy as np

from segcam.effects.base import Effect, grey
from segcam.effects.registry import register


@register
class Splash(Effect):
    name = "splash"
    label = "Colour splash"
    hint = "Keep your colours, turn the room grey"
    order = 40
    reads = ("splash_strength",)

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        strength = self.settings.splash_strength
        if strength >= 1.0:
            return grey(frame)
        return cv2.addWeighted(grey(frame), strength, frame, 1.0 - strength, 0)
