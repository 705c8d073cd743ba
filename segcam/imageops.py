"""Small image helpers shared by the stages."""

from __future__ import annotations

import cv2
import numpy as np


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average `image` down to size (width, height), fast for any ratio.

    OpenCV's INTER_AREA is quick only for whole-number ratios (1280x720 -> 256x144 is 5x);
    1920x1080 -> 256x144 (7.5x) takes its slow path, about 7 ms on a laptop core. So shrink
    by the largest whole factor first, then cover the small remainder.
    """
    height, width = image.shape[:2]
    factor = int(min(width / size[0], height / size[1]))
    while factor > 1 and (width % factor or height % factor):
        factor -= 1
    if factor > 1 and (width // factor, height // factor) != size:
        image = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def limit_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """`image` shrunk (keeping its shape) so that its longest side is at most max_side; as it is
    when it already fits."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    return shrink(image, (max(1, round(width * scale)), max(1, round(height * scale))))


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` scaled to fit inside width x height without distortion, centred on black."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    new_w, new_h = max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    if (new_w, new_h) == (width, height):
        return resized
    x, y = (width - new_w) // 2, (height - new_h) // 2
    return cv2.copyMakeBorder(resized, y, height - new_h - y, x, width - new_w - x, cv2.BORDER_CONSTANT, value=0)


def small_mask(alpha: np.ndarray, width: int = 256) -> np.ndarray:
    """`alpha` about `width` pixels wide, to judge its shape (regions, areas, where the head
    is); as it is when at most half as wide again. A mask lifted from a network's resolution
    to the frame's is smooth, so sampling it back bilinearly loses nothing an area average
    would keep, at a fraction of the cost (0.1 against 1 ms from 1280x720)."""
    height, full_width = alpha.shape[:2]
    if full_width <= 1.5 * width:
        return alpha
    return cv2.resize(alpha, (width, max(1, round(height * width / full_width))), interpolation=cv2.INTER_LINEAR)


def synthetic_frames(width: int, height: int, count: int = 30) -> list[np.ndarray]:
    """Frames with a moving head-and-shoulders shape on a textured room, so masks vary."""
    rng = np.random.default_rng(0)
    room = cv2.resize(rng.integers(40, 220, (9, 16, 3), dtype=np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(count):
        frame = room.copy()
        cx = int(width * (0.5 + 0.1 * np.sin(i / count * 2 * np.pi)))
        cv2.ellipse(frame, (cx, int(height * 0.38)), (width // 12, height // 6), 0, 0, 360, (90, 120, 200), -1)
        cv2.ellipse(frame, (cx, height), (width // 4, height // 3), 0, 180, 360, (60, 60, 160), -1)
        frames.append(frame)
    return frames
