"""pyvirtualcam backends for tests: one that records what it receives, one with no driver.

Use them through `registered(...)`, which removes the backend again afterwards, so that no
other test's `backend=None` camera silently ends up on the recorder.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import pyvirtualcam
from pyvirtualcam.camera import BACKENDS
from pyvirtualcam.util import encode_fourcc

NAME = "segcam-test"
DEVICE = "/dev/video-segcam-test"
# the text of pyvirtualcam's own v4l2loopback backend when the module is not loaded
NO_DRIVER_MESSAGE = ("No v4l2 loopback device found at /dev/video[0-99]. "
                     "Did you run 'modprobe v4l2loopback'? See also pyvirtualcam's documentation.")


class RecordingBackend:
    """Keeps a copy of every frame; `instances` lists every camera opened, oldest first."""

    instances: list["RecordingBackend"] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw):
        self.width, self.height, self.fps = width, height, fps
        self.fourcc = fourcc
        self._device = device or DEVICE
        self.frames: list[np.ndarray] = []  # as handed over: 1-D, C-ordered, uint8
        self.closed = False
        RecordingBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        assert not self.closed, "send() after close()"
        self.frames.append(frame.copy())  # the caller may reuse its buffer

    def close(self) -> None:
        assert not self.closed, "close() called twice"
        self.closed = True

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int:
        return self.fourcc

    def images(self) -> list[np.ndarray]:
        """The received frames as HxWx3 images (valid for PixelFormat.BGR and RGB)."""
        return [f.reshape(self.height, self.width, 3) for f in self.frames]


class MissingDriverBackend:
    """Fails the way pyvirtualcam's v4l2loopback backend does when the module is not loaded."""

    def __init__(self, **kw):
        raise RuntimeError(NO_DRIVER_MESSAGE)


BGR_FOURCC = encode_fourcc(pyvirtualcam.PixelFormat.BGR.value)


@contextlib.contextmanager
def registered(backend_class=RecordingBackend, name: str = NAME) -> Iterator[str]:
    """Register backend_class under name for the with-block; yields the name."""
    previous = BACKENDS.get(name)
    RecordingBackend.instances.clear()
    pyvirtualcam.register_backend(name, backend_class)
    try:
        yield name
    finally:
        if previous is None:
            BACKENDS.pop(name, None)
        else:
            BACKENDS[name] = previous
