"""The row of effect buttons, each showing a live thumbnail of what it would look like.

The thumbnails are the engine's own Compositor run on a small copy of the latest frame and
mask, a few times a second, so each button previews exactly what choosing it gives.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QSizePolicy, QToolButton, QWidget

from segcam.effects import Compositor
from segcam.errors import SegcamError
from segcam.settings import EFFECTS, GREEN, Settings
from segcam.ui import theme
from segcam.ui.images import cover, thumbnail_pixmap

THUMB = QSize(128, 72)
LABELS = {"none": "None", "blur": "Blur", "image": "Image", "video": "Video", "splash": "Colour splash",
          "solid": "Green screen"}
HINTS = {
    "none": "Your camera as it is",
    "blur": "Blur the room behind you",
    "image": "Replace the room with a picture",
    "video": "Replace the room with a looping video",
    "splash": "Keep your colours, turn the room grey",
    "solid": "One flat colour, for chroma keying in OBS",
}


def effect_label(effect: str, settings: Settings) -> str:
    if effect == "solid" and tuple(settings.color) != GREEN:
        return "Solid colour"
    return LABELS[effect]


class EffectThumbnails:
    """One small Compositor per effect, rebuilt only when that effect's settings change."""

    def __init__(self):
        self._compositors: dict[str, tuple[tuple, Compositor | None]] = {}

    def render(self, frame: np.ndarray, alpha: np.ndarray, settings: Settings,
               fallback_background: str = "") -> dict[str, np.ndarray | None]:
        """Thumbnail-sized BGR pictures per effect; None where the effect has nothing to show yet."""
        small = cover(frame, THUMB.width(), THUMB.height())
        small_alpha = cover(alpha, THUMB.width(), THUMB.height())
        pictures = {}
        for effect in EFFECTS:
            compositor = self._compositor(effect, settings, fallback_background)
            try:
                pictures[effect] = None if compositor is None else compositor.compose(small, small_alpha)
            except SegcamError:  # e.g. a background video that stopped playing
                pictures[effect] = None
        return pictures

    def _compositor(self, effect: str, settings: Settings, fallback_background: str) -> Compositor | None:
        wanted = settings.replace(effect=effect, mirror=False,
                                  background=settings.background or fallback_background)
        key = {"blur": (wanted.blur_strength,), "image": (wanted.background,),
               "video": (wanted.background_video,), "splash": (wanted.splash_strength,),
               "solid": (tuple(wanted.color),)}.get(effect, ())
        cached = self._compositors.get(effect)
        if cached is not None and cached[0] == key:
            return cached[1]
        if cached is not None and cached[1] is not None:
            cached[1].close()
        try:
            compositor = Compositor(wanted)
        except SegcamError:  # no background chosen yet, or it does not load
            compositor = None
        self._compositors[effect] = (key, compositor)
        return compositor

    def close(self) -> None:
        for _, compositor in self._compositors.values():
            if compositor is not None:
                compositor.close()
        self._compositors.clear()


def _placeholder(text: str) -> QPixmap:
    pixmap = QPixmap(THUMB)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#262a33"))
    painter.drawRoundedRect(0, 0, THUMB.width(), THUMB.height(), 8, 8)
    painter.setPen(QColor(theme.TEXT_DIM))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap


class EffectBar(QWidget):
    chosen = Signal(str)  # the user picked an effect

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for effect in EFFECTS:
            button = QToolButton()
            button.setProperty("role", "effect")
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setIconSize(THUMB)
            button.setText(LABELS[effect])
            button.setToolTip(HINTS[effect])
            button.setIcon(QIcon(_placeholder("…" if effect != "video" else "Choose a video")))
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(lambda _=False, e=effect: self.chosen.emit(e))
            self.group.addButton(button)
            layout.addWidget(button)
            self.buttons[effect] = button

    def set_effect(self, effect: str, settings: Settings) -> None:
        self.buttons[effect].setChecked(True)
        self.buttons["solid"].setText(effect_label("solid", settings))

    def set_thumbnails(self, pictures: dict[str, np.ndarray | None]) -> None:
        for effect, picture in pictures.items():
            if picture is None:
                pixmap = _placeholder("Choose a video" if effect == "video" else "Choose a picture")
            else:
                pixmap = thumbnail_pixmap(picture, THUMB)
            self.buttons[effect].setIcon(QIcon(pixmap))
