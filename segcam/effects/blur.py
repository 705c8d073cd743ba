"""Blur the room behind the person, without the glow around them that a plain blur leaves."""

from __future__ import annotations

import cv2
import numpy as np

from segcam.effects.base import Effect
from segcam.effects.registry import register
from segcam.imageops import shrink

# Blur radius as a fraction of the frame height, at strength 0 and the added amount at 1.
_BLUR_MIN, _BLUR_RANGE = 0.004, 0.05
# The blur runs on a frame shrunk until the radius is about this many pixels: a wide
# Gaussian is the same picture at lower resolution, and far cheaper there.
_BLUR_WORKING_SIGMA = 2.5


def blur_background(frame: np.ndarray, alpha: np.ndarray, strength: float) -> np.ndarray:
    """Blur the frame using only background pixels, so the person leaves no halo.

    A plain blur smears the person's colours into the surrounding background, which shows
    as a glow around them. Here the person is weighted out before blurring and the result
    is divided by the blurred weights (normalised convolution): each blurred pixel is an
    average of background pixels only.
    """
    h, w = frame.shape[:2]
    sigma = h * (_BLUR_MIN + _BLUR_RANGE * strength)
    limit = int(max(1, min(sigma / _BLUR_WORKING_SIGMA, h / 24)))
    # a factor that divides the frame exactly keeps the shrink on OpenCV's fast path
    factor = next((d for d in range(limit, 1, -1) if w % d == 0 and h % d == 0), limit)
    small_size = (max(1, w // factor), max(1, h // factor))
    small = shrink(frame, small_size).astype(np.float32)
    weight = 1.0 - cv2.resize(alpha, small_size, interpolation=cv2.INTER_LINEAR)
    sigma /= factor
    blurred = cv2.GaussianBlur(small * weight[..., None], (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)
    # norm is tiny only deep inside the person, where alpha hides the background anyway
    result = cv2.convertScaleAbs(blurred / np.maximum(norm, 0.02)[..., None])  # saturates to uint8
    return cv2.resize(result, (w, h), interpolation=cv2.INTER_LINEAR)


@register
class Blur(Effect):
    name = "blur"
    label = "Blur"
    hint = "Blur the room behind you"
    order = 10
    reads = ("blur_strength",)

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return blur_background(frame, alpha, self.settings.blur_strength)
