"""Loading background images and videos, sized to fill a frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from segcam.errors import BackgroundError

# Decode huge images at a fraction of their size: a 10000x10000 photo would otherwise
# cost 300 MB and a long stall before being shrunk to the frame anyway.
_REDUCED_READS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))
_COMFORTABLE_PIXELS = 4096 * 4096


def read_image(path: str | Path) -> np.ndarray:
    """Read a background image as BGR uint8, or raise BackgroundError saying why not."""
    path = Path(path)
    if not path.is_file():
        raise BackgroundError(f"Background image {path} does not exist.")
    try:
        from PIL import Image

        with Image.open(path) as header:  # reads the header only
            width, height = header.size
    except Exception:
        if _is_video(path):
            raise BackgroundError(f"{path.name} is a video, not a picture — use the video effect for it.") from None
        raise BackgroundError(f"{path.name} is not an image segcam can read (try a JPEG or PNG).") from None
    flags = cv2.IMREAD_COLOR
    for factor, reduced in _REDUCED_READS:
        if width * height / (factor * factor) >= _COMFORTABLE_PIXELS / 4:
            flags = reduced
            break
    image = cv2.imread(str(path), flags)
    if image is None or image.size == 0:
        raise BackgroundError(f"{path.name} is not an image segcam can read (try a JPEG or PNG).")
    return image


def _is_picture(path: Path) -> bool:
    """A still image (an animated GIF is not one)."""
    try:
        from PIL import Image

        with Image.open(path) as header:
            return getattr(header, "n_frames", 1) == 1
    except Exception:
        return False


def _is_video(path: Path) -> bool:
    """A file OpenCV plays as more than one frame."""
    from segcam.capture import quiet_opencv

    with quiet_opencv():
        capture = cv2.VideoCapture(str(path))
        try:
            return bool(capture.isOpened() and capture.read()[0] and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 1)
        finally:
            capture.release()


def fill(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale and centre-crop `image` so it covers width x height without distortion."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    x, y = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[y : y + height, x : x + width])


class VideoBackground:
    """A looping background video: each call to `next_frame` gives the next frame, sized."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise BackgroundError(f"Background video {self.path} does not exist.")
        if _is_picture(self.path):  # OpenCV would play it as a video of one frame
            raise BackgroundError(f"{self.path.name} is a picture, not a video — use the image effect for it.")
        self._capture = cv2.VideoCapture(str(self.path))
        ok, first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or first is None:
            self._capture.release()
            raise BackgroundError(f"{self.path.name} is not a video segcam can play (try an MP4).")
        self._pending = first

    def next_frame(self, width: int, height: int) -> np.ndarray:
        frame, self._pending = self._pending, None
        if frame is None:
            ok, frame = self._capture.read()
            if not ok:  # end of the video: loop
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self._capture.read()
                if not ok:
                    raise BackgroundError(f"Background video {self.path.name} stopped playing.")
        return fill(frame, width, height)

    def close(self) -> None:
        self._capture.release()
