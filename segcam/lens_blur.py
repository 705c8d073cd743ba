"""Lens blur: the room behind the person as an open lens would show it, halo-free.

A camera lens out of focus spreads each point of light over a disc, not a Gaussian smear:
lamps and reflections become round, flat-topped discs, and bright ones outshine what is
around them (light adds up; pixel values are gamma-encoded and clip at white). So here:
- the blur kernel is an anti-aliased disc;
- it runs on linear light (the square of the pixel value, close to sRGB's curve; one lookup
  table at frame size), with the brightest pixels raised further, as the clipped highlights
  they stand for were brighter, and light is averaged as light when the frame is shrunk;
- like the Gaussian blur (segcam.effects blur_background, whose contract this keeps), the
  person is weighted out and the result divided by the blurred weights (normalised
  convolution), so the person's colour leaves no glow on the background;
- it works on a frame shrunk until the disc is about `_WORKING_RADIUS` pixels across (a disc
  that size is round; the lift back to frame size is a cheap bilinear resize).

The disc's radius is twice the Gaussian blur's sigma at the same strength: the same spread
(a disc of radius r has the variance of a Gaussian of sigma r/2).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from segcam.imageops import shrink

# the Gaussian blur's sigma as a share of the frame height, at strength 0 and added at 1
# (segcam.effects' _BLUR_MIN and _BLUR_RANGE: keep them alike)
_SIGMA_MIN, _SIGMA_RANGE = 0.004, 0.05
_WORKING_RADIUS = 5.0  # working pixels: at least this, where the frame allows (a disc that size is round)
_HIGHLIGHT = 0.85  # pixel values above this (of 1) stand for clipped light and are raised ...
_HIGHLIGHT_GAIN = 3.0  # ... up to this many times more in linear light, at white


def _light_table() -> np.ndarray:
    """Pixel value -> linear light (its square), highlights raised: float32, 256 entries."""
    value = np.arange(256, dtype=np.float64) / 255.0
    over = np.clip((value - _HIGHLIGHT) / (1.0 - _HIGHLIGHT), 0.0, 1.0)
    return (value * value * (1.0 + _HIGHLIGHT_GAIN * over * over)).astype(np.float32)


_LIGHT = _light_table()


def lens_radius(height: int, strength: float) -> float:
    """The disc's radius in frame pixels for a frame `height` tall, at `strength` (0..1)."""
    return 2.0 * height * (_SIGMA_MIN + _SIGMA_RANGE * strength)


@lru_cache(maxsize=16)
def disc(radius: float) -> np.ndarray:
    """A normalised disc kernel of `radius` pixels, its edge anti-aliased (4x4 samples a pixel)."""
    half = int(np.ceil(radius - 0.5))
    samples = (np.arange(4 * (2 * half + 1)) + 0.5) / 4 - (half + 0.5)
    inside = (samples[:, None] ** 2 + samples[None, :] ** 2) <= radius * radius
    kernel = inside.reshape(2 * half + 1, 4, 2 * half + 1, 4).mean(axis=(1, 3)).astype(np.float32)
    return kernel / kernel.sum()


def lens_blur(frame: np.ndarray, alpha: np.ndarray, strength: float) -> np.ndarray:
    """The background for `frame` (BGR uint8) behind the person in `alpha` (float32, 0..1,
    frame size): a disc blur of the room, of the person weighted out. Same size and type as `frame`."""
    h, w = frame.shape[:2]
    radius = lens_radius(h, strength)
    # a small disc shows no shape at all: it may shrink to 1.4 working pixels (4x at 720p, strength 0)
    limit = int(max(1, min(max(radius / _WORKING_RADIUS, min(4.0, radius / 1.4)), h / 24)))
    # a factor that divides the frame exactly keeps the shrink on OpenCV's fast path
    factor = next((d for d in range(limit, 1, -1) if w % d == 0 and h % d == 0), limit)
    small_size = (max(1, w // factor), max(1, h // factor))
    # light is averaged as light: before the shrink, so a small lamp keeps its brightness
    light = shrink(cv2.LUT(frame, _LIGHT), small_size)
    weight = 1.0 - cv2.resize(alpha, small_size, interpolation=cv2.INTER_LINEAR)
    kernel = disc(max(1.0, radius / factor))
    blurred = cv2.filter2D(light * weight[..., None], -1, kernel, borderType=cv2.BORDER_REFLECT)
    norm = cv2.filter2D(weight, -1, kernel, borderType=cv2.BORDER_REFLECT)
    # norm is tiny only deep inside the person, where alpha hides the background anyway
    light = blurred / np.maximum(norm, 0.02)[..., None]
    result = cv2.convertScaleAbs(np.sqrt(np.clip(light, 0.0, 1.0)), alpha=255.0)  # (filter2D may go a hair below 0)
    return cv2.resize(result, (w, h), interpolation=cv2.INTER_LINEAR)
