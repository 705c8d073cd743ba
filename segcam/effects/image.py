"""A picture instead of the room, scaled and cropped to cover the frame."""

from __future__ import annotations

import numpy as np

from segcam.backgrounds import fill, load_image
from segcam.effects.base import Effect
from segcam.effects.registry import register
from segcam.errors import BackgroundError


@register
class Image(Effect):
    name = "image"
    label = "Image"
    hint = "Replace the room with a picture"
    guide = "Pick a picture below, or drop one on the window."
    order = 20
    replaces_room = True
    reads = ("background",)
    needs = "background"
    reloads = ("background",)

    def prepare(self, settings) -> None:
        if not settings.background:
            raise BackgroundError("The image effect needs a background image.", setting="background")
        self._image = load_image(settings.background)  # decoded once, shared with the app's gallery
        self._filled: dict[tuple[int, int], np.ndarray] = {}  # the picture sized per frame size

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if (w, h) not in self._filled:
            self._filled = {(w, h): fill(self._image, w, h)}
        return self._filled[(w, h)]
