"""A looping video instead of the room."""

from __future__ import annotations

import numpy as np

from segcam.backgrounds import VideoBackground
from segcam.effects.base import Effect
from segcam.effects.registry import register
from segcam.errors import BackgroundError


@register
class Video(Effect):
    name = "video"
    label = "Video"
    hint = "Replace the room with a looping video"
    order = 30
    replaces_room = True
    reads = ("background_video",)
    needs = "background_video"
    reloads = ("background_video",)

    def prepare(self, settings) -> None:
        if not settings.background_video:
            raise BackgroundError("The video effect needs a background video.", setting="background_video")
        self._video = VideoBackground(settings.background_video)

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        return self._video.next_frame(w, h)

    def close(self) -> None:
        self._video.close()
