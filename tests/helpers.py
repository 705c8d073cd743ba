"""Reading videos back and finding where the person is, for end-to-end checks."""

import cv2
import numpy as np

from segcam.errors import SourceError
from segcam.io import video_frames


def read_video(path) -> list[np.ndarray]:
    """Every frame of a video file; none when it does not open (a test then says what it expected)."""
    try:
        return video_frames(path)
    except SourceError:
        return []


def regions(alpha: np.ndarray, margin: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Pixels surely person and surely background: confident, and away from the edge."""
    kernel = np.ones((margin, margin), np.uint8)
    person = cv2.erode((alpha > 0.95).astype(np.uint8), kernel) > 0
    background = cv2.erode((alpha < 0.05).astype(np.uint8), kernel) > 0
    return person, background


def greyness(pixels: np.ndarray) -> float:
    """Mean spread between colour channels; 0 for grey pixels."""
    p = pixels.astype(np.int16)
    return float(np.mean(np.abs(p[..., 0] - p[..., 1]) + np.abs(p[..., 1] - p[..., 2])))
