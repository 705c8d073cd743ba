"""The running state both front ends drive: which pipeline runs, with which settings, paused or
not, sending to the virtual camera or not. No Qt here: `segcam run` uses a Session directly,
the app through a thin adapter (segcam.ui.controller) that turns its callbacks into signals.

Two ways in:
- `start`, `stop`, `wait` run in the caller's thread and raise: the command line's way.
- `apply`, `pause`, `set_virtual_camera`, `load_network` and `check_backgrounds` return at
  once; the work runs on the session's control thread, in order, and the answer comes back
  through the `Listener`. Quick successive `apply` calls (a slider being dragged) collapse into
  one: only the newest settings are applied. The app's way, so its window never waits.

Frames come from the pipeline's worker thread: only the newest is kept (`take_frame`), and
`frame_ready` is called again only once the previous frame was taken, so a busy front end
drops frames instead of queueing them. Stats are reported at most every STATS_INTERVAL_S.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from segcam import sinks as sink_factory
from segcam.backgrounds import VIDEO_SUFFIXES, VideoBackground, load_image
from segcam.capture import camera_index
from segcam.errors import BackgroundError, SegcamError
from segcam.models import registry
from segcam.pipeline import Pipeline, Stats
from segcam.processor import Result
from segcam.segmenter import Segmenter
from segcam.session_vcam import VirtualCameraLink
from segcam.settings import Settings

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 0.5
_STOP = object()  # the control thread's "no more jobs"


class Listener:
    """What a session reports. Override what you need; each method may be called from the
    session's control thread or the pipeline's worker thread, never from the caller's."""

    def frame_ready(self) -> None:
        """A new Result waits in Session.take_frame()."""

    def stats_ready(self, stats: Stats) -> None:
        pass

    def guard_changed(self, reason: str | None, frame: int) -> None:
        """The privacy guard began to hold (`reason` says why) or let go (None), at this frame
        of the run (counted from 1)."""

    def applied(self, settings: Settings) -> None:
        """The pipeline now runs with these settings (the very object given to apply)."""

    def failed(self, settings: Settings, error: Exception) -> None:
        """These settings were refused; what ran before runs on."""

    def paused(self, mode: str | None) -> None:
        """The pause mode now in force, or None."""

    def vcam_started(self, description: str, hint: str = "") -> None:
        """The virtual camera runs: where frames go, and how meeting apps find it."""

    def vcam_failed(self, error: Exception) -> None:
        """The virtual camera could not start or stopped working; it is off now."""

    def vcam_stopped(self) -> None:
        pass

    def vcam_status(self, sentence: str, working: bool) -> None:
        """The running camera was lost (its PipeWire daemon went away) or is offered again; it
        stays on meanwhile, and the preview and any file go on."""

    def stopped(self, error: Exception | None) -> None:
        """The pipeline ended by itself: the error, or None for a source that ended."""

    def learned_forgotten(self, lines: list[str]) -> None:
        """forget_learned's answer: what was deleted, in sentences (none: nothing had been learned)."""

    def network_ready(self, settings: Settings) -> None:
        """The network these settings choose loaded beside the running one."""

    def network_failed(self, settings: Settings, error: Exception) -> None:
        pass

    def backgrounds_checked(self, pictures: list[str], videos: list[str], problems: list[str]) -> None:
        """check_backgrounds' answer: the usable pictures and videos (absolute paths), and a
        sentence for each file that cannot be used."""


class Session:
    def __init__(self, listener: Listener | None = None, realtime: bool = True, loop_files: bool = False,
                 overwrite: bool = False, clock=time.monotonic, learn=None):
        """`realtime`: newest frame wins (cameras, the app); False processes every frame of a file.
        `loop_files`: a video-file source plays on from its start (the app). `overwrite`: an output
        file may replace an existing one. `clock`: seconds from any fixed point (tests pass their own).
        `learn`: a segcam.learn.Request to learn the room while running (the online learner), or None."""
        self.listener = listener or Listener()
        self.learn = learn
        self.realtime = realtime
        self.loop_files = loop_files
        self.overwrite = overwrite
        self.pipeline: Pipeline | None = None
        self.pause_mode: str | None = None
        self._vcam = VirtualCameraLink(self.listener)
        self._lock = threading.Lock()  # guards the fields the worker thread writes
        self._latest: Result | None = None
        self._frame_pending = False
        self._frame_size: tuple[int, int] | None = None
        self._wanted: Settings | None = None
        self._apply_queued = False
        self._clock = clock
        # when stats were last reported; None: never. Not 0.0: a monotonic clock counts from boot,
        # and a machine booted less than an interval ago would wait out the rest of it
        self._stats_at: float | None = None
        self._guard_told: str | None = None  # the guard's hold as last reported
        self._closed = False
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None  # the control thread, started by the first request
        self._checks: list[threading.Thread] = []

    # -- in the caller's thread ------------------------------------------------------------

    def start(self, settings: Settings) -> Pipeline:
        """Open the source, load the network and the output the settings name, and run.

        Raises a SegcamError when anything the user chose cannot be used; a virtual camera
        that does not start is such an error here (the command line's way)."""
        if settings.output.target == "vcam":
            self._vcam.wanted = (settings.output.vcam_backend, settings.output.vcam_device)
        self._start(settings, vcam_required=True)
        return self.pipeline

    def stop(self) -> None:
        """Stop the pipeline and close its outputs; the session can start again."""
        self._stop_pipeline()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the pipeline to end by itself. True when no pipeline runs any more."""
        pipeline = self.pipeline
        return pipeline is None or pipeline.wait(timeout)

    def take_frame(self) -> Result | None:
        """The newest result; the next one will call frame_ready again."""
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

    @property
    def stats(self) -> Stats | None:
        pipeline = self.pipeline
        return pipeline.stats if pipeline is not None else None

    # -- requests: answered through the listener ------------------------------------------

    def apply(self, settings: Settings) -> None:
        """Run with these settings: update the running pipeline, or start one. Answers with
        applied or failed; only the newest of several quick calls is applied."""
        with self._lock:
            self._wanted = settings
            if self._apply_queued:
                return
            self._apply_queued = True
        self._submit(self._apply_latest)

    def load_network(self, settings: Settings) -> None:
        """Load the network these settings choose without touching the running pipeline.

        Answers with network_ready, after which apply(settings) switches to it from the caches
        it filled (the converted weights, the ONNX export), or network_failed."""
        self._submit(lambda: self._load_network(settings))

    def pause(self, mode: str | None) -> None:
        """Privacy pause ("freeze", "blank", "blur"), or None to resume; answers with paused."""
        self._submit(lambda: self._pause(mode))

    def set_virtual_camera(self, on: bool, backend: str | None = None, device: str | None = None) -> None:
        """Send to the virtual camera (now, or from the start of the next pipeline), or stop sending."""
        self._submit(lambda: self._vcam.set((backend, device) if on else None, self.pipeline, self.frame_size))

    def set_learning(self, request) -> None:
        """Learn the room (a segcam.learn.Request) from now on, or stop learning (None)."""
        self._submit(lambda: self._set_learning(request))

    def forget_learned(self) -> None:
        """Delete what was learned for the running source (the pipeline goes back to stock);
        answers with learned_forgotten."""
        self._submit(self._forget_learned)

    def _forget_learned(self) -> None:
        from segcam import learn

        try:
            lines = self.pipeline.forget_learned() if self.pipeline is not None else learn.forget()
        except SegcamError as exc:
            lines = [str(exc)]
        self.listener.learned_forgotten(lines)

    def _set_learning(self, request) -> None:
        self.learn = request
        if self.pipeline is not None:
            self.pipeline.set_learning(request)

    def check_backgrounds(self, paths: list[str]) -> None:
        """Find which files can be backgrounds, on a thread of their own (a large picture takes
        a while to decode); answers with backgrounds_checked. Each picture is decoded once: the
        effect, the gallery and the thumbnails take it from backgrounds' cache."""
        thread = threading.Thread(target=self._check_backgrounds, args=(list(paths),),
                                  name="segcam-check-backgrounds", daemon=True)
        self._checks = [t for t in self._checks if t.is_alive()] + [thread]
        thread.start()

    def shutdown(self) -> None:
        """Stop everything and release the camera and the virtual camera. Blocks until done."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._jobs.put(_STOP)
            self._thread.join()
        else:
            self._stop_pipeline()
        for thread in self._checks:
            thread.join(timeout=10)

    # -- the control thread -----------------------------------------------------------------

    def _submit(self, job: Callable[[], None]) -> None:
        if self._closed:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="segcam-session", daemon=True)
            self._thread.start()
        self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                break
            try:
                job()
            except Exception:  # a bug in one job must not end the control thread
                log.exception("session job failed")
        self._stop_pipeline()

    def _apply_latest(self) -> None:
        with self._lock:
            settings, self._apply_queued = self._wanted, False
        try:
            if self.running:
                self.pipeline.update(self._effective(settings))
            else:
                self._start(settings, vcam_required=False)
        except Exception as exc:
            if not isinstance(exc, SegcamError):
                log.exception("applying settings failed")
            self.listener.failed(settings, exc)
            return
        self.listener.applied(settings)

    def _effective(self, settings: Settings) -> Settings:
        """What runs: with `loop_files`, a video file as the source plays on from its start."""
        if self.loop_files and camera_index(settings.source.name) is None and not settings.source.loop:
            return settings.replace(loop=True)
        return settings

    def _load_network(self, settings: Settings) -> None:
        try:
            width, height = self.frame_size or (settings.source.width, settings.source.height)
            Segmenter(registry.resolve(settings.model.name, width, height), settings.model.device, download=False,
                      frame_size=(width, height), quality=settings.model.quality)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the old network keeps running
            if not isinstance(exc, SegcamError):
                log.exception("loading a network failed")
            self.listener.network_failed(settings, exc)
            return
        self.listener.network_ready(settings)

    def _start(self, settings: Settings, vcam_required: bool) -> None:
        self._stop_pipeline()
        settings = self._effective(settings)
        pipeline = Pipeline(settings, make_sinks=lambda w, h, fps: self._make_sinks(settings, w, h, fps, vcam_required),
                            on_result=lambda result: self._on_result(pipeline, result),
                            on_end=lambda error: self._ended(pipeline, error), realtime=self.realtime,
                            learn=self.learn)
        pipeline.pause(self.pause_mode)
        self._guard_told = None  # a new pipeline's guard is told afresh
        self.pipeline = pipeline  # before it starts: a file of a few frames may end at once
        try:
            pipeline.start()
        except BaseException:
            self.pipeline = None
            raise
        self._vcam.tell_started()

    def _make_sinks(self, settings: Settings, width: int, height: int, fps: float, vcam_required: bool) -> list:
        """The outputs of a new pipeline: a file the settings name, and the virtual camera while it is wanted."""
        made = []
        output = settings.output
        if output.is_file:
            source = settings.source
            # a looping source would need its sound looped too; cameras have none here
            sound = source.name if camera_index(source.name) is None and Path(source.name).is_file() \
                and not source.loop else None
            made += sink_factory.build(output, width, height, fps, overwrite=self.overwrite, audio_from=sound,
                                       inputs=input_files(settings))
        try:
            made += self._vcam.sinks_for(output, width, height, fps, required=vcam_required)
        except SegcamError:
            for sink in made:
                sink.mark_incomplete()  # nothing was written: an older file there stays as it was
                sink.close()
            raise
        return made

    def _stop_pipeline(self) -> None:
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:
            pipeline.stop()  # closes its sinks, the virtual camera included
        self._vcam.released()

    def _pause(self, mode: str | None) -> None:
        if self.pipeline is not None:
            self.pipeline.pause(mode)
        self.pause_mode = mode
        self.listener.paused(mode)

    def _reap(self, pipeline: Pipeline) -> None:
        if pipeline is self.pipeline:
            self._stop_pipeline()

    def _check_backgrounds(self, paths: list[str]) -> None:
        pictures, videos, problems = [], [], []
        for path in (str(Path(p).resolve()) for p in paths):
            try:
                if Path(path).suffix.lower() in VIDEO_SUFFIXES:
                    VideoBackground(path).close()
                    videos.append(path)
                else:
                    load_image(path)
                    pictures.append(path)
            except BackgroundError as exc:
                problems.append(str(exc))
        self.listener.backgrounds_checked(pictures, videos, problems)

    # -- the pipeline's worker thread ------------------------------------------------------

    def _on_result(self, pipeline: Pipeline, result: Result) -> None:
        verdict = result.guard
        holding = verdict.reason if verdict is not None and verdict.holding else None
        # told when it begins and ends, not at each new reason; a paused pipeline judges no mask
        if pipeline.pause_mode is None and (holding is None) != (self._guard_told is None):
            self._guard_told = holding
            self.listener.guard_changed(holding, pipeline.frames)
        height, width = result.output.shape[:2]
        with self._lock:
            self._latest = result
            notify, self._frame_pending = not self._frame_pending, True
            self._frame_size = (width, height)
            now = self._clock()
            stats_due = self._stats_at is None or now - self._stats_at >= STATS_INTERVAL_S
            if stats_due:
                self._stats_at = now
        if self._vcam.resize_needed(width, height):
            self._submit(lambda: self._vcam.resize(self.pipeline, self.frame_size))
        if notify:
            self.listener.frame_ready()
        if stats_due:
            self.listener.stats_ready(pipeline.stats)

    def _ended(self, pipeline: Pipeline, error: Exception | None) -> None:
        """The pipeline's run ended by itself (its source ended, or an error). With a control
        thread (the app), the session releases it there; the command line stops it itself."""
        if pipeline is not self.pipeline:  # being replaced or stopped: nobody needs to hear of it
            return
        if self._thread is not None:
            self._submit(lambda: self._reap(pipeline))
        self.listener.stopped(error)


def input_files(settings: Settings) -> list[str]:
    """The files a run reads, which its output must never overwrite."""
    files = [settings.source.name] if camera_index(settings.source.name) is None else []
    effect = settings.effect
    if effect.name == "image" and effect.background:
        files.append(effect.background)
    if effect.name == "video" and effect.background_video:
        files.append(effect.background_video)
    return files
