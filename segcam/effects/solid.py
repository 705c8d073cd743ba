"""One flat colour instead of the room: green for a chroma key in OBS, or any other."""

from __future__ import annotations

import numpy as np

from segcam.effects.base import Effect
from segcam.effects.registry import register
from segcam.settings import GREEN


@register
class Solid(Effect):
    name = "solid"
    label = "Green screen"
    hint = "One flat colour, for chroma keying in OBS"
    order = 50
    replaces_room = True
    reads = ("color",)

    def prepare(self, settings) -> None:
        self._picture: tuple[tuple, np.ndarray] | None = None  # (size and colour, picture)

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        color = tuple(self.settings.color)
        key = (w, h, color)
        if self._picture is None or self._picture[0] != key:
            r, g, b = color
            self._picture = (key, np.full((h, w, 3), (b, g, r), np.uint8))
        return self._picture[1]

    @classmethod
    def label_for(cls, settings) -> str:
        return cls.label if tuple(settings.color) == GREEN else "Solid colour"
