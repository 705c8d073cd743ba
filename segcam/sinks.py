"""The output stage: where composited frames go (a virtual camera, a video file, the app's preview).

Every sink has send(frame_bgr) and close() and is a context manager. Sinks resize frames
that do not match their size, so a source that delivers another size than asked still works.
"""

from __future__ import annotations

import os
import platform
from typing import Callable

import cv2
import numpy as np
import pyvirtualcam

from segcam.errors import SegcamError, VirtualCameraError

LINUX_FIX = "sudo modprobe v4l2loopback exclusive_caps=1 card_label=segcam"
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


def fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame at width x height, resized only when it differs."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    shrinking = w * h > width * height
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def driver_fix() -> str:
    """What a person on this OS does to get a virtual camera driver."""
    system = platform.system()
    if system == "Linux":
        return (f"load the v4l2loopback driver with `{LINUX_FIX}` "
                "(Chrome and Zoom only list the camera with exclusive_caps=1)")
    if system in ("Windows", "Darwin"):
        return "install OBS Studio and click its Start Virtual Camera button once"
    return f"pyvirtualcam has no virtual camera driver for {system or 'this system'}"


class Sink:
    def send(self, frame_bgr: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class VirtualCameraSink(Sink):
    """Frames to a virtual camera that meeting apps list like a webcam."""

    def __init__(self, width: int, height: int, fps: float, backend: str | None = None,
                 device: str | None = None, pace: bool = False):
        self.width, self.height, self.fps = width, height, fps
        self.pace = pace
        if backend is not None and backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(pyvirtualcam.camera.BACKENDS) or "none on this system"
            raise VirtualCameraError(f"Unknown virtual camera backend {backend!r}; available: {known}.")
        try:
            self._camera = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                               backend=backend, device=device)
        except RuntimeError as exc:
            reason = "; ".join(line for line in str(exc).splitlines() if line.strip())
            raise VirtualCameraError(
                f"Cannot start the virtual camera: {driver_fix()}, then try again (pyvirtualcam: {reason})") from exc
        self.device: str = self._camera.device

    def describe(self) -> str:
        return f"Sending to {self.device} as {self.width}x{self.height} @{self.fps:g}"

    @property
    def frames_sent(self) -> int:
        return self._camera.frames_sent if self._camera is not None else 0

    def send(self, frame_bgr: np.ndarray) -> None:
        try:
            self._camera.send(fit(frame_bgr, self.width, self.height))
        except RuntimeError as exc:  # the device went away (driver unloaded, OBS closed)
            raise VirtualCameraError(f"The virtual camera {self.device} stopped taking frames: {exc}") from exc
        if self.pace:
            self._camera.sleep_until_next_frame()

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None


class VideoFileSink(Sink):
    """Frames to a .mp4 (mp4v) or .avi (MJPG) file."""

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float):
        self.path = os.fspath(path)
        self.width, self.height, self.fps = width, height, fps
        self.frames_written = 0
        codec = VIDEO_CODECS.get(os.path.splitext(self.path)[1].lower())
        if codec is None:
            raise SegcamError(f"Cannot write {self.path}: give the output a .mp4 or .avi name.")
        self._writer = cv2.VideoWriter(self.path, cv2.VideoWriter.fourcc(*codec), fps, (width, height))
        if not self._writer.isOpened():
            raise SegcamError(f"Cannot write video file {self.path} — check that its folder exists and is writable.")

    def send(self, frame_bgr: np.ndarray) -> None:
        self._writer.write(fit(frame_bgr, self.width, self.height))
        self.frames_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


class CallbackSink(Sink):
    """Frames to a function, e.g. the app's preview."""

    def __init__(self, fn: Callable[[np.ndarray], object]):
        self.fn = fn

    def send(self, frame_bgr: np.ndarray) -> None:
        self.fn(frame_bgr)
