"""The source stage: frames from a camera, a video file or an image sequence, read on a thread.

The consumer always gets the newest frame not yet handed out (one slot, never a queue), so a
slow segmenter never makes a camera lag behind. Files processed offline instead go in
lock-step, so every frame reaches the output; a file read `realtime` comes at its own frame
rate as a camera would, and the frames the consumer cannot take in time are dropped and counted.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

import cv2
import numpy as np

from segcam.errors import SourceError
from segcam.imageops import letterbox
from segcam.io import quiet_opencv

log = logging.getLogger(__name__)

Source = Union[int, str, os.PathLike]
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8, HxWx3
    index: int  # position in the source since start(), counting dropped frames
    timestamp: float  # time.monotonic() when the frame was read


def list_cameras(max_index: int = 10) -> list[int]:
    """Indices of the cameras that open, probing 0 .. max_index-1."""
    found = []
    with quiet_opencv():
        for index in range(max_index):
            capture = cv2.VideoCapture(index)
            if capture.isOpened():
                found.append(index)
            capture.release()
    return found


def camera_index(source: Source) -> int | None:
    """The camera index a source names (an int or a digit string), or None for a path."""
    if isinstance(source, int):
        return source
    if isinstance(source, str) and source.strip().isdigit():
        return int(source)
    return None


def as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class ImageSequence:
    """Image files read one by one through cv2.VideoCapture's interface.

    Every image comes at the first one's size: one of another shape is fitted inside it and
    bordered with black, never squashed (a video made from them has one size).
    """

    def __init__(self, paths: list[Path]):
        self._paths = paths
        self._next = 0
        self._size: tuple[int, int] | None = None

    @classmethod
    def from_source(cls, source: str) -> "ImageSequence":
        if "%" in source:
            return cls(_pattern_paths(source))
        return cls(sorted(p for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS))

    def isOpened(self) -> bool:  # noqa: N802 - cv2.VideoCapture's name
        return bool(self._paths)

    def read(self) -> tuple[bool, np.ndarray | None]:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            # IMREAD_COLOR turns grey, BGRA and 16-bit images into 8-bit BGR
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                if self._size is None:
                    self._size = (image.shape[1], image.shape[0])
                return True, letterbox(image, *self._size)
            log.warning("Skipping %s: not an image OpenCV can read", path)
        return False, None

    def get(self, prop: int) -> float:
        return float(len(self._paths)) if prop == cv2.CAP_PROP_FRAME_COUNT else 0.0

    def set(self, prop: int, value: float) -> bool:
        return False

    def release(self) -> None:
        self._next = len(self._paths)


def _pattern_paths(pattern: str) -> list[Path]:
    """The files a printf pattern like frames/%04d.png names, in numeric order."""
    folder, name = os.path.split(pattern)
    spec = re.search(r"%0?\d*d", name)
    if spec is None or not os.path.isdir(folder or "."):
        return []
    number = re.compile(re.escape(name[: spec.start()]) + r"(\d+)" + re.escape(name[spec.end() :]) + "$")
    matches = []
    for entry in os.listdir(folder or "."):
        found = number.match(entry)
        # the formatting check keeps %04d from matching an unpadded 12.png
        if found and name % int(found.group(1)) == entry:
            matches.append((int(found.group(1)), Path(folder or ".", entry)))
    return [path for _, path in sorted(matches)]


def open_source(source: Source):
    """The default opener: a cv2.VideoCapture for cameras and videos, an ImageSequence for images."""
    index = camera_index(source)
    if index is not None:
        with quiet_opencv():
            return cv2.VideoCapture(index)
    source = os.fspath(source)
    if _file_kind(source) == "images":
        return ImageSequence.from_source(source)
    return cv2.VideoCapture(source)


class CaptureThread:
    """Reads a source on a daemon thread; read() hands out the newest unread frame.

    status is "running", "reconnecting" (a camera stopped delivering and is being reopened),
    "ended" (a file finished) or "stopped".
    """

    READ_FAILURES_BEFORE_RECONNECT = 5  # a camera may drop a single frame without being gone
    RECONNECT_FIRST_DELAY = 0.5
    RECONNECT_MAX_DELAY = 5.0

    def __init__(
        self,
        source: Source,
        width: int = 1280,
        height: int = 720,
        fps: float = 30.0,
        loop: bool = False,
        realtime: bool | None = None,
        opener: Callable[[Source], object] = open_source,
        held: bool = False,
    ):
        """`held`: a file's frames after the first wait for play(), so a file read in realtime
        starts its clock when the consumer is ready (a network takes seconds to load), not
        when it was opened. A camera never waits: it delivers whether anyone looks or not."""
        self.camera = camera_index(source)
        self.source = self.camera if self.camera is not None else os.fspath(source)
        self.kind = "camera" if self.camera is not None else _file_kind(self.source)
        self.width, self.height, self.fps = width, height, fps
        self.loop = loop
        # cameras are always newest-wins: a camera cannot wait for the consumer
        self.realtime = True if self.kind == "camera" else bool(realtime)
        self._open = opener

        self.status = "stopped"
        self.frames_read = 0  # frames handed out plus frames dropped
        self.dropped = 0  # frames replaced by a newer one before the consumer took them
        self.reconnects = 0
        self.size: tuple[int, int] | None = None  # (width, height) actually delivered
        self.source_fps = fps  # a video's own rate once opened
        self.frame_count = 0  # how many frames a video file says it has (0: it does not say)
        self.error: BaseException | None = None  # what ended the reader thread, if it crashed

        self._capture = None
        self._first_image: np.ndarray | None = None
        self._latest: Frame | None = None
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._playing = threading.Event()
        if not held:
            self._playing.set()
        self._thread: threading.Thread | None = None
        self._next_due = 0.0
        self._frames_at_rewind = -1

    # -- consumer side ---------------------------------------------------------------------

    def start(self) -> "CaptureThread":
        """Open the source (raising SourceError if it cannot be used) and start reading."""
        if self._thread is not None:
            return self
        self._capture = self._open_checked()
        self._first_image = self._read_first()
        height, width = self._first_image.shape[:2]
        self.size = (width, height)
        if self.kind == "camera" and self.size != (self.width, self.height):
            log.info("Camera %s delivers %dx%d (asked for %dx%d)", self.camera, width, height, self.width, self.height)
        self._stopping.clear()
        self.status = "running"
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.source}", daemon=True)
        self._thread.start()
        return self

    def read(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not yet handed out; None after timeout, or at once when finished."""
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None or self.status in ("ended", "stopped"), timeout)
            frame, self._latest = self._latest, None
            self._cond.notify_all()  # a lock-step reader waits for the slot to empty
            return frame

    def play(self) -> None:
        """Let a `held` file go on past its first frame."""
        self._playing.set()

    @property
    def ended(self) -> bool:
        """True once a file has finished and its last frame has been handed out."""
        with self._cond:
            return self.status == "ended" and self._latest is None

    def stop(self) -> None:
        """Stop reading. A frame read but not yet handed out is given back: `frames_read` then
        counts the frames handed out plus those dropped, and nothing else."""
        with self._cond:
            self._stopping.set()
            self._playing.set()  # a held reader wakes to see it is stopping
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        elif self._capture is not None:
            self._capture.release()
        self._capture = None
        with self._cond:
            self.status = "stopped"
            if self._latest is not None:  # nothing is handed out after stop()
                self._latest = None
                self.frames_read -= 1
            self._cond.notify_all()

    def __enter__(self) -> "CaptureThread":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- opening ---------------------------------------------------------------------------

    def _open_checked(self):
        if self.kind == "video" and not os.path.isfile(self.source):
            raise SourceError(f"Video file {self.source} does not exist — check the path.")
        capture = self._open(self.source)
        if capture.isOpened():
            self._configure(capture)
            return capture
        capture.release()
        if self.kind == "camera":
            raise SourceError(f"No camera at index {self.camera} — is it plugged in and not used by another app?")
        if self.kind == "images":
            raise SourceError(f"No images found at {self.source} — point it at a folder of images or a pattern like frames/%04d.png.")
        raise SourceError(f"Cannot open video file {self.source} — it is damaged or incomplete (a download that "
                          "did not finish?), or not a video format OpenCV can read.")

    def _configure(self, capture) -> None:
        if self.kind == "camera":
            # MJPG before the size: many USB cameras only reach 720p30 compressed
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            capture.set(cv2.CAP_PROP_FPS, self.fps)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # a driver-side queue would add latency
        elif self.kind == "video":
            rate = capture.get(cv2.CAP_PROP_FPS)
            if rate and 0 < rate < 1000:
                self.source_fps = rate
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
            self.frame_count = int(count) if count and 0 < count < 2**31 else 0

    def _read_first(self) -> np.ndarray:
        attempts = 3 if self.kind == "camera" else 1  # a camera may need a moment to warm up
        for _ in range(attempts):
            ok, image = self._capture.read()
            if ok and image is not None:
                return as_bgr(image)
        self._capture.release()
        self._capture = None
        if self.kind == "camera":
            raise SourceError(f"Camera {self.camera} opened but sends no frames — close other apps using it and try again.")
        raise SourceError(f"{self.source} has no frames OpenCV can decode — is it a valid video or image?")

    def _try_reopen(self):
        try:
            capture = self._open(self.source)
        except Exception:
            log.debug("Reopening %s failed", self.source, exc_info=True)
            return None
        if capture.isOpened():
            self._configure(capture)
            return capture
        capture.release()
        return None

    # -- reader thread ---------------------------------------------------------------------

    def _run(self) -> None:
        image, self._first_image = self._first_image, None
        timestamp = time.monotonic()
        failures = 0
        try:
            if self.kind != "camera":
                self._publish(as_bgr(image), timestamp)
                image = None
                self._playing.wait()  # stop() sets it too
            self._next_due = time.monotonic() + 1.0 / self.source_fps  # the first frame was read in start()
            while not self._stopping.is_set():
                if image is None:
                    self._pace()
                    ok, image = self._capture.read()
                    timestamp = time.monotonic()
                    if not ok or image is None:
                        image = None
                        if self.kind == "camera":
                            failures += 1
                            if failures >= self.READ_FAILURES_BEFORE_RECONNECT:
                                self._reconnect()
                                failures = 0
                        elif not (self.loop and self._rewind()):
                            self._finish("ended")
                            return
                        continue
                    failures = 0
                self._publish(as_bgr(image), timestamp)
                image = None
        except Exception as exc:  # a crash must not leave the consumer waiting forever
            log.exception("Reading %s failed", self.source)
            self.error = exc
            self._finish("ended")
        finally:
            if self._capture is not None:
                self._capture.release()

    def _publish(self, image: np.ndarray, timestamp: float) -> None:
        with self._cond:
            if not self.realtime:
                self._cond.wait_for(lambda: self._latest is None or self._stopping.is_set())
                if self._stopping.is_set():
                    return
            if self._latest is not None:
                self.dropped += 1
            self._latest = Frame(image, self.frames_read, timestamp)
            self.frames_read += 1
            self._cond.notify_all()

    def _pace(self) -> None:
        """Hold a realtime file to its own frame rate; cameras pace themselves."""
        if self.kind == "camera" or not self.realtime:
            return
        period = 1.0 / self.source_fps
        now = time.monotonic()
        if self._next_due < now - period:  # after a stall, start again rather than rush to catch up
            self._next_due = now
        if self._next_due > now:
            self._stopping.wait(self._next_due - now)
        self._next_due += period

    def _rewind(self) -> bool:
        """Reopen a looping file at its start; False if it cannot, or gave nothing since the last time."""
        if self.frames_read == self._frames_at_rewind:
            return False
        self._frames_at_rewind = self.frames_read
        self._capture.release()
        self._capture = self._try_reopen()
        return self._capture is not None

    def _reconnect(self) -> None:
        """Reopen a camera that stopped delivering, backing off until it works or stop()."""
        with self._cond:
            self.status = "reconnecting"
        log.warning("Camera %s stopped sending frames; reconnecting", self.camera)
        self._capture.release()
        self._capture = None
        delay = self.RECONNECT_FIRST_DELAY
        while not self._stopping.wait(delay):
            self._capture = self._try_reopen()
            if self._capture is not None:
                self.reconnects += 1
                with self._cond:
                    self.status = "running"
                log.info("Camera %s is back", self.camera)
                return
            delay = min(delay * 2, self.RECONNECT_MAX_DELAY)

    def _finish(self, status: str) -> None:
        with self._cond:
            self.status = status
            self._cond.notify_all()


def _file_kind(path: str) -> str:
    return "images" if "%" in path or os.path.isdir(path) else "video"
