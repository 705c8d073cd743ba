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
