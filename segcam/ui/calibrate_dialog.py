"""Calibrate for my room: a guided dialog around `segcam.calibrate`.

It records the frames the window is already showing (the camera stays with the running
pipeline), then runs the calibration on a thread and reports through signals; widgets are
only touched in the GUI thread. Cancel (or closing the dialog) stops it at the next frame or
training step, and nothing is written until Keep: the previous model stays as it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QCheckBox, QDialog, QHBoxLayout, QLineEdit, QProgressBar, QPushButton,
                               QStackedWidget, QVBoxLayout, QWidget)

from segcam import calibrate
from segcam.errors import SegcamError
from segcam.models import calibrated, registry
from segcam.ui.images import bgr_to_qimage
from segcam.ui.widgets import label, restyle

INTRODUCTION = ("segcam will watch you for {seconds:g} seconds, have a slow but precise model (RVM) draw your "
                "outline on those frames, and teach the fast model what you and your room look like. It takes "
                "a few minutes; the camera keeps running meanwhile, a little slower.")
INSTRUCTIONS = "While it records, move around for {seconds:g} s: turn your head, wave, lean, stand up and sit down."
RECORD_SECONDS = 30.0
FramesProvider = Callable[[], "np.ndarray | None"]  # the newest camera frame, or None (none yet, or paused)


class _Worker(QObject):
    """Runs label, train and check on a thread; reports with signals."""

    progress = Signal(str, float, str)  # stage, fraction of it, message
    finished = Signal(object)  # a calibrate.Calibration, or the SegcamError that stopped it

    def __init__(self, recording: calibrate.Recording, options: dict):
        super().__init__()
        self.recording, self.options = recording, options
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="segcam-calibration", daemon=True)

    def _run(self) -> None:
        try:
            outcome = calibrate.calibrate(self.recording, progress=self.progress.emit, cancelled=self.cancel.is_set,
                                          **self.options)
        except SegcamError as exc:
            outcome = exc
        except Exception as exc:  # noqa: BLE001 - shown in the dialog rather than lost in a thread
            outcome = SegcamError(f"The calibration failed unexpectedly: {exc}")
        self.finished.emit(outcome)


class CalibrationDialog(QDialog):
    """Introduction -> recording and working (progress, Cancel) -> the result (Keep / Discard)."""

    kept = Signal(str, bool)  # the kept model's name, and whether to use it now

    def __init__(self, source: str, frames: FramesProvider, parent: QWidget | None = None,
                 seconds: float | None = None, options: dict | None = None):
        super().__init__(parent)
        self.setWindowTitle("Calibrate for my room")
        self.setMinimumWidth(560)
        self.source, self.frames = source, frames
        self.seconds = seconds = seconds if seconds is not None else RECORD_SECONDS
        self.options = dict(options or {})  # passed on to calibrate.calibrate (device, budget_s, ...)
        self.recording: calibrate.Recording | None = None
        self.result: calibrate.Calibration | None = None
        self._worker: _Worker | None = None
        self._started = 0.0
        self._last_frame: np.ndarray | None = None
        self._recorder = QTimer(self, interval=max(10, round(1000 * min(seconds / calibrate.MAX_FRAMES, 1 / 30))),
                                timeout=self._record_frame)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 22, 24, 20)
        layout.setSpacing(12)
        self.pages = QStackedWidget()
        self.pages.addWidget(self._introduction_page())
        self.pages.addWidget(self._progress_page())
        self.pages.addWidget(self._result_page())
        layout.addWidget(self.pages)

    # -- pages ----------------------------------------------------------------------------------

    def _introduction_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label("Calibrate for my room", "heading"))
        layout.addWidget(label(INTRODUCTION.format(seconds=self.seconds), "hint", wrap=True))
        self.instructions = label(INSTRUCTIONS.format(seconds=self.seconds), wrap=True)
        layout.addWidget(self.instructions)
        self.teacher_note = label("", "hint", wrap=True)
        layout.addWidget(self.teacher_note)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        close = QPushButton("Not now")
        close.clicked.connect(self.reject)
        self.start_button = QPushButton("Start recording")
        self.start_button.setProperty("role", "primary")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        buttons.addWidget(close)
        buttons.addWidget(self.start_button)
        layout.addStretch(1)
        layout.addLayout(buttons)
        if not registry.get(calibrate.TEACHER).installed():
            self.teacher_note.setText("RVM is not on this computer yet: Start downloads it first "
                                      f"({registry.get(calibrate.TEACHER).weights.download_size}).")
        return page

    def _progress_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stage_label = label("", "heading")
        layout.addWidget(self.stage_label)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        layout.addWidget(self.bar)
        self.status = label("", "hint", wrap=True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop; the models you have stay as they are")
        self.cancel_button.clicked.connect(self.reject)
        buttons.addWidget(self.cancel_button)
        layout.addStretch(1)
        layout.addLayout(buttons)
        return page

    def _result_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.verdict = label("", "heading", wrap=True)
        layout.addWidget(self.verdict)
        self.figures = label("", "hint", wrap=True)
        layout.addWidget(self.figures)
        self.picture = label()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.picture, 1)
        self.name_row = QWidget()
        row = QHBoxLayout(self.name_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label("Name"))
        self.name = QLineEdit()
        self.name.textChanged.connect(self._name_changed)
        row.addWidget(self.name, 1)
        self.use_now = QCheckBox("Use it now")
        self.use_now.setChecked(True)
        row.addWidget(self.use_now)
        layout.addWidget(self.name_row)
        self.keep_status = label("", "hint", wrap=True)
        layout.addWidget(self.keep_status)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.discard_button = QPushButton("Discard")
        self.discard_button.clicked.connect(self.reject)
        self.keep_button = QPushButton("Keep")
        self.keep_button.setProperty("role", "primary")
        self.keep_button.clicked.connect(self.keep)
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.keep_button)
        layout.addLayout(buttons)
        return page

    # -- recording (GUI thread, from a timer) ------------------------------------------------

    def start(self) -> None:
        teacher = registry.get(calibrate.TEACHER)
        if not teacher.installed():
            from segcam.ui.weights_dialog import WeightsDialog

            dialog = WeightsDialog(calibrate.TEACHER, self)
            dialog.accepted.connect(self.start)
            dialog.open()
            return
        self.recording = calibrate.Recording.for_seconds(self.source, self.seconds)
        self.pages.setCurrentIndex(1)
        self.stage_label.setText("Recording: move around")
        self.status.setText(INSTRUCTIONS.format(seconds=self.seconds))
        self._started = time.monotonic()
        self._recorder.start()

    def _record_frame(self) -> None:
        elapsed = time.monotonic() - self._started
        if elapsed >= self.seconds:
            self._recorder.stop()
            self._work()
            return
        frame = self.frames()
        if frame is not None and frame is not self._last_frame:
            self._last_frame = frame
            self.recording.add(frame, elapsed)
        self._show_progress("record", elapsed / self.seconds,
                            f"{self.seconds - elapsed:.0f} s to go; {len(self.recording.frames)} different frames so "
                            "far. " + INSTRUCTIONS.format(seconds=self.seconds))

    # -- working (a thread; signals back here) -------------------------------------------------

    def _work(self) -> None:
        self._last_frame = None
        self._worker = _Worker(self.recording, self.options)
        self._worker.progress.connect(self._show_progress)
        self._worker.finished.connect(self._finished)
        self._worker.thread.start()

    def _show_progress(self, stage: str, fraction: float, message: str) -> None:
        titles = {name: text for name, _, text in calibrate.STAGES}
        self.stage_label.setText(titles.get(stage, stage))
        self.bar.setValue(round(1000 * calibrate.overall(stage, fraction)))
        if stage != "record":
            self.status.setText(message)

    def _finished(self, outcome) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.thread.join(timeout=5)
        if isinstance(outcome, calibrate.Cancelled) or not self.isVisible():
            return  # closed meanwhile: nothing to show, nothing was written
        if isinstance(outcome, Exception):
            self.stage_label.setText("Calibration failed")
            self.status.setText(f"{outcome} Nothing was changed.")
            self.status.setProperty("state", "error")
            restyle(self.status)
            self.cancel_button.setText("Close")
            return
        self.result = outcome
        self._show_result(outcome)

    # -- the result ----------------------------------------------------------------------------

    def _show_result(self, result: calibrate.Calibration) -> None:
        self.pages.setCurrentIndex(2)
        held = result.frames.get("held_back", 0)
        self.figures.setText(f"On {held} frames held back from training, agreement with RVM (IoU, 1 = the same "
                             f"outline): stock {result.stock} {result.stock_iou:.3f}, calibrated "
                             f"{result.calibrated_iou:.3f}. Took {sum(result.seconds.values()):.0f} s.")
        if result.picture is not None:
            pixmap = QPixmap.fromImage(bgr_to_qimage(result.picture))
            self.picture.setPixmap(pixmap.scaledToWidth(min(640, pixmap.width()),
                                                        Qt.TransformationMode.SmoothTransformation))
        if result.better:
            self.verdict.setText("The calibrated model follows you better than the stock one.")
            self.name.setText(calibrate.free_name())
        else:
            self.verdict.setText("The calibrated model is not better than the stock one here, so it is not "
                                 "offered. Try again with more movement, or in steadier light.")
            self.discard_button.setText("Close")
        self.name_row.setVisible(result.better)
        self.keep_button.setVisible(result.better)

    def _name_changed(self, name: str) -> None:
        try:
            calibrate.check_free(name)
            self.keep_button.setText("Keep")
            self._set_keep_status("")
        except SegcamError as exc:
            exists = bool(calibrated.NAME_PATTERN.fullmatch(name)) and calibrated.path_for(name).exists()
            self.keep_button.setText(f"Replace {name}" if exists else "Keep")
            self._set_keep_status("" if exists else str(exc), error=not exists)

    def keep(self) -> None:
        name = self.name.text().strip()
        try:
            calibrate.keep(self.result, name, overwrite=True)  # the button said Replace when it replaces
        except SegcamError as exc:
            self._set_keep_status(str(exc), error=True)
            return
        self.kept.emit(name, self.use_now.isChecked())
        self.accept()

    def _set_keep_status(self, text: str, error: bool = False) -> None:
        self.keep_status.setText(text)
        self.keep_status.setProperty("state", "error" if error else "")
        restyle(self.keep_status)

    # -- leaving -------------------------------------------------------------------------------

    def reject(self) -> None:
        """Cancel, Discard, Close, Esc or the window's close button: stop whatever runs; write nothing."""
        self._recorder.stop()
        if self._worker is not None:
            self._worker.cancel.set()  # the thread ends at its next frame or step; its answer is ignored
        super().reject()
