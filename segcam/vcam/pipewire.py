"""A PipeWire camera: a pyvirtualcam backend that offers segcam's frames as a PipeWire video source
with the Camera role, which browsers reach through the desktop portal. No kernel module.

Why a `gst-launch-1.0` child fed raw frames on a pipe, not GStreamer in this process through
PyGObject: PyGObject on PyPI is source only (it needs a compiler and the gobject-introspection and
cairo headers), and a child keeps GStreamer's and PipeWire's crashes out of segcam: when the
child dies the preview and the file outputs go on and a new child takes over.

The child: raw frames on stdin -> rawvideoparse -> videoconvert (the one conversion, BGR to YUY2,
which every PipeWire camera consumer reads) -> identity drop-allocation=true (without it
pipewiresink 0.3.65 crashes when a consumer connects) -> pipewiresink mode=provide, a node with
media.class=Video/Source and media.role=Camera (without the role the portal never offers it).

`send` never waits on the child: the newest frame waits in one slot, and a writer thread hands
it on. The writer also watches the daemon: when it goes away (the child notices nothing, so the
writer looks at the daemon's socket) the child is ended, one sentence is logged, and a new child
starts when the daemon answers again. A new size is a new camera (the session makes one).
"""

from __future__ import annotations

import logging
import os
import re
import select
import subprocess
import threading
import time

import numpy as np
from pyvirtualcam.util import decode_fourcc, encode_fourcc

from segcam.vcam import system

log = logging.getLogger(__name__)

NODE_NAME = "segcam"
WATCH_INTERVAL_S = 0.5  # how often the writer looks for the daemon while frames flow
START_WAIT_S = 0.4  # a child that cannot start (no daemon, no pipewiresink) has ended by then
# pyvirtualcam's pixel formats (FourCC) -> rawvideoparse's names
RAW_FORMATS = {"24BG": "bgr", "raw ": "rgb", "ABGR": "rgba", "J400": "gray8", "I420": "i420", "NV12": "nv12",
               "YUY2": "yuy2", "UYVY": "uyvy"}


def gst_command(width: int, height: int, fps: float, raw_format: str, node: str) -> list[str]:
    """The child's command line (gst-launch parses each argument as one piece of the pipeline)."""
    # a whole number: Chromium 156 plays nothing from a camera that offers 2997/100 (a clip's
    # 29.97); the rate is only a hint anyway, since frames go out as they come (sync=false)
    rate = max(1, round(fps)) if fps > 0 else 30
    props = (f"props,media.class=Video/Source,media.role=Camera,node.name={node},node.description={node},"
             "media.name=segcam")
    return [system.GST_LAUNCH, "-q", "fdsrc", "fd=0", f"blocksize={frame_bytes(width, height, raw_format)}", "!",
            "rawvideoparse", f"format={raw_format}", f"width={width}", f"height={height}",
            f"framerate={rate}/1", "!",
            "videoconvert", "!", "video/x-raw,format=YUY2", "!",
            "identity", "drop-allocation=true", "!",
            # sync=false: a frame goes out as soon as it is made, not when the clock says
            "pipewiresink", "mode=provide", "sync=false", f"client-name={node}", f"stream-properties={props}"]


def frame_bytes(width: int, height: int, raw_format: str) -> int:
    per_pixel = {"bgr": 3, "rgb": 3, "rgba": 4, "gray8": 1, "i420": 1.5, "nv12": 1.5, "yuy2": 2, "uyvy": 2}
    return int(width * height * per_pixel[raw_format])


class PipeWireCamera:
    """pyvirtualcam's backend contract (pyvirtualcam.camera.Backend): keyword-only construction,
    send, close, device, native_fourcc. `device` names the PipeWire node (default "segcam")."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None = None,
                 on_status=None, **kw):
        """`on_status(sentence, working)`: told when the camera is lost (the daemon went away, the
        child died) and when it is offered again; without it, the sentences are logged."""
        raw_format = RAW_FORMATS.get(decode_fourcc(fourcc))
        if raw_format is None:
            raise ValueError(f"the PipeWire camera does not take {decode_fourcc(fourcc)!r} frames")
        if device is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", device):
            # it goes into GStreamer's properties text, where a space or a comma would end it
            raise ValueError(f"the PipeWire camera's name {device!r} may hold only letters, digits, '-', '_' and '.'")
        problem = system.pipewire_problem()
        if problem:
            raise RuntimeError(problem)
        self.width, self.height, self.fps = width, height, fps
        self._node = device or NODE_NAME
        self._command = gst_command(width, height, fps, raw_format, self._node)
        self._frame: bytes | None = None
        self._frame_number = 0
        self._wake = threading.Condition()
        self._closed = False
        self._child: subprocess.Popen | None = None
        self._daemon: tuple[int, int] | None = None  # the daemon socket's identity the child joined
        self._lost = False  # told the user the daemon went away; waiting for it to return
        self._on_status = on_status
        self._start_child(first=True)
        self._writer = threading.Thread(target=self._write_frames, name="segcam-pipewire-camera", daemon=True)
        self._writer.start()

    # -- pyvirtualcam's contract ---------------------------------------------------------

    def send(self, frame: np.ndarray) -> None:
        with self._wake:
            self._frame = frame.tobytes()
            self._frame_number += 1
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._writer.join(timeout=1)  # between frames it ends at once
        self._end_child()  # a writer stuck in a write (the child stopped reading) fails once the child is gone
        self._writer.join(timeout=10)

    def device(self) -> str:
        return self._node

    def native_fourcc(self) -> int:
        return encode_fourcc("YUY2")

    @property
    def connected(self) -> bool:
        """A child is offering the camera on a daemon that answers."""
        return self._child is not None and self._child.poll() is None and not self._lost

    # -- the child -------------------------------------------------------------------------

    def _start_child(self, first: bool = False) -> bool:
        identity = system.pipewire_socket_identity()
        # unbuffered: a write blocked on a child that stopped reading holds no lock that close() needs
        child = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, env=system.child_environment(), bufsize=0)
        try:
            child.wait(timeout=START_WAIT_S)
        except subprocess.TimeoutExpired:
            os.set_blocking(child.stdin.fileno(), False)  # see _write
            self._child, self._daemon = child, identity
            return True
        reason = _last_line(child.stderr.read().decode(errors="replace")) or f"exit status {child.returncode}"
        child.stderr.close()
        child.stdin.close()
        if first:
            raise RuntimeError(f"gst-launch-1.0 could not offer the PipeWire camera ({reason}); "
                               f"{system.install_line()}")
        log.info("The PipeWire camera could not start again (%s); segcam tries again in a moment.", reason)
        return False

    def _end_child(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.poll() is None:
            child.terminate()  # not an end of stream on stdin: a child blocked in pipewiresink never reads it
        try:
            child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()  # reaped: no zombie left behind
        for pipe in (child.stdin, child.stderr):
            try:
                pipe.close()
            except OSError:
                pass

    def _daemon_gone(self) -> bool:
        identity = system.pipewire_socket_identity()
        return identity is None or identity != self._daemon or not system.pipewire_answers()

    # -- the writer thread -----------------------------------------------------------------

    def _write_frames(self) -> None:
        written = 0
        checked_at = time.monotonic()
        while True:
            with self._wake:
                if not self._closed and self._frame_number == written:
                    self._wake.wait(timeout=WATCH_INTERVAL_S)
                if self._closed:
                    return
                frame, number = self._frame, self._frame_number
            now = time.monotonic()
            if self._lost or now - checked_at >= WATCH_INTERVAL_S or frame is None or number == written:
                checked_at = now
                if not self._watch_daemon():
                    continue
            if frame is None or number == written:
                continue
            written = number
            try:
                self._write(frame)
            except _DaemonGone:
                self._daemon_lost()
            except (OSError, AttributeError, ValueError):  # the child is gone, or close() took it
                if self._closed:
                    return
                self._child_died()

    def _write(self, frame: bytes) -> None:
        """The whole frame to the child, never blocked for long: a child that stops reading (its
        daemon went away: pipewiresink waits, and only gives up after half a minute) is noticed
        between the pieces, and ended."""
        child = self._child
        fd = child.stdin.fileno()
        view = memoryview(frame)
        ready = select.poll()
        ready.register(fd, select.POLLOUT)
        while view:
            if not ready.poll(WATCH_INTERVAL_S * 1000):
                if self._closed:
                    raise BrokenPipeError("closed")
                if self._daemon_gone():
                    raise _DaemonGone
                continue
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue

    def _watch_daemon(self) -> bool:
        """True while a child can take frames; ends it when the daemon went away, starts a new
        one when the daemon is back."""
        if self._lost:
            if system.pipewire_answers() and self._start_child():
                self._lost = False
                self._say(f"segcam's PipeWire camera {self._node!r} is offered again.", True)
                return True
            return False
        if self._child is None or self._child.poll() is not None:
            self._child_died()
            return False
        if self._daemon_gone():
            self._daemon_lost()
            return False
        return True

    def _daemon_lost(self) -> None:
        self._end_child()
        self._lost = True
        self._say("The PipeWire daemon stopped, so meeting apps lost segcam's camera; the preview and any "
                  "file go on, and the camera comes back when PipeWire does.", False)

    def _child_died(self) -> None:
        child = self._child
        reason = ""
        if child is not None:
            if child.poll() is None:
                child.kill()
            child.wait()
            reason = _last_line(child.stderr.read().decode(errors="replace"))
        if self._daemon_gone():  # the child ended because its daemon did: say what the user can see
            self._daemon_lost()
            return
        self._end_child()
        self._lost = True
        self._say(f"The PipeWire camera's GStreamer process ended{f' ({reason})' if reason else ''}; segcam starts "
                  "a new one while the preview and any file go on.", False)

    def _say(self, sentence: str, working: bool) -> None:
        if self._on_status is not None:
            self._on_status(sentence, working)
        else:
            log.warning(sentence)


class _DaemonGone(Exception):
    """The PipeWire daemon went away while a frame was being written."""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def register() -> None:
    import pyvirtualcam

    pyvirtualcam.register_backend("pipewire", PipeWireCamera)
