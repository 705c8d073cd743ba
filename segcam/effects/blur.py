"""Blur the room behind the person, without the glow around them that a plain blur leaves.

Two styles at one strength scale: "gaussian", a soft smear, and "lens", the room as an open
lens would show it (points of light become round discs). Both weight the person out before
blurring and divide by the blurred weights (normalised convolution), so each blurred pixel
is an average of background pixels only, and both work on a shrunk frame (a wide blur is the
same picture at lower resolution, and far cheaper there), lifted back by a bilinear resize.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from segcam.effects.base import Effect
from segcam.effects.registry import register
from segcam.imageops import shrink

# The blur's spread (a Gaussian's sigma) as a fraction of the frame height, at strength 0
# and the added amount at 1. The lens's disc has the same spread: radius 2 sigma.
_BLUR_MIN, _BLUR_RANGE = 0.004, 0.05
# The Gaussian runs on a frame shrunk until its sigma is about this many pixels ...
_BLUR_WORKING_SIGMA = 2.5
# ... or, for a light blur, until it is this small (a narrower blur at the working size would
# be mostly the shrink's and the lift's own smoothing), shrinking at most 4x for that: the
# lightest blur at 720p (sigma 2.9 px) took 60 ms at full resolution in float, 4 ms at a quarter
_LIGHT_WORKING_SIGMA = 0.7
_MIN_SHRINK = 2  # never less: full resolution in float is costly and no sharper to the eye
_LENS_WORKING_RADIUS = 5.0  # working pixels: the disc at least this where the frame allows (round at that size)
_HIGHLIGHT = 0.85  # pixel values above this (of 1) stand for clipped light and are raised ...
_HIGHLIGHT_GAIN = 3.0  # ... up to this many times more in linear light, at white


def blur_sigma(height: int, strength: float) -> float:
    """The blur's spread in frame pixels for a frame `height` tall, at `strength` (0..1)."""
    return height * (_BLUR_MIN + _BLUR_RANGE * strength)


def _shrink_factor(width: int, height: int, limit: float) -> int:
    """How much to shrink for a working size: at most `limit`, at least _MIN_SHRINK, never so far
    that the frame is under 24 pixels high; a factor that divides the frame exactly keeps the
    shrink on OpenCV's fast path."""
    limit = int(max(_MIN_SHRINK, min(limit, height / 24)))
    return next((d for d in range(limit, 1, -1) if width % d == 0 and height % d == 0), limit)


def blur_background(frame: np.ndarray, alpha: np.ndarray, strength: float) -> np.ndarray:
    """The room blurred using only background pixels (a Gaussian), so the person leaves no halo.

    A plain blur smears the person's colours into the surrounding background, which shows
    as a glow around them. Here the person is weighted out before blurring and the result
    is divided by the blurred weights (normalised convolution).
    """
    h, w = frame.shape[:2]
    sigma = blur_sigma(h, strength)
    factor = _shrink_factor(w, h, max(sigma / _BLUR_WORKING_SIGMA, min(4.0, sigma / _LIGHT_WORKING_SIGMA)))
    small_size = (max(1, w // factor), max(1, h // factor))
    small = shrink(frame, small_size).astype(np.float32)
    weight = 1.0 - cv2.resize(alpha, small_size, interpolation=cv2.INTER_LINEAR)
    sigma /= factor
    blurred = cv2.GaussianBlur(small * weight[..., None], (0, 0), sigma)
    norm = cv2.GaussianBlur(weight, (0, 0), sigma)
    # norm is tiny only deep inside the person, where alpha hides the background anyway
    result = cv2.convertScaleAbs(blurred / np.maximum(norm, 0.02)[..., None])  # saturates to uint8
    return cv2.resize(result, (w, h), interpolation=cv2.INTER_LINEAR)


# -- the lens style ------------------------------------------------------------------------
# A lens out of focus spreads each point of light over a disc, not a Gaussian smear: lamps
# and reflections become round, flat-topped discs, and bright ones outshine what is around
# them (light adds up; pixel values are gamma-encoded and clip at white). So the kernel is an
# anti-aliased disc, and it runs on linear light (the square of the pixel value, close to
# sRGB's curve), with the brightest pixels raised further, as the clipped highlights they
# stand for were brighter; light is averaged as light when the frame is shrunk.

def _light_table() -> np.ndarray:
    """Pixel value -> linear light (its square), highlights raised: float32, 256 entries."""
    value = np.arange(256, dtype=np.float64) / 255.0
    over = np.clip((value - _HIGHLIGHT) / (1.0 - _HIGHLIGHT), 0.0, 1.0)
    return (value * value * (1.0 + _HIGHLIGHT_GAIN * over * over)).astype(np.float32)


_LIGHT = _light_table()


def lens_radius(height: int, strength: float) -> float:
    """The disc's radius in frame pixels for a frame `height` tall, at `strength` (0..1): the
    Gaussian's spread (a disc of radius r has the variance of a Gaussian of sigma r/2)."""
    return 2.0 * blur_sigma(height, strength)


@lru_cache(maxsize=16)
def disc(radius: float) -> np.ndarray:
    """A normalised disc kernel of `radius` pixels, its edge anti-aliased (4x4 samples a pixel)."""
    half = int(np.ceil(radius - 0.5))
    samples = (np.arange(4 * (2 * half + 1)) + 0.5) / 4 - (half + 0.5)
    inside = (samples[:, None] ** 2 + samples[None, :] ** 2) <= radius * radius
    kernel = inside.reshape(2 * half + 1, 4, 2 * half + 1, 4).mean(axis=(1, 3)).astype(np.float32)
    return kernel / kernel.sum()


def lens_blur(frame: np.ndarray, alpha: np.ndarray, strength: float) -> np.ndarray:
    """The room behind the person in `alpha` as a disc blur of linear light, the person weighted
    out: blur_background's contract, in the lens style."""
    h, w = frame.shape[:2]
    radius = lens_radius(h, strength)
    # a small disc shows no shape at all: it may shrink to 1.4 working pixels (4x at 720p, strength 0)
    factor = _shrink_factor(w, h, max(radius / _LENS_WORKING_RADIUS, min(4.0, radius / 1.4)))
    small_size = (max(1, w // factor), max(1, h // factor))
    # light is averaged as light: before the shrink, so a small lamp keeps its brightness
    light = shrink(cv2.LUT(frame, _LIGHT), small_size)
    weight = 1.0 - cv2.resize(alpha, small_size, interpolation=cv2.INTER_LINEAR)
    kernel = disc(max(1.0, radius / factor))
    blurred = cv2.filter2D(light * weight[..., None], -1, kernel, borderType=cv2.BORDER_REFLECT)
    norm = cv2.filter2D(weight, -1, kernel, borderType=cv2.BORDER_REFLECT)
    light = blurred / np.maximum(norm, 0.02)[..., None]
    result = cv2.convertScaleAbs(np.sqrt(np.clip(light, 0.0, 1.0)), alpha=255.0)  # (filter2D may go a hair below 0)
    return cv2.resize(result, (w, h), interpolation=cv2.INTER_LINEAR)


@register
class Blur(Effect):
    name = "blur"
    label = "Blur"
    hint = "Blur the room behind you"
    order = 10
    reads = ("blur_strength", "blur_style")

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        style = lens_blur if self.settings.blur_style == "lens" else blur_background
        return style(frame, alpha, self.settings.blur_strength)
