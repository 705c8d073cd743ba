"""The status bar: the source and how the pipeline keeps up (frame rate, time per frame, latency, model)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from segcam.capture import camera_index
from segcam.ui.widgets import ElidedLabel

PAUSED_SENDING = {"freeze": "a frozen frame", "blank": "a blank frame", "blur": "a blurred frame"}
# skipped frames are said only when they matter: a few now and then are how a live camera keeps up
SKIPPED_WORTH_SAYING = 0.05


class StatsBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        # what matters most comes first (the privacy guard, frames skipped), so that the source's
        # name, last, is what a narrow window shortens, rather than the window widening
        self.source_status = ElidedLabel("", elide=Qt.TextElideMode.ElideRight)
        self.fps_label = QLabel("— fps")
        self.ms_label = QLabel("— ms per frame")
        self.latency_label = QLabel("— ms latency")
        self.device_label = ElidedLabel("", elide=Qt.TextElideMode.ElideRight)
        self.device_label.setMaximumWidth(260)
        # the online learner, quietly: "Learning your room: 3 min; agreement with RVM 0.81 -> 0.92"
        self.learning_label = ElidedLabel("", elide=Qt.TextElideMode.ElideRight)
        self.learning_label.setMaximumWidth(360)
        self.learning_label.hide()
        self.addWidget(self.source_status, 1)
        self.addPermanentWidget(self.learning_label)
        for widget in (self.fps_label, self.ms_label, self.latency_label, self.device_label):
            self.addPermanentWidget(widget)
        self._shown: tuple | None = None  # the last (stats, source), to show again when the pause changes
        self._paused: str | None = None

    def show_stats(self, stats, source: str, paused: str | None = None, learning_chosen: bool = False) -> None:
        """stats: the controller's pipeline.Stats; source: the camera index or video file it comes from;
        paused: the pause mode in force, or None; learning_chosen: the user turned learning on (so
        why it is off is worth a word; by default it stays quiet)."""
        self._shown, self._paused = (stats, source), paused
        learning = getattr(stats, "learning", "")
        shown = learning if learning and (learning_chosen or not learning.startswith("Learning is off")) else ""
        self.learning_label.setText(shown)
        self.learning_label.setToolTip(learning)
        self.learning_label.setVisible(bool(shown))
        self.fps_label.setText(f"{stats.fps:.1f} fps")
        if paused:  # the network does not run; what is sent is the pause picture
            self.ms_label.setText("network paused")
        else:
            self.ms_label.setText(f"{stats.ms_per_frame:.1f} ms per frame")
        self.latency_label.setText(f"{stats.latency_ms:.0f} ms latency")
        device = {"cpu": "CPU", "cuda": "GPU", "mps": "Apple GPU"}.get(stats.device, stats.device)
        self.device_label.setText(f"{stats.model} on {device}")
        self.device_label.setToolTip(stats.model_reason)
        name = f"Camera {source}" if camera_index(source) is not None else Path(source).name
        if paused:
            self.source_status.setText(f"Paused, sending {PAUSED_SENDING.get(paused, 'the pause picture')} · {name}")
            return
        first = []
        if stats.guard:  # what is sent is the guard's safe frame: say so, and why
            first.append(f"Privacy guard holding ({stats.guard}): the room is hidden")
        if stats.skipped >= SKIPPED_WORTH_SAYING:
            first.append(f"skipping {stats.skipped:.0%} of frames to keep up")
        self.source_status.setText(" · ".join([*first, f"{name}: {stats.source_status}"]))

    def set_paused(self, paused: str | None) -> None:
        """Say so at once when the pause changes, without waiting for the next stats."""
        if self._shown is not None and paused != self._paused:
            self.show_stats(*self._shown, paused)
