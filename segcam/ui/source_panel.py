"""Where frames come from: a camera found on the system or a video file, at a size and frame rate."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QToolButton, QWidget

from segcam.capture import camera_index
from segcam.settings import Settings
from segcam.ui import icons
from segcam.ui.widgets import Card, compact_combo, form

SIZES = ((640, 360), (960, 540), (1280, 720), (1920, 1080))
RATES = (15.0, 24.0, 30.0, 60.0)
OPEN_FILE = "__open_file__"  # the combo entry that asks for a video file


class SourcePanel(Card):
    source_chosen = Signal(str)
    open_file_requested = Signal()
    refresh_requested = Signal()
    size_chosen = Signal(int, int)
    fps_chosen = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Camera", parent)
        self.source = compact_combo()
        self.source.setAccessibleName("Camera")
        self.refresh = QToolButton()
        self.refresh.setIcon(icons.icon("refresh"))
        self.refresh.setToolTip("Look for cameras again (F5)")
        self.refresh.clicked.connect(self.refresh_requested)
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.source, 1)
        row.addWidget(self.refresh)
        self.body.addLayout(row)

        self.size = compact_combo()
        self.fps = compact_combo()
        self.body.addLayout(form(("Resolution", self.size), ("Frame rate", self.fps)))

        self.source.activated.connect(self._source_activated)
        self.size.activated.connect(lambda i: self.size_chosen.emit(*self.size.itemData(i)))
        self.fps.activated.connect(lambda i: self.fps_chosen.emit(self.fps.itemData(i)))
        self._cameras: list[int] = []
        self._searched = False  # until the first search for cameras has finished
        self._shown: tuple | None = None
        self._settings = Settings()

    def set_cameras(self, cameras: list[int]) -> None:
        self._cameras, self._searched, self._shown = list(cameras), True, None
        self.show_settings(self._settings)

    def show_settings(self, settings: Settings) -> None:
        source = settings.source
        shown = (source.name, source.width, source.height, source.fps, tuple(self._cameras))
        if shown == self._shown:
            return  # nothing here changed (e.g. a slider elsewhere moved): leave the combos alone
        self._shown = shown
        self._settings = settings
        current = source.name
        self.source.clear()
        index = camera_index(current)
        # the camera in use is listed even if the last search missed it
        for camera in sorted(set(self._cameras) | ({index} if index is not None else set())):
            missing = self._searched and camera not in self._cameras
            self.source.addItem(icons.icon("camera"), f"Camera {camera}" + (" (not found)" if missing else ""),
                                str(camera))
        if index is None:
            self.source.addItem(icons.icon("folder"), Path(current).name, current)
            self.source.setItemData(self.source.count() - 1, current, Qt.ItemDataRole.ToolTipRole)
        self.source.insertSeparator(self.source.count())
        self.source.addItem(icons.icon("folder"), "Open video file…", OPEN_FILE)
        self.source.setCurrentIndex(self.source.findData(current))

        is_file = index is None
        _fill(self.size, [(f"{w} × {h}", (w, h)) for w, h in SIZES], (source.width, source.height),
              lambda v: f"{v[0]} × {v[1]}")
        _fill(self.fps, [(f"{r:g} fps", r) for r in RATES], float(source.fps), lambda v: f"{v:g} fps")
        for combo, own in ((self.size, "The video's own"), (self.fps, "The video's own")):
            if is_file:  # a file plays at its own size and rate; the camera values wait for a camera
                combo.clear()
                combo.addItem(own)
            combo.setEnabled(not is_file)
            combo.setToolTip("A video file plays at its own size and rate" if is_file else "")

    def _source_activated(self, i: int) -> None:
        data = self.source.itemData(i)
        if data == OPEN_FILE:
            self.source.setCurrentIndex(self.source.findData(self._settings.source.name))
            self.open_file_requested.emit()
        elif data is not None and data != self._settings.source.name:
            self.source_chosen.emit(data)


def _fill(combo: QComboBox, items: list, current, describe) -> None:
    """Fill a combo with the usual choices plus the current value if it is not one of them."""
    combo.clear()
    values = [value for _, value in items]
    if current not in values:
        items = sorted(items + [(describe(current), current)], key=lambda item: item[1])
    for text, value in items:
        combo.addItem(text, value)
    combo.setCurrentIndex([value for _, value in items].index(current))
