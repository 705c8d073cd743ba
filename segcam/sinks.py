"""The output stage: where composited frames go (a virtual camera, a video file, the app's preview).

The sink contract (`Sink`), which the pipeline relies on and a new sink keeps:

- `send(frame_bgr)` takes one composited BGR uint8 frame of any size: a sink of a fixed size
  fits it (resized, never squashed; see `fit`). It raises a SegcamError saying what broke (the
  device went away, the disk is full); the pipeline then stops and closes every sink.
  `frames_sent` counts the frames a sink took.
- `close()` releases what the sink holds and is safe to call twice. A sink that makes a file
  finishes it here; after `mark_incomplete()` (the run failed elsewhere) it must not replace
  an existing file with part of a run. It may raise a SegcamError (the disk filled while
  the file was finished).
- `describe()` says in words where frames go ("Sending to /dev/video10 as 1280x720 @30").
  `notes` are sentences for the user about the output (no sound kept, size padded);
  `outcome` says, after a failure, what was kept.

Sinks are made in one place, `build`, from the output setting ("vcam", a file, "none").
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import pyvirtualcam

from segcam import vcam, video_file
from segcam.errors import NoVirtualCamera, OutputError, VirtualCameraError
from segcam.imageops import letterbox

# pyvirtualcam's built-in backends and ours, for the message about an unknown one (pyvirtualcam
# does not export the names it knows)
KNOWN_BACKENDS = "v4l2loopback (Linux), pipewire (Linux), obs (Windows, macOS), unitycapture (Windows)"


def fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The frame at width x height: resized only when it differs, and never squashed (a frame
    of another shape is fitted inside and bordered with black)."""
    return letterbox(frame, width, height)


class _Camera(pyvirtualcam.Camera):
    """pyvirtualcam's camera, except that one whose constructor failed (an unknown backend) is let
    go quietly: pyvirtualcam's own would print an error from its destructor when collected."""

    def __del__(self):
        try:
            super().__del__()
        except AttributeError:  # it never opened, so there is nothing to close
            pass


class Sink:
    """Where frames go; see the module's docstring for what each method promises."""

    frames_sent = 0
    notes: list[str] = []  # never appended to here: a sink with notes makes its own list
    outcome = ""

    def send(self, frame_bgr: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def mark_incomplete(self) -> None:
        """The run failed elsewhere; only a sink that makes a file needs to care."""

    def describe(self) -> str:
        return type(self).__name__

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def build(output, width: int, height: int, fps: float, *, pace: bool = False, overwrite: bool = False,
          audio_from: str | None = None, inputs=(), on_status=None) -> list[Sink]:
    """The sinks an output setting asks for (an `OutputSettings`): none, the virtual camera, or a
    video file. `pace` holds the virtual camera to its frame rate; a file gets `audio_from`'s
    sound and must not be any of `inputs`."""
    if output.target == "none":
        return []
    if output.target == "vcam":
        return [VirtualCameraSink(width, height, fps, backend=output.vcam_backend, device=output.vcam_device,
                                  pace=pace, on_status=on_status)]
    return [VideoFileSink(output.target, width, height, fps, audio_from=audio_from, overwrite=overwrite,
                          inputs=inputs)]


class VirtualCameraSink(Sink):
    """Frames to a virtual camera that meeting apps list like a webcam. With no backend named, Linux
    takes v4l2loopback where it is loaded and PipeWire where it is not (vcam.system.choose_backend)."""

    def __init__(self, width: int, height: int, fps: float, backend: str | None = None,
                 device: str | None = None, pace: bool = False, on_status=None):
        """`on_status(sentence, working)`: a camera that can be lost and come back while it runs
        (the PipeWire camera) says so through it."""
        self.width, self.height, self.fps = width, height, fps
        self.pace = pace
        backend = vcam.system.choose_backend(backend)
        try:
            extra = {"on_status": on_status} if backend == "pipewire" and on_status is not None else {}
            self._camera = _Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR, backend=backend,
                                   device=device, **extra)
        except KeyError:  # pyvirtualcam looks a named backend up in its registry
            raise VirtualCameraError(f"Unknown virtual camera backend {backend!r}; pyvirtualcam's are "
                                     f"{KNOWN_BACKENDS}.", setting="vcam_backend") from None
        except RuntimeError as exc:
            reason = "; ".join(line for line in str(exc).splitlines() if line.strip())
            if backend == "pipewire":  # our backend's reason is one sentence with its fix
                reason = reason.removeprefix("'pipewire' backend: ")
                raise VirtualCameraError(f"Cannot start the PipeWire camera: {reason}.", setting="vcam_backend") from exc
            raise NoVirtualCamera(reason) from exc
        self.device: str = self._camera.device
        self.backend: str = self._camera.backend
        # how meeting apps find it: a PipeWire camera needs a switch in the browser, and Zoom misses it
        self.hint = vcam.system.how_to_use(self.backend)
        self.notes = [f"{self.hint}."] if self.backend == "pipewire" else []

    def describe(self) -> str:
        where = f"the PipeWire camera {self.device!r}" if self.backend == "pipewire" else self.device
        return f"Sending to {where} as {self.width}x{self.height} @{self.fps:g}"

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
    """Frames to a video file that takes its name only when finished (see segcam.video_file).

    It is written under a temporary name beside it, so an existing file is never half
    overwritten. A failed write raises OutputError; close() then keeps what plays under the
    output's name if nothing was there before, and removes the rest. `notes` are sentences
    for the user (no sound kept, size padded); `outcome` says what was kept after a failure.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float,
                 audio_from: str | None = None, overwrite: bool = False, inputs=(),
                 open_file: Callable = open):
        self.path = video_file.check_output(path, overwrite, inputs)
        self.width, self.height, self.fps = width, height, fps
        self.frames_sent = 0
        self.notes: list[str] = []
        self.outcome = ""
        self._error: OutputError | None = None
        self._incomplete = False
        self._temp = video_file.temporary_beside(self.path)
        try:
            self._writer = video_file.open_writer(self._temp, width, height, fps, audio_from, open_file)
        except BaseException as exc:
            self._temp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise OutputError(f"Cannot write video file {self.path}: {exc.strerror or exc}.") from None
            raise
        written = self._writer
        if (written.width, written.height) != (width, height):
            self.notes.append(f"{self.path.name} is {written.width}x{written.height}: {written.codec} needs even "
                              f"sizes, so the {width}x{height} frames get a repeated last column or row.")
        if audio_from and written.audio is None:
            if not video_file.pyav_available():
                self.notes.append(f"PyAV is not installed, so {self.path.name} is written as {written.codec} "
                                  "without the source's sound (pip install av keeps it).")
            elif written.codec != "H.264" and video_file.has_sound(audio_from):
                self.notes.append(f"{self.path.suffix} files are written without sound; name the output .mp4 "
                                  "to keep the source's sound.")

    def describe(self) -> str:
        sound = ", with the source's sound" if self._writer is not None and self._writer.audio else ""
        codec = self._writer.codec if self._writer is not None else ""
        return f"Writing {self.path} ({codec}{sound})"

    def send(self, frame_bgr: np.ndarray) -> None:
        if self._writer is None:
            raise OutputError(f"{self.path} is already closed.")
        try:
            self._writer.write(fit(frame_bgr, self.width, self.height))
        except OSError as exc:
            self._error = self._write_error(exc)
            raise self._error from None
        self.frames_sent += 1

    def mark_incomplete(self) -> None:
        """The run failed elsewhere: close() must not replace an existing file with part of a video."""
        self._incomplete = True

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if self._error is None:
            try:
                writer.finish()
            except OSError as exc:  # the disk filled up while the last pieces were written
                self._error = self._write_error(exc)
        else:
            writer.abandon()
        if self._error is None and not self._incomplete:
            os.replace(self._temp, self.path)
            return
        self.outcome = self._keep_what_plays()
        if self._error is not None:
            # one sentence: what went wrong, then what the user has
            self._error.args = (f"{self._error.args[0]}; {self.outcome}.",)
            raise self._error

    def _write_error(self, exc: OSError) -> OutputError:
        if exc.errno in video_file.FULL_DISK:
            reason = f"The disk holding {self.path} is full"
        else:
            reason = f"Writing {self.path} failed ({exc.strerror or exc})"
        return OutputError(f"{reason}: segcam stopped after {self.frames_sent} frames")

    def _keep_what_plays(self) -> str:
        frames = video_file.keep_whole_frames(self._temp)
        if frames and not self.path.exists():  # never replace a finished file with part of a video
            os.replace(self._temp, self.path)
            return f"{self.path.name} holds the first {frames} frames and plays"
        self._temp.unlink(missing_ok=True)
        if self.path.exists():
            return f"{self.path.name} was left as it was"
        return f"nothing playable was written, so there is no {self.path.name}"


class CallbackSink(Sink):
    """Frames to a function, e.g. the app's preview."""

    def __init__(self, fn: Callable[[np.ndarray], object]):
        self.fn = fn
        self.frames_sent = 0

    def send(self, frame_bgr: np.ndarray) -> None:
        self.fn(frame_bgr)
        self.frames_sent += 1
