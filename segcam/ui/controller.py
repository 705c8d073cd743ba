"""The bridge between the engine and the GUI thread.

Anything that can block (opening a camera, loading a network, a background, the virtual
camera, or waiting for the pipeline's lock) runs on one control thread, in order, and
reports back with Qt signals, so the window never waits. Frames come from the pipeline's
worker thread: only the newest is kept, and a signal is sent only when the GUI has taken the
previous one, so a busy GUI drops preview frames instead of queueing them up. Widgets are
never touched from either thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from segcam.errors import SegcamError
from segcam.models import registry
from segcam.pipeline import Pipeline
from segcam.processor import Result
from segcam.segmenter import Segmenter
from segcam.settings import Settings
from segcam.ui.vcam_panel import describe_failure

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 0.5
_STOP = object()  # the control thread's "no more jobs"


class PipelineController(QObject):
    frame_ready = Signal()  # a new Result waits in take_frame()
    stats_ready = Signal(object)  # pipeline.Stats
    applied = Signal(object)  # the Settings the pipeline now runs with
    failed = Signal(object, object)  # (Settings that were refused, the error)
    paused = Signal(object)  # the pause mode now in force, or None
    vcam_started = Signal(str)  # the virtual camera's description
    vcam_failed = Signal(object, str)  # VirtualCameraError (the switch is off again), what to do in words
    vcam_stopped = Signal()
    stopped = Signal(object)  # the pipeline ended by itself: the error, or None for a finished file
    network_ready = Signal(object)  # Settings whose network loaded beside the running one
    network_failed = Signal(object, object)  # (those Settings, the error); the running pipeline is untouched

    def __init__(self, realtime: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self.realtime = realtime
        self.pipeline: Pipeline | None = None
        self.pause_mode: str | None = None
        self._vcam = None  # the VirtualCameraSink while one is attached
        self._vcam_wanted: tuple[str | None, str | None] | None = None  # (backend, device) while on
        self._lock = threading.Lock()  # guards the fields the worker thread writes
        self._latest: Result | None = None
        self._frame_pending = False
        self._frame_size: tuple[int, int] | None = None
        self._resize_queued = False
        self._wanted: Settings | None = None
        self._apply_queued = False
        self._stats_at = 0.0  # when stats were last sent
        self._reaped: Pipeline | None = None  # the last pipeline seen ending by itself
        self._closed = False
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="segcam-ui-control", daemon=True)
        self._thread.start()
        # a pipeline ends by itself when its source fails or a file ends; notice that here,
        # in the GUI thread, rather than from inside the dying worker
        self._watch = QTimer(self, interval=300, timeout=self._check_alive)
        self._watch.start()

    # -- what the window asks for (GUI thread; returns at once) --------------------------

    def apply(self, settings: Settings) -> None:
        """Run with these settings: update the running pipeline, or start one.

        Quick successive calls (a slider being dragged) collapse into one: only the newest
        settings are applied. Answers with applied or failed.
        """
        with self._lock:
            self._wanted = settings
            if self._apply_queued:
                return
            self._apply_queued = True
        self._submit(self._apply_latest)

    def load_network(self, settings: Settings) -> None:
        """Load the network these settings choose without touching the running pipeline.

        Answers with network_ready, after which apply(settings) switches to it from the caches
        it filled (the converted weights, the ONNX export), or network_failed.
        """
        self._submit(lambda: self._load_network(settings))

    def pause(self, mode: str | None) -> None:
        self._submit(lambda: self._pause(mode))

    def set_virtual_camera(self, on: bool, backend: str | None = None, device: str | None = None) -> None:
        self._submit(lambda: self._set_vcam((backend, device) if on else None))

    def take_frame(self) -> Result | None:
        """The newest result; the next one will signal frame_ready again."""
        with self._lock:
            result, self._frame_pending = self._latest, False
            return result

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the newest frame, or None before the first."""
        with self._lock:
            return self._frame_size

    @property
    def running(self) -> bool:
        pipeline = self.pipeline
        return pipeline is not None and pipeline.running

    def shutdown(self) -> None:
        """Stop everything and release the camera and the virtual camera. Blocks until done."""
        if self._closed:
            return
        self._closed = True
        self._watch.stop()
        self._jobs.put(_STOP)
        self._thread.join()

    # -- the control thread -----------------------------------------------------------------

    def _submit(self, job: Callable[[], None]) -> None:
        if not self._closed:
            self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            try:
                job()
            except Exception:  # a bug in one job must not end the control thread
                log.exception("app control job failed")
        self._stop_pipeline()

    def _apply_latest(self) -> None:
        with self._lock:
            settings, self._apply_queued = self._wanted, False
        try:
            if self.running:
                self.pipeline.update(settings)
            else:
                self._start(settings)
        except Exception as exc:
            if not isinstance(exc, SegcamError):
                log.exception("applying settings failed")
            self.failed.emit(settings, exc)
            return
        self.applied.emit(settings)

    def _load_network(self, settings: Settings) -> None:
        try:
            width, height = self.frame_size or (settings.width, settings.height)
            Segmenter(registry.resolve(settings.model, width, height), settings.device, download=False)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the old network keeps running
            if not isinstance(exc, SegcamError):
                log.exception("loading a network failed")
            self.network_failed.emit(settings, exc)
            return
        self.network_ready.emit(settings)

    def _start(self, settings: Settings) -> None:
        self._stop_pipeline()
        pipeline = Pipeline(settings, on_result=lambda result: self._on_result(pipeline, result),
                            realtime=self.realtime)
        pipeline.pause(self.pause_mode)
        pipeline.start()
        self.pipeline = pipeline
        if self._vcam_wanted is not None:
            self._attach_vcam()

    def _stop_pipeline(self) -> None:
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.stop()  # closes its sinks, the virtual camera included
        if self._vcam is not None:
            self._vcam = None
            self.vcam_stopped.emit()

    def _pause(self, mode: str | None) -> None:
        if self.pipeline is not None:
            self.pipeline.pause(mode)
        self.pause_mode = mode
        self.paused.emit(mode)

    def _set_vcam(self, wanted: tuple[str | None, str | None] | None) -> None:
        self._vcam_wanted = wanted
        if wanted is None:
            self._detach_vcam()
            self.vcam_stopped.emit()
        elif self._vcam is None and self.running:
            self._attach_vcam()

    def _attach_vcam(self) -> None:
        from segcam.sinks import VirtualCameraSink

        backend, device = self._vcam_wanted
        width, height = self._frame_size or self.pipeline.frame_size
        try:
            sink = VirtualCameraSink(width, height, self.pipeline.settings.fps, backend=backend, device=device)
        except SegcamError as exc:
            self._vcam_wanted = None
            self.vcam_failed.emit(exc, describe_failure(exc))  # here: it may run `segcam doctor`'s checks
            return
        self.pipeline.add_sink(sink)
        self._vcam = sink
        self.vcam_started.emit(sink.describe())

    def _detach_vcam(self) -> None:
        sink, self._vcam = self._vcam, None
        if sink is not None and self.pipeline is not None:
            self.pipeline.remove_sink(sink)
        elif sink is not None:
            sink.close()

    def _resize_vcam(self) -> None:
        """The source changed size: give meeting apps a camera of the new size."""
        with self._lock:
            self._resize_queued = False
        if self._vcam is not None and self._vcam_wanted is not None:
            self._detach_vcam()
            self._attach_vcam()

    def _reap(self, pipeline: Pipeline) -> None:
        if pipeline is self.pipeline:
            self._stop_pipeline()

    # -- the pipeline's worker thread ------------------------------------------------------

    def _on_result(self, pipeline: Pipeline, result: Result) -> None:
        height, width = result.output.shape[:2]
        with self._lock:
            self._latest = result
            notify, self._frame_pending = not self._frame_pending, True
            self._frame_size = (width, height)
            vcam = self._vcam
            resize = vcam is not None and (vcam.width, vcam.height) != (width, height) and not self._resize_queued
            self._resize_queued |= resize
            now = time.monotonic()
            stats_due = now - self._stats_at >= STATS_INTERVAL_S
            if stats_due:
                self._stats_at = now
        if resize:
            self._submit(self._resize_vcam)
        if notify:
            self.frame_ready.emit()
        if stats_due:
            self.stats_ready.emit(pipeline.stats)

    # -- GUI thread ------------------------------------------------------------------------

    def _check_alive(self) -> None:
        pipeline = self.pipeline
        if pipeline is not None and not pipeline.running and pipeline is not self._reaped:
            self._reaped = pipeline
            self._submit(lambda: self._reap(pipeline))
            self.stopped.emit(pipeline.error)
