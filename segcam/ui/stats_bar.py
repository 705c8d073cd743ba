"""The status bar: the source and how the pipeline keeps up (frame rate, time per frame, latency, model)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from segcam.capture import camera_index


class StatsBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.source_status = QLabel("")
        self.fps_label = QLabel("— fps")
        self.ms_label = QLabel("— ms per frame")
        self.latency_label = QLabel("— ms latency")
        self.device_label = QLabel("")
        self.addWidget(self.source_status, 1)
        for widget in (self.fps_label, self.ms_label, self.latency_label, self.device_label):
            self.addPermanentWidget(widget)

    def show_stats(self, stats, source: str) -> None:
        """stats: the controller's pipeline.Stats; source: the camera index or video file it comes from."""
        self.fps_label.setText(f"{stats.fps:.1f} fps")
        self.ms_label.setText(f"{stats.ms_per_frame:.1f} ms per frame")
        self.latency_label.setText(f"{stats.latency_ms:.0f} ms latency")
        device = {"cpu": "CPU", "cuda": "GPU", "mps": "Apple GPU"}.get(stats.device, stats.device)
        self.device_label.setText(f"{stats.model} on {device}")
        name = f"Camera {source}" if camera_index(source) is not None else Path(source).name
        dropped = (f" · {stats.dropped} frame{'s' if stats.dropped != 1 else ''} skipped to keep up"
                   if stats.dropped else "")
        self.source_status.setText(f"{name}: {stats.source_status}{dropped}")
