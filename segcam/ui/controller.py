"""The bridge between the session and the GUI thread: the session's callbacks as Qt signals.

All the running state (which pipeline runs, pause, the virtual camera, the newest frame) is
segcam.session's, which does the blocking work on its own threads; this adapter only turns
what it reports into signals, which Qt delivers in the GUI thread. Widgets are never touched
from the session's threads.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from segcam.session import Listener, Session
from segcam.settings import Settings


class PipelineController(QObject):
    frame_ready = Signal()  # a new Result waits in take_frame()
    stats_ready = Signal(object)  # pipeline.Stats
    applied = Signal(object)  # the Settings the pipeline now runs with
    failed = Signal(object, object)  # (Settings that were refused, the error)
    paused = Signal(object)  # the pause mode now in force, or None
    vcam_started = Signal(str, str)  # the virtual camera's description, how meeting apps find it
    vcam_failed = Signal(object)  # VirtualCameraError, saying what to do (the switch is off again)
    vcam_stopped = Signal()
    vcam_status = Signal(str, bool)  # the running camera lost (False) or offered again (True), in a sentence
    stopped = Signal(object)  # the pipeline ended by itself: the error, or None for a finished file
    network_ready = Signal(object)  # Settings whose network loaded beside the running one
    network_failed = Signal(object, object)  # (those Settings, the error); the running pipeline is untouched
    backgrounds_checked = Signal(list, list, list)  # usable pictures, usable videos, problems in words
    learned_forgotten = Signal(list)  # sentences on what was deleted

    def __init__(self, realtime: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        # a video file as a camera plays on, rather than stopping after its last frame
        self.session = Session(_Relay(self), realtime=realtime, loop_files=True)
        self.apply = self.session.apply
        self.load_network = self.session.load_network
        self.pause = self.session.pause
        self.set_virtual_camera = self.session.set_virtual_camera
        self.check_backgrounds = self.session.check_backgrounds
        self.take_frame = self.session.take_frame  # -> Result | None
        self.shutdown = self.session.shutdown
        self.set_learning = self.session.set_learning  # a segcam.learn.Request, or None
        self.forget_learned = self.session.forget_learned

    @property
    def pipeline(self):
        return self.session.pipeline

    @property
    def pause_mode(self) -> str | None:
        return self.session.pause_mode

    @property
    def frame_size(self) -> tuple[int, int] | None:
        return self.session.frame_size

    @property
    def running(self) -> bool:
        return self.session.running


class _Relay(Listener):
    """The session's listener: each report becomes the controller's signal."""

    def __init__(self, controller: PipelineController):
        self.c = controller

    def frame_ready(self) -> None:
        self.c.frame_ready.emit()

    def stats_ready(self, stats) -> None:
        self.c.stats_ready.emit(stats)

    def applied(self, settings: Settings) -> None:
        self.c.applied.emit(settings)

    def failed(self, settings: Settings, error: Exception) -> None:
        self.c.failed.emit(settings, error)

    def paused(self, mode: str | None) -> None:
        self.c.paused.emit(mode)

    def learned_forgotten(self, lines: list[str]) -> None:
        self.c.learned_forgotten.emit(lines)

    def vcam_started(self, description: str, hint: str = "") -> None:
        self.c.vcam_started.emit(description, hint)

    def vcam_failed(self, error: Exception) -> None:
        self.c.vcam_failed.emit(error)

    def vcam_stopped(self) -> None:
        self.c.vcam_stopped.emit()

    def vcam_status(self, sentence: str, working: bool) -> None:
        self.c.vcam_status.emit(sentence, working)

    def stopped(self, error: Exception | None) -> None:
        self.c.stopped.emit(error)

    def network_ready(self, settings: Settings) -> None:
        self.c.network_ready.emit(settings)

    def network_failed(self, settings: Settings, error: Exception) -> None:
        self.c.network_failed.emit(settings, error)

    def backgrounds_checked(self, pictures: list[str], videos: list[str], problems: list[str]) -> None:
        self.c.backgrounds_checked.emit(pictures, videos, problems)
