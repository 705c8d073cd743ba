"""The session's virtual camera: whether it is wanted (with which backend and device), its sink
while one is attached to the running pipeline, and the new camera a new frame size asks for.

Session drives it from its control thread (or the command line's thread); only
`resize_needed` is asked from the pipeline's worker thread. What happens is told through the
session's Listener (vcam_started, vcam_failed, vcam_stopped).
"""

from __future__ import annotations

import dataclasses
import threading

from segcam import doctor, sinks as sink_factory, vcam
from segcam.errors import NoVirtualCamera, SegcamError, VirtualCameraError
from segcam.settings import OutputSettings


class VirtualCameraLink:
    def __init__(self, listener):
        self.listener = listener
        self.wanted: tuple[str | None, str | None] | None = None  # (backend, device) while on
        self.sink = None  # the virtual camera's sink while one is attached
        self._lock = threading.Lock()
        self._resize_queued = False

    # -- a new pipeline ----------------------------------------------------------------------

    def sinks_for(self, output: OutputSettings, width: int, height: int, fps: float, required: bool) -> list:
        """The camera's sink for a new pipeline while it is wanted ([] otherwise). `required` (the
        command line): a camera that does not start raises; else (the app) it is switched off and
        the listener told why."""
        if self.wanted is None:
            return []
        try:
            # the command line's camera keeps its frame rate; the app's goes at the source's pace
            self.sink = self._open(output, width, height, fps, pace=required)
        except SegcamError as exc:
            if required:
                raise
            self.wanted = None  # the app goes on without it, and says why
            self.listener.vcam_failed(exc)
            return []
        return [self.sink]

    def tell_started(self) -> None:
        if self.sink is not None:
            self.listener.vcam_started(self.sink.describe(), self.sink.hint)

    def released(self) -> None:
        """The pipeline stopped, and closed the sink with its others."""
        if self.sink is not None:
            self.sink = None
            self.listener.vcam_stopped()

    # -- the switch ---------------------------------------------------------------------------

    def set(self, wanted: tuple[str | None, str | None] | None, pipeline, frame_size) -> None:
        """Switch on (`wanted`: backend, device) or off (None), with the running pipeline if any."""
        self.wanted = wanted
        if wanted is None:
            self.detach(pipeline)
            self.listener.vcam_stopped()
        elif self.sink is None and pipeline is not None and pipeline.running:
            self.attach(pipeline, frame_size)
        elif self.sink is None and wanted[0] is None and vcam.system.choose_backend(None) != "pipewire":
            # no picture yet: a machine without the driver hears it now, not once the camera runs
            # (a named backend is pyvirtualcam's to judge; doctor checks the default one)
            problem = doctor.virtual_camera_problem()
            if problem is not None:
                self.wanted = None
                self.listener.vcam_failed(VirtualCameraError(doctor.no_virtual_camera(problem=problem)))

    def attach(self, pipeline, frame_size) -> None:
        width, height = frame_size or pipeline.frame_size
        try:
            sink = self._open(pipeline.settings.output, width, height, pipeline.settings.source.fps)
        except SegcamError as exc:
            self.wanted = None
            self.listener.vcam_failed(exc)
            return
        pipeline.add_sink(sink)
        self.sink = sink
        self.tell_started()

    def detach(self, pipeline) -> None:
        sink, self.sink = self.sink, None
        if sink is not None and pipeline is not None:
            pipeline.remove_sink(sink)
        elif sink is not None:
            sink.close()

    # -- a new frame size ---------------------------------------------------------------------

    def resize_needed(self, width: int, height: int) -> bool:
        """From the worker thread: True once when frames of a new size reach an attached camera
        (the caller then has `resize` run on the control thread)."""
        with self._lock:
            sink = self.sink
            needed = sink is not None and (sink.width, sink.height) != (width, height) and not self._resize_queued
            self._resize_queued |= needed
            return needed

    def resize(self, pipeline, frame_size) -> None:
        """The source changed size: give meeting apps a camera of the new size (for the PipeWire
        camera, a new node with the new caps)."""
        with self._lock:
            self._resize_queued = False
        if self.sink is not None and self.wanted is not None and pipeline is not None:
            self.detach(pipeline)
            self.attach(pipeline, frame_size)

    # -- the sink -------------------------------------------------------------------------------

    def _open(self, output: OutputSettings, width: int, height: int, fps: float, pace: bool = False):
        """The camera's sink; when pyvirtualcam finds no camera, the error says what this machine
        lacks and doctor's fix for it (the one text the command line and the app show)."""
        backend, device = self.wanted
        output = dataclasses.replace(output, target="vcam", vcam_backend=backend, vcam_device=device)
        try:
            (sink,) = sink_factory.build(output, width, height, fps, pace=pace, on_status=self.listener.vcam_status)
        except NoVirtualCamera as exc:
            raise VirtualCameraError(doctor.no_virtual_camera(exc.reason)) from exc
        return sink
