"""Loading background images and videos, sized to fill a frame."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from segcam.errors import BackgroundError
from segcam.io import quiet_opencv, read_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")  # what the app's file dialog and gallery offer
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")  # a dropped file with these is a video

# pictures larger than this are decoded at a fraction of their size (see io.read_image)
_COMFORTABLE_PIXELS = 4096 * 4096
_CACHED_PICTURES = 8  # decoded backgrounds kept; each is at most about 50 MB, most far less


class _PictureCache:
    """Decoded backgrounds by (path, modification time, size): a picture the user adds is
    decoded once, whether the gallery, the effect or its thumbnail asks first, and again only
    when the file changes. Thread-safe; the arrays are read-only, since every caller shares them."""

    def __init__(self, capacity: int = _CACHED_PICTURES):
        self._capacity = capacity
        self._pictures: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.decoded = 0  # how many files were decoded, for tests

    def get(self, path: Path, decode) -> np.ndarray:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key in self._pictures:
                self._pictures.move_to_end(key)
                return self._pictures[key]
        image = decode(path)  # outside the lock: a large picture must not hold up the others
        image.flags.writeable = False
        with self._lock:
            self.decoded += 1
            self._pictures[key] = image
            while len(self._pictures) > self._capacity:
                self._pictures.popitem(last=False)
        return image


PICTURES = _PictureCache()


def load_image(path: str | Path) -> np.ndarray:
    """A background picture as read-only BGR uint8, decoded once (see _PictureCache), or
    BackgroundError saying why it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise BackgroundError(f"Background image {path} does not exist.", setting="background")
    return PICTURES.get(path, _decode)


def _decode(path: Path) -> np.ndarray:
    image = read_image(path, max_pixels=_COMFORTABLE_PIXELS)
    if image is None or image.size == 0:
        if _is_video(path):
            raise BackgroundError(f"{path.name} is a video, not a picture — use the video effect for it.",
                                  setting="background")
        raise BackgroundError(f"{path.name} is not an image segcam can read (try a JPEG or PNG).",
                              setting="background")
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
            raise BackgroundError(f"Background video {self.path} does not exist.", setting="background_video")
        if _is_picture(self.path):  # OpenCV would play it as a video of one frame
            raise BackgroundError(f"{self.path.name} is a picture, not a video — use the image effect for it.",
                                  setting="background_video")
        self._capture = cv2.VideoCapture(str(self.path))
        ok, first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or first is None:
            self._capture.release()
            raise BackgroundError(f"{self.path.name} is not a video segcam can play (try an MP4).",
                                  setting="background_video")
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
