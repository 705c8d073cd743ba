"""Reading videos back and finding where the person is, for end-to-end checks."""

import cv2
import numpy as np


def read_video(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


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
